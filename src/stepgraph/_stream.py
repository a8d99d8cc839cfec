"""Stream plumbing: a bounded event stream between the run and its consumer.

``RunStream`` is both an async iterator and an async context manager:

* ``async with graph.astream(...) as chunks:`` runs the graph in a task group owned by
  the ``async with`` block (structured: leaving the block cancels the run and waits
  until every node's ``finally`` has run).
* ``async for chunk in graph.astream(...)`` starts the run on first iteration. ``break``
  or garbage collection cancels it at once; ``await stream.aclose()`` cancels it and
  waits for it to end. A cancelled consumer cancels the run and waits for it.

The run never raises into the consumer's task group: its outcome travels with the
stream, so a failing node cannot cancel the consumer's own code between chunks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from ._events import CustomEvent, StepBarrier
from ._handoff import Handoff
from ._project import Projection
from ._writer import StreamEmitter

__all__ = ["DEFAULT_BUFFER", "RunStream"]

#: Events buffered between the run and a slow consumer before the run waits.
DEFAULT_BUFFER = 1024

_background: set[Any] = set()


def _spawn_background(fn: Callable[[], Awaitable[None]]) -> None:
    """Start ``fn`` outside any task group (used only for un-managed iteration)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        import trio

        trio.lowlevel.spawn_system_task(fn)
        return
    task: asyncio.Task[None] = loop.create_task(fn())  # type: ignore[arg-type]
    _background.add(task)
    task.add_done_callback(_background.discard)


_SKIP: Any = object()


def _custom_projector(projection: Projection) -> Callable[[tuple[str, ...], Any], Any]:
    """``(ns, data)`` of a custom chunk → the chunk (``_SKIP`` if not shown)."""
    if "custom" not in projection.modes:
        return lambda ns, data: _SKIP
    if projection.version == "v1" and not projection.subgraphs:
        if projection.single:
            return lambda ns, data: _SKIP if ns else data
        return lambda ns, data: _SKIP if ns else ("custom", data)

    def general(ns: tuple[str, ...], data: Any) -> Any:
        chunks = projection.project(CustomEvent(ns, data))
        return chunks[0] if chunks else _SKIP

    return general


class _Producer:
    """The running side of a stream. The background task holds only this object, so
    dropping the consumer's :class:`RunStream` (``break``) can still be noticed."""

    def __init__(
        self, run: Callable[[StreamEmitter], Awaitable[Any]], projection: Projection, buffer: int
    ) -> None:
        self.run = run
        self.handoff = Handoff(buffer)
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()
        self.emitter = StreamEmitter(self.handoff, projection.wants, projection.subgraphs)
        self.error: BaseException | None = None
        self.result: Any = None
        self.ended: str | None = None

    async def produce(self) -> None:
        emitter = self.emitter
        try:
            with self.scope:
                try:
                    self.result = await self.run(emitter)
                    await emitter.flush()
                    self.ended = (
                        "interrupted" if getattr(self.result, "interrupted", False) else "done"
                    )
                except Exception as exc:
                    self.error = exc
                    self.ended = "error"
        finally:
            if self.ended is None:
                self.ended = "cancelled"
            self.handoff.close()
            self.done.set()

    def cancel(self) -> None:
        """Ask the run to stop; events it still sends are dropped, never raised (and
        writers waiting for room stop waiting)."""
        self.emitter.closed = True
        self.handoff.abandon()
        self.scope.cancel()

    async def stop(self) -> None:
        """Cancel the run and wait until it has stopped (every node's finally ran)."""
        self.cancel()
        with anyio.CancelScope(shield=True):
            await self.done.wait()


