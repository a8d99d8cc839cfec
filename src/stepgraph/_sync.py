"""The sync API's bridge: run async code from sync callers.

Everything async in stepgraph is written once; ``invoke``/``stream`` and the sync
checkpointer methods call into it through :func:`run_sync` / :func:`iterate_sync`,
which pick, in this order:

1. inside a graph's worker thread (a sync node calling ``invoke``): that graph's own
   event loop, so the nested run joins its task tree;
2. a thread with no event loop running (the common case): the thread's private
   :class:`Driver`, an asyncio loop that runs only while this thread waits on it;
3. a thread whose own event loop is running (sync code called from async code), or
   ``STEPGRAPH_SYNC_BACKEND=trio``: the process-wide :class:`BlockingPortal`, started
   on first use in a daemon thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import threading
from asyncio.events import _set_running_loop
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import anyio
import anyio.from_thread
from anyio.from_thread import BlockingPortal

T = TypeVar("T")

__all__ = [
    "Driver",
    "RunStopped",
    "alone",
    "inline_driver",
    "iterate_sync",
    "loop_running_here",
    "portal",
    "run_sync",
    "sync_backend",
    "thread_driver",
]

#: False inside the tasks of a step that runs several at once, and in everything they
#: start (nested graphs included): then no sync function may run inline.
alone: contextvars.ContextVar[bool] = contextvars.ContextVar("stepgraph_alone", default=True)

_lock = threading.Lock()
_portal: BlockingPortal | None = None

#: Worker threads of one driver (anyio's default thread limit).
_WORKERS = 40

#: How many ready items one thread hop may bring back to a sync iterator.
_BATCH = 1024


def sync_backend() -> str:
    """The backend the sync API runs on: ``STEPGRAPH_SYNC_BACKEND`` or ``asyncio``."""
    backend = os.environ.get("STEPGRAPH_SYNC_BACKEND", "asyncio")
    if backend not in ("asyncio", "trio"):
        raise ValueError(
            f"STEPGRAPH_SYNC_BACKEND={backend!r} is not supported; use 'asyncio' or 'trio'"
        )
    return backend


def portal() -> BlockingPortal:
    """The process-wide portal, started lazily in a daemon thread."""
    global _portal
    if _portal is not None:
        return _portal
    with _lock:
        if _portal is None:
            ready: list[BlockingPortal] = []
            started = threading.Event()

            async def serve() -> None:
                async with BlockingPortal() as p:
                    ready.append(p)
                    started.set()
                    await p.sleep_until_stopped()

            # a daemon thread: a process never waits for the portal at exit
            thread = threading.Thread(
                target=anyio.run,
                args=(serve,),
                kwargs={"backend": sync_backend()},
                name="stepgraph-portal",
                daemon=True,
            )
            thread.start()
            started.wait()
            _portal = ready[0]
    return _portal


# -- the per-thread driver ---------------------------------------------------------------


class RunStopped(BaseException):
    """Raised in place of a sync call once the driver's ``stop`` event is set: the run
    that waits for this driver's run was cancelled (not an ``Exception``, so retry
    policies and ``except Exception`` leave it alone)."""


class Driver:
    """A private asyncio event loop of one thread, run only while that thread waits.

    :meth:`run` runs a coroutine function to completion on it. Nothing else shares the
    loop, so a sync node that is the only task of its step may run right on the loop
    thread (:meth:`call_inline`), with the loop marked as not running meanwhile: no
    worker-thread round trip per node, and the node sees what it would see in a worker
    thread (no running event loop; a copy of the task's context variables). It blocks
    the loop while it runs, which nothing else can notice: the thread that drives the
    loop is the caller of ``invoke``/``stream``, waiting for this very run. (A sync
    ``invoke`` inside such a node cannot re-enter the loop; it runs on the portal.)
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.get_ident()
        self.depth = 0
        """How many :meth:`run` calls of this thread are under way."""
        self._executor: ThreadPoolExecutor | None = None
        self.stop: threading.Event | None = None
        """Once set, every sync call raises :class:`RunStopped` instead of running: how
        another thread stops this driver's run between two of its node calls."""

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(*args)`` on this thread's loop and return (or raise) its outcome."""
        loop = self.loop
        task: asyncio.Task[T] = loop.create_task(fn(*args))  # type: ignore[arg-type]
        task.add_done_callback(self._stop)
        self.depth += 1
        try:
            try:
                while not task.done():
                    loop.run_forever()
            except BaseException:
                task.cancel()
                while not task.done():
                    loop.run_forever()
                raise
        finally:
            self.depth -= 1
        return task.result()

    def _stop(self, _: Any) -> None:
        self.loop.stop()

    def call_inline(self, fn: Callable[[], T]) -> T:
        """Call the sync ``fn`` on the loop thread as if no loop ran (see class)."""
        if self.stop is not None and self.stop.is_set():
            raise RunStopped
        return call_off_loop(fn)

    async def call_in_thread(self, fn: Callable[[], T], abandon: bool) -> T:
        """Call the sync ``fn`` in one of the driver's worker threads (a task that has
        siblings, or one whose output must stream live). Like ``anyio.to_thread``, but
        the threads outlive a run: a sync ``invoke`` does not start new ones each time.
        With ``abandon`` false, the call completes even if the run is cancelled."""
        if self.stop is not None and self.stop.is_set():
            raise RunStopped
        ctx = contextvars.copy_context()
        future = self.loop.run_in_executor(self.executor(), ctx.run, fn)
        if abandon:
            return await future
        with anyio.CancelScope(shield=True):
            result: T = await future
        return result

    def executor(self) -> ThreadPoolExecutor:
        """The driver's worker threads (started on first use)."""
        executor = self._executor
        if executor is None:
            executor = self._executor = ThreadPoolExecutor(
                max_workers=_WORKERS, thread_name_prefix="stepgraph-worker"
            )
        return executor

    def close(self) -> None:
        """Close the loop and its threads (when the thread is done with it)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            loop.close()


class _Closer:
    """Held by the thread-local slot: closes the thread's driver when the thread ends."""

    __slots__ = ("driver",)

    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    def __del__(self) -> None:
        try:
            self.driver.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


_local = threading.local()


def thread_driver() -> Driver:
    """This thread's private driver (made on first use, closed when the thread ends)."""
    closer: _Closer | None = getattr(_local, "closer", None)
    if closer is None:
        closer = _Closer(Driver())
        _local.closer = closer
    return closer.driver


def call_off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call the sync ``fn`` on the event loop's own thread as a worker thread would see
    it: in a copy of the current context, with no asyncio loop marked running (so it
    may even run a loop of its own)."""
    loop = asyncio.events._get_running_loop()
    if loop is not None:
        _set_running_loop(None)
    try:
        return contextvars.copy_context().run(fn, *args, **kwargs)
    finally:
        if loop is not None:
            _set_running_loop(loop)


def inline_driver() -> Driver | None:
    """The driver whose loop runs the current task, if this thread's loop is one:
    then nothing else shares the loop (a lone sync node may run inline) and sync
    functions use its worker threads."""
    closer: _Closer | None = getattr(_local, "closer", None)
    if closer is None or closer.driver.depth == 0:
        return None
    driver = closer.driver
    return driver if driver.loop.is_running() else None


def loop_running_here() -> bool:
    """Whether an event loop (asyncio or trio) runs in this thread right now (a
    driver's loop counts while it calls a node inline)."""
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        pass
    closer: _Closer | None = getattr(_local, "closer", None)
    if closer is not None and closer.driver.loop.is_running():
        return True
    trio = sys.modules.get("trio")
    if trio is not None:
        return bool(trio.lowlevel.in_trio_run())
    return False


def _runner() -> Callable[..., Any]:
    """How to run a coroutine function from this thread (see the module docstring)."""
    from ._context import current_task_context

    ctx = current_task_context()
    if ctx is not None and ctx.loop_thread != threading.get_ident():
        token = ctx.token

        def hop(fn: Callable[..., Any], *args: Any) -> Any:
            return anyio.from_thread.run(_shared, fn, *args, token=token)

        return hop
    if not loop_running_here() and sync_backend() == "asyncio":
        return thread_driver().run
    return portal().call


async def _shared(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    alone.set(False)  # called from a worker thread: its siblings may still run
    return await fn(*args)


def run_sync(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Call the async function ``fn(*args)`` from sync code and return its result."""
    result: T = _runner()(fn, *args)
    return result


def iterate_sync(open_stream: Callable[[], Any]) -> Iterator[Any]:
    """Iterate an async stream (``__anext__`` + ``aclose``) from sync code.

    Items cross over in batches of whatever is ready. Closing the returned generator
    (``break``, ``close()``, garbage collection) awaits the stream's ``aclose()``,
    which cancels whatever produces the items and waits for it to stop.
    """
    call = _runner()
    thread = threading.get_ident()

    async def _open() -> Any:
        return open_stream()

    async def _next_batch(it: Any) -> tuple[list[Any], bool]:
        try:
            first = await it.__anext__()
        except StopAsyncIteration:
            return [], True
        batch = [first]
        drain = getattr(it, "next_nowait_batch", None)
        if drain is not None:
            more, done = drain(_BATCH - 1)
            batch.extend(more)
            return batch, done
        return batch, False

    async def _close(it: Any) -> None:
        await it.aclose()

    it = call(_open)
    done = False
    try:
        while not done:
            batch, done = call(_next_batch, it)
            yield from batch
    finally:
        driver = getattr(call, "__self__", None)
        if not isinstance(driver, Driver) or threading.get_ident() == thread:
            call(_close, it)
        elif not driver.loop.is_running():
            driver.run(_close, it)
        else:  # collected in another thread while the owner runs its loop
            driver.loop.call_soon_threadsafe(_cancel_stream, it)


def _cancel_stream(it: Any) -> None:
    cancel = getattr(it, "cancel", None)
    if cancel is not None:
        cancel()
