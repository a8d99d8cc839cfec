"""``interrupt(value)``: pause the run from inside a node and wait for a resume value."""

from __future__ import annotations

import hashlib
from typing import Any

from ._context import current_task_context
from .errors import GraphInterrupt

__all__ = ["interrupt", "interrupt_id"]


def interrupt_id(namespace: tuple[str, ...], index: int) -> str:
    """A stable 32-hex-digit id for the ``index``-th interrupt of the task at ``namespace``."""
    key = "|".join(namespace) + (f"|{index}" if index else "")
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def interrupt(value: Any) -> Any:
    """Pause the run and surface ``value`` to the caller.

    The first time a node reaches this call the run stops and reports
    ``Interrupt(value, id)``. Resuming the thread with ``Command(resume=answer)`` runs
    the node again from its start; this call then returns ``answer``. The n-th call in
    a node returns the n-th resume value. Resuming needs a checkpointer.
    """
    from .types import Interrupt

    ctx = current_task_context()
    if ctx is None:
        raise RuntimeError(
            "Called interrupt outside of a runnable context: call interrupt() from a node "
            "(or code a node calls) while the graph runs"
        )
    index = ctx.interrupt_count
    ctx.interrupt_count = index + 1
    if index < len(ctx.resume):
        return ctx.resume[index]
    raise GraphInterrupt([Interrupt(value=value, id=interrupt_id(ctx.namespace, index))])
