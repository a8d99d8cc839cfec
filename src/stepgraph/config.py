"""Config passed through a run, and the ambient accessors nodes may call."""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict

from ._context import current_task_context
from .types import StreamWriter

__all__ = ["RunnableConfig", "get_config", "get_stream_writer"]


class RunnableConfig(TypedDict, total=False):
    """LangChain-compatible run configuration (a plain dict at run time)."""

    tags: list[str]
    metadata: dict[str, Any]
    callbacks: Any
    run_name: str
    max_concurrency: int | None
    recursion_limit: int
    configurable: dict[str, Any]
    run_id: Any


def _outside(name: str) -> RuntimeError:
    return RuntimeError(
        f"Called {name} outside of a runnable context: it works only inside a node (or "
        "code a node calls) while the graph runs. Outside a run, pass what you need "
        "explicitly; inside a node you can also declare a `config` or `writer` parameter."
    )


def get_config() -> RunnableConfig:
    """The config of the task that is running (works in every node, sync or async,
    on trio and asyncio, on every supported Python)."""
    ctx = current_task_context()
    if ctx is None:
        raise _outside("get_config")
    config: RunnableConfig = ctx.config  # type: ignore[assignment]
    return config


def get_stream_writer() -> StreamWriter:
    """The running task's ``custom``-mode writer: ``get_stream_writer()(data)``.

    It is a no-op when the caller did not ask for ``"custom"``; outside a run it raises.
    """
    ctx = current_task_context()
    if ctx is None:
        raise _outside("get_stream_writer")
    writer: StreamWriter = ctx.writer
    return writer
