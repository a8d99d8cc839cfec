"""The sync API's bridge: run async code from sync callers through one BlockingPortal.

Everything async in stepgraph is written once; ``invoke``/``stream`` and the sync
checkpointer methods call into it through :func:`run_sync` / :func:`iterate_sync`.
The portal lives in one daemon thread per process and is started on first use.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.from_thread
from anyio.from_thread import BlockingPortal

T = TypeVar("T")

__all__ = ["iterate_sync", "portal", "run_sync", "sync_backend"]

_lock = threading.Lock()
_portal: BlockingPortal | None = None

#: How many ready items one thread hop may bring back to a sync iterator.
_BATCH = 256


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


def _loop_hook() -> Callable[..., Any] | None:
    """If this thread is serving a running graph task, a function that runs
    coroutines on that graph's event loop (so nested graphs join its task tree)."""
    from ._context import current_task_context

    ctx = current_task_context()
    if ctx is None or ctx.loop_thread == threading.get_ident():
        return None
    token = ctx.token

    def hop(fn: Callable[..., Any], *args: Any) -> Any:
        return anyio.from_thread.run(fn, *args, token=token)

    return hop


def run_sync(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Call the async function ``fn(*args)`` from sync code and return its result.

    Inside a graph's worker thread this runs on that graph's own event loop;
    elsewhere it runs on the process-wide portal.
    """
    hop = _loop_hook()
    if hop is not None:
        result: T = hop(fn, *args)
        return result
    return portal().call(fn, *args)


def iterate_sync(open_stream: Callable[[], Any]) -> Iterator[Any]:
    """Iterate an async stream (``__anext__`` + ``aclose``) from sync code.

    Items cross the thread boundary in batches of whatever is ready. Closing the
    returned generator (``break``, ``close()``, garbage collection) awaits the stream's
    ``aclose()``, which cancels whatever produces the items and waits for it to stop.
    """
    hop = _loop_hook()
    call: Callable[..., Any] = hop if hop is not None else portal().call

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
    pending: deque[Any] = deque()
    done = False
    try:
        while True:
            while pending:
                yield pending.popleft()
            if done:
                return
            batch, done = call(_next_batch, it)
            pending.extend(batch)
    finally:
        call(_close, it)
