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
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._events import Event
from ._project import Projection
from ._writer import StreamEmitter

__all__ = ["DEFAULT_BUFFER", "RunStream"]

#: Events buffered between the run and a slow consumer before the run waits.
DEFAULT_BUFFER = 64

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
        self._send: MemoryObjectSendStream[Event] | None = None
        self._receive: MemoryObjectReceiveStream[Event] | None = None
        self._scope: anyio.CancelScope | None = None
        self._done: anyio.Event | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._outcome: BaseException | None = None
        self._result: Any = None
        self._pending: deque[Any] = deque()
        self._started = False
        self._finished = False
        self._emitter: StreamEmitter | None = None
        self.seq = -1
        self._v2 = projection.version == "v2"
        self._ended: str | None = None
        """Sequence number of the last chunk yielded (gap-free, from 0)."""

    # -- lifecycle -------------------------------------------------------------

    def _prepare(self) -> None:
        send, receive = anyio.create_memory_object_stream[Event](self._buffer)
        self._send, self._receive = send, receive
        self._scope = anyio.CancelScope()
        self._done = anyio.Event()
        self._emitter = StreamEmitter(send, self._projection.wants, self._projection.subgraphs)
        self._started = True

    async def _produce(self) -> None:
        assert self._send is not None
        assert self._scope is not None
        assert self._done is not None
        emitter = self._emitter
        assert emitter is not None
        try:
            with self._scope:
                try:
                    self._result = await self._run(emitter)
                    await emitter.flush()
                    self._ended = (
                        "interrupted" if getattr(self._result, "interrupted", False) else "done"
                    )
                except Exception as exc:
                    self._outcome = exc
                    self._ended = "error"
        finally:
            if self._ended is None:
                self._ended = "cancelled"
            self._send.close()
            self._done.set()

    async def __aenter__(self) -> RunStream:
        if self._started:
            raise RuntimeError("this stream was already started; open a new one with astream()")
        self._prepare()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._produce, name="stepgraph run")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        await self._stop()
        tg, self._tg = self._tg, None
        assert tg is not None
        return await tg.__aexit__(exc_type, exc, tb)

    async def _stop(self) -> None:
        if not self._started:
            self._finished = True
            return
        assert self._scope is not None
        assert self._done is not None
        assert self._receive is not None
        if self._emitter is not None:
            self._emitter.closed = True
        self._scope.cancel()
        with anyio.CancelScope(shield=True):
            await self._done.wait()
        self._receive.close()
        self._finished = True

    async def aclose(self) -> None:
        """Cancel the run (if still going) and wait until it has stopped."""
        if self._tg is not None:
            await self._stop()
            return
        if not self._finished:
            await self._stop()

    def __del__(self) -> None:
        # `break` out of `async for` without aclose(): cancel now, clean up in the background.
        if self._started and not self._finished and self._scope is not None:
            if self._emitter is not None:
                self._emitter.closed = True
            try:
                self._scope.cancel()
            except RuntimeError:  # collected outside the event loop: nothing runs any more
                pass
            if self._receive is not None:
                self._receive.close()

    # -- iteration -------------------------------------------------------------

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> Any:
        if self._pending:
            return self._number(self._pending.popleft())
        if self._finished:
            raise StopAsyncIteration
        if not self._started:
            self._prepare()
            _spawn_background(self._produce)
        receive = self._receive
        assert receive is not None
        project = self._projection.project
        try:
            while True:
                try:
                    event = await receive.receive()
                except anyio.EndOfStream:
                    break
                chunks = project(event)
                if chunks:
                    self._pending.extend(chunks)
                    return self._number(self._pending.popleft())
        except BaseException:
            if self._tg is None:
                await self._stop()
            raise
        # the run ended
        self._finished = True
        receive.close()
        if self._outcome is not None:
            outcome, self._outcome = self._outcome, None
            raise outcome
        raise StopAsyncIteration

    def next_nowait_batch(self, limit: int) -> tuple[list[Any], bool]:
        """Up to ``limit`` chunks that are ready now, and whether the run has ended
        (used by the sync iterator to cross threads once per batch)."""
        out: list[Any] = []
        while self._pending and len(out) < limit:
            out.append(self._number(self._pending.popleft()))
        receive = self._receive
        if receive is None or self._finished:
            return out, False
        project = self._projection.project
        while len(out) < limit:
            try:
                event = receive.receive_nowait()
            except anyio.WouldBlock:
                break
            except anyio.EndOfStream:
                break
            for chunk in project(event):
                if len(out) < limit:
                    out.append(self._number(chunk))
                else:
                    self._pending.append(chunk)
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
        return self._ended

    @property
    def result(self) -> Any:
        """What the run returned (after the stream is exhausted)."""
        return self._result
