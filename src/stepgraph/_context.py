"""The one ContextVar behind ``get_config()``, ``get_stream_writer()``, ``interrupt()``.

The engine passes config, writer and runtime to nodes explicitly; this variable exists
only for LangGraph's ambient accessors. Each task sets it as its own first action —
inside the spawned task, never before spawning — so it is visible on Python 3.10
asyncio, on trio, in worker threads (anyio copies the context) and in tasks the node
itself starts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._writer import Emitter

__all__ = ["TaskContext", "current_task_context", "task_context_var"]


@attrs.define(eq=False)
class TaskContext:
    """What a running task knows about itself and its run (private to the engine)."""

    config: dict[str, Any]
    """The task's config (``configurable``, ``metadata``, ``tags``, …)."""
    writer: Any
    """The custom-stream writer bound to this task's namespace."""
    runtime: Any
    """The :class:`stepgraph.runtime.Runtime` given to the task."""
    emitter: Emitter
    """Where this run's events go."""
    namespace: tuple[str, ...]
    """Checkpoint namespace of the task itself: ``(..., "node:<task_id>")``."""
    task_id: str
    node: str
    step: int
    triggers: tuple[str, ...]
    path: tuple[Any, ...]
    loop_thread: int
    token: Any
    """The anyio event-loop token, to get back to the loop from other threads."""
    resume: Sequence[Any] = ()
    """Resume values for this task's ``interrupt()`` calls, in call order (read only)."""
    resume_map: Mapping[str, Any] = attrs.field(factory=lambda: _NO_RESUME)
    """This resume's values by interrupt id (how nested graphs find theirs; read only)."""
    nested_calls: Iterator[int] = attrs.Factory(itertools.count)
    """Numbers the graph runs this task starts: the n-th (n >= 1) saves and streams under
    ``(*namespace, str(n))`` (as LangGraph), so two calls never share checkpoints.
    (Shared by an ``attrs.evolve`` copy of the context.)"""
    resuming: bool = False
    """The task paused before and runs again: a nested graph continues where it paused."""
    interrupt_count: int = 0
    checkpointer: Any = None
    """The run's checkpointer, inherited by graphs invoked inside the node."""
    checkpoint_map: Mapping[str, str] = attrs.Factory(dict)
    """Namespace → checkpoint id of every enclosing graph the task runs from (its own
    graph's included): nested graphs record it as their checkpoints' ``parents``. Shared
    by the tasks of a step: read only."""
    stream_subgraphs: bool = False
    """Whether nested graphs' output reaches the consumer."""
    cancel_scope: Any = None
    """The run's cancel scope: nested graphs started inside the node stop with it."""
    writer_ns: tuple[str, ...] = ()
    """Namespace of the graph this task belongs to (what its stream chunks carry)."""
    lc_config: Any = None
    """The config langchain-core sees inside this task (with the messages callback)."""
    driver: Any = None
    """The sync API's driver when its loop runs the task (see ``RunInfo.driver``)."""


_NO_RESUME: Mapping[str, Any] = MappingProxyType({})


task_context_var: ContextVar[TaskContext | None] = ContextVar("stepgraph_task", default=None)


def current_task_context() -> TaskContext | None:
    """The running task's context, or None outside a run."""
    return task_context_var.get()
