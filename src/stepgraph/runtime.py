"""``Runtime``: run-scoped context handed to nodes that declare a ``runtime`` parameter."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs

from ._context import current_task_context
from .types import StreamWriter

__all__ = ["Runtime", "get_runtime"]

ContextT = TypeVar("ContextT")


def _no_writer(_: Any) -> None:
    return None


@attrs.frozen(kw_only=True)
class Runtime(Generic[ContextT]):
    """Run-scoped values: the ``context`` given to ``invoke(..., context=...)``, the
    store, the custom-stream writer and the previous return value (functional API)."""

    context: ContextT = None  # type: ignore[assignment]
    store: Any = None
    stream_writer: StreamWriter = _no_writer
    previous: Any = None


def get_runtime(context_schema: type[ContextT] | None = None) -> Runtime[ContextT]:
    """The running task's :class:`Runtime`; raises outside a run."""
    ctx = current_task_context()
    if ctx is None:
        raise RuntimeError(
            "Called get_runtime outside of a runnable context: call it from a node while "
            "the graph runs, or declare a `runtime` parameter on the node."
        )
    runtime: Runtime[ContextT] = ctx.runtime
    return runtime