class RunStream:
    """The chunks of one run, in order, each numbered (``.seq`` of the last one)."""

    def __init__(
        self,
        run: Callable[[StreamEmitter], Awaitable[Any]],
        projection: Projection,
        buffer: int = DEFAULT_BUFFER,
    ) -> None:
        self._run = run
        self._projection = projection
        self._buffer = buffer
        self._core: _Producer | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._pending: deque[Any] = deque()
        self._finished = False
        self._v2 = projection.version == "v2"
        self._barrier: StepBarrier | None = None
        self._custom = _custom_projector(projection)
        self._bare_custom = (
            projection.modes == ("custom",)
            and projection.single
            and not (projection.subgraphs or self._v2)
        )
        """Custom chunks are the data itself (``stream_mode="custom"``, v1)."""
        self._handoff: Handoff | None = None
        self._items: deque[Any] | None = None
        self.seq = -1
        """Sequence number of the last chunk yielded (gap-free, from 0)."""

    # -- lifecycle -------------------------------------------------------------

    def _start(self) -> _Producer:
        if self._core is not None:
            raise RuntimeError("this stream was already started; open a new one with astream()")
        self._core = _Producer(self._run, self._projection, self._buffer)
        return self._core

    async def __aenter__(self) -> RunStream:
        core = self._start()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(core.produce, name="stepgraph run")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        tg, self._tg = self._tg, None
        assert tg is not None
        # The run never raises into the group, so the group ends clean; the body's own
        # exception (if any) propagates as is — never wrapped in an ExceptionGroup.
        await tg.__aexit__(None, None, None)
        return None

    async def aclose(self) -> None:
        """Cancel the run (if still going) and wait until it has stopped."""
        self._finished = True
        self._items = None
        if self._core is not None:
            await self._core.stop()

    def __del__(self) -> None:
        # `break` out of `async for` without aclose(): cancel now; the run's cleanup
        # (its nodes' finally blocks) completes in the background right after.
        core = self._core
        if core is None:
            return
        if not self._finished:
            try:
                core.cancel()
            except RuntimeError:  # collected outside the event loop: nothing runs any more
                pass

    def cancel(self) -> None:
        """Ask the run to stop without waiting (sync code, any thread)."""
        self._finished = True
        self._items = None
        if self._core is not None:
            try:
                self._core.cancel()
            except RuntimeError:
                pass

    # -- iteration -------------------------------------------------------------

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> Any:
        if self._pending:
            return self._number(self._pending.popleft())
        items = self._items
        if items and self._barrier is None:
            # fast path: a custom chunk is ready (no await: the reader yields only
            # when it has to wait)
            event = items[0]
            if type(event) is tuple:
                if self._bare_custom:
                    chunk = _SKIP if event[0] else event[1]
                else:
                    chunk = self._custom(*event)
                if chunk is not _SKIP:
                    items.popleft()
                    handoff = self._handoff
                    # (Handoff.writers_wait, without a property call per chunk)
                    if handoff is not None and (
                        handoff.room is not None or handoff._thread_waiters
                    ):
                        handoff.took()
                    self.seq += 1
                    if self._v2:
                        chunk["seq"] = self.seq
                    return chunk
        return await self._next()

    async def _next(self) -> Any:
        if self._pending:
            return self._number(self._pending.popleft())
        if self._finished:
            raise StopAsyncIteration
        core = self._core
        if core is None:
            core = self._start()
            _spawn_background(core.produce)
        self._handoff = core.handoff
        self._items = core.handoff.items
        if self._barrier is not None:
            self._barrier.released.set()
            self._barrier = None
        handoff = core.handoff
        items = handoff.items
        project = self._projection.project
        custom = self._custom
        try:
            while True:
                if not items:
                    if handoff.closed:
                        break  # the run ended
                    await handoff.wait()
                    continue
                event = items.popleft()
                handoff.took()
                if type(event) is tuple:
                    chunk = custom(*event)
                    if chunk is not _SKIP:
                        return self._number(chunk)
                    continue
                if type(event) is StepBarrier:
                    event.released.set()  # every earlier chunk was read: next step may run
                    continue
                chunks = project(event)
                if chunks:
                    self._pending.extend(chunks)
                    return self._number(self._pending.popleft())
        except BaseException:
            if self._tg is None:
                await self.aclose()
            raise
        # the run ended
        self._finished = True
        self._items = None
        if core.error is not None:
            error, core.error = core.error, None
            raise error
        raise StopAsyncIteration

    def next_nowait_batch(self, limit: int) -> tuple[list[Any], bool]:
        """Up to ``limit`` chunks that are ready now, and whether the run has ended
        (used by the sync iterator to cross over once per batch)."""
        out: list[Any] = []
        number = self._number
        while self._pending and len(out) < limit:
            out.append(number(self._pending.popleft()))
        if self._core is None or self._finished:
            return out, False
        handoff = self._core.handoff
        items = handoff.items
        project = self._projection.project
        custom = self._custom
        bare = self._bare_custom
        v2 = self._v2
        while items and len(out) < limit:
            event = items.popleft()
            if type(event) is tuple:
                chunk = (_SKIP if event[0] else event[1]) if bare else custom(*event)
                if chunk is not _SKIP:
                    self.seq += 1
                    if v2:
                        chunk["seq"] = self.seq
                    out.append(chunk)
                continue
            if type(event) is StepBarrier:
                self._barrier = event  # released when the caller asks for the next batch
                break
            for chunk in project(event):
                if len(out) < limit:
                    out.append(number(chunk))
                else:
                    self._pending.append(chunk)
        handoff.took()
        return out, False

    def _number(self, chunk: Any) -> Any:
        self.seq += 1
        if self._v2:
            chunk["seq"] = self.seq
        return chunk

    @property
    def outcome(self) -> str | None:
        """How the run ended: ``"done"``, ``"interrupted"``, ``"error"`` or
        ``"cancelled"`` (None while it runs). Exactly one, always."""
        return None if self._core is None else self._core.ended

    @property
    def result(self) -> Any:
        """What the run returned (after the stream is exhausted)."""
        return None if self._core is None else self._core.result
