"""The sync API's fast path for a subgraph that runs beside sibling tasks.

Under the sync API's private loop (:class:`stepgraph._sync.Driver`) a lone sync node
runs inline, but the nodes of a subgraph whose host task has siblings (a fan-out of
``Send`` packets to a subgraph node) would each take a worker-thread round trip. When
the subgraph can run entirely synchronously, :func:`run_offloaded` instead runs the
whole nested run in ONE worker-thread call, on that thread's own private driver, where
its lone sync nodes run inline (what LangGraph's sync API does with a ``Send`` task).

:func:`offload_driver` says when: only under a driver, only for a task with siblings,
only when nothing of the nested run would reach the consumer or a checkpointer, and
only for graphs whose every node and router (nested subgraphs included) is a plain sync
function that starts no graph of its own. Everything else takes the usual path.
"""

from __future__ import annotations

import asyncio
import contextvars
from functools import partial
from threading import Event, Lock
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import anyio

from ._loop import run_nested
from ._subgraphs import _reachable as reachable
from ._sync import Driver, alone, inline_driver, thread_driver

if TYPE_CHECKING:
    from ._compiled import CompiledStateGraph
    from ._context import TaskContext

__all__ = ["offload_driver", "run_offloaded"]


def offload_driver(
    graph: CompiledStateGraph[Any, Any, Any, Any], ctx: TaskContext
) -> Driver | None:
    """The driver to run ``graph`` (the subgraph of the task ``ctx``) in one worker
    thread with, or None when the nested run must take the usual path.

    The usual path is kept for a task alone in its step (its sync nodes run inline
    already), for any stream that shows subgraph, ``custom`` or ``messages`` output, for
    a nested run with a checkpointer or a store, for a resumed task, and for graphs
    that are not entirely synchronous.
    """
    if alone.get() or ctx.stream_subgraphs or ctx.resuming or ctx.resume_map:
        return None
    driver = inline_driver()
    if driver is None or asyncio._get_running_loop() is not driver.loop:
        return None  # (not the driver's loop: a loop started inside a node inlined there)
    wants = ctx.emitter.wants
    if "custom" in wants or "messages" in wants:
        return None
    saver = graph.checkpointer
    if saver is None:
        saver = ctx.checkpointer
    if saver is not None and saver is not False:
        return None
    return driver if _runs_sync(graph) else None


async def run_offloaded(
    driver: Driver,
    graph: CompiledStateGraph[Any, Any, Any, Any],
    value: Any,
    ctx: TaskContext,
) -> Any:
    """Run ``graph`` nested in the task ``ctx`` in one of ``driver``'s worker threads;
    return what :func:`stepgraph._loop.run_nested` returns (or raise what it raises).

    Cancelled, it stops the nested run before its next node or router call (a sync
    call under way cannot be interrupted), waits for the worker to return, and then lets
    the cancellation through.
    """
    returns = _returns.get(driver)
    if returns is None:
        returns = _returns[driver] = _Returns(driver.loop)
    job = _Job(driver.loop.create_future())
    work = partial(_work, job, returns, graph, value, ctx)
    driver.executor().submit(contextvars.copy_context().run, work)
    try:
        return await job.waiter
    except asyncio.CancelledError:
        job.stop.set()
        with anyio.CancelScope(shield=True):
            if not job.done:
                job.waiter = driver.loop.create_future()
                await job.waiter  # (the stopped run's outcome is moot)
        raise


class _Job:
    """One offloaded run: its stop signal, outcome, and who waits for it (private)."""

    __slots__ = ("done", "error", "result", "stop", "waiter")

    def __init__(self, waiter: asyncio.Future[Any]) -> None:
        self.waiter = waiter
        """Resolved on the loop thread when the run is over (replaced when cancelled)."""
        self.stop = Event()
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def finish(self) -> None:
        """On the loop thread: hand the outcome to whoever waits (if anyone still does)."""
        self.done = True
        waiter = self.waiter
        if waiter.done():  # its task was cancelled: run_offloaded waits on a new one
            return
        error, self.error = self.error, None  # (no reference cycle through the traceback)
        if error is None or self.stop.is_set():  # a stopped run's error is moot
            waiter.set_result(self.result)
        else:
            waiter.set_exception(error)


class _Returns:
    """Brings the outcomes of offloaded runs back to a driver's loop: one wake-up for
    all that arrive while the loop is busy, not one each (private)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = Lock()
        self._ready: list[_Job] = []

    def put(self, job: _Job) -> None:
        """From a worker thread: ``job`` is over."""
        with self._lock:
            self._ready.append(job)
            if len(self._ready) > 1:  # a wake-up is already on its way
                return
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
        for job in ready:
            job.finish()


_returns: WeakKeyDictionary[Driver, _Returns] = WeakKeyDictionary()


def _work(
    job: _Job,
    returns: _Returns,
    graph: CompiledStateGraph[Any, Any, Any, Any],
    value: Any,
    ctx: TaskContext,
) -> None:
    """In the worker thread: the nested run, on this thread's private driver."""
    alone.set(True)  # the nested run's steps are its own: a lone sync node runs inline
    driver = thread_driver()
    previous, driver.stop = driver.stop, job.stop
    try:
        job.result = driver.run(run_nested, graph, value, ctx)
    except BaseException as exc:  # handed to the waiting task, raised there
        job.error = exc
    finally:
        driver.stop = previous
        returns.put(job)


def _runs_sync(graph: CompiledStateGraph[Any, Any, Any, Any]) -> bool:
    """Whether ``graph`` and its subgraphs run entirely synchronously (every node and
    router a sync function without a timeout that starts no graph itself) with no store,
    and no subgraph with a checkpointer of its own."""
    graphs = _levels.get(graph, _UNKNOWN)
    if graphs is _UNKNOWN:
        graphs = _levels[graph] = _sync_levels(graph)
    if graphs is None:
        return False
    return all(g.store is None for g in graphs) and all(
        g.checkpointer is None or g.checkpointer is False for g in graphs[1:]
    )


_UNKNOWN: Any = object()

_levels: WeakKeyDictionary[Any, tuple[Any, ...] | None] = WeakKeyDictionary()
"""Compiled graph → it and its nested subgraphs when all their nodes and routers are
sync (:func:`_sync_levels`), else None. What a spec holds never changes; a graph's
store and checkpointer are attributes that may, so they are looked at on every run."""


def _sync_levels(graph: CompiledStateGraph[Any, Any, Any, Any]) -> tuple[Any, ...] | None:
    from ._compiled import CompiledStateGraph

    found: list[Any] = [graph]
    spec = graph.spec
    for node in spec.nodes.values():
        if node.timeout is not None:
            return None
        sub = node.subgraph
        if sub is not None:
            nested = _levels.get(sub, _UNKNOWN)
            if nested is _UNKNOWN:
                nested = _levels[sub] = _sync_levels(sub)
            if nested is None:
                return None
            found.extend(nested)
            continue
        if node.shape is None or node.shape.is_async:
            return None
        if any(isinstance(v, CompiledStateGraph) for v in reachable(node.fn)):
            return None
    if any(b.shape.is_async for bs in spec.branches.values() for b in bs):
        return None
    return tuple(found)
