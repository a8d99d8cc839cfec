"""Where events go: the emitter (one per run) and the per-task stream writer."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream

from ._events import CustomEvent, Event, StepBarrier

__all__ = ["BufferEmitter", "Emitter", "NullEmitter", "StreamEmitter", "TaskWriter"]

#: event kinds each stream mode needs
MODE_NEEDS: dict[str, frozenset[str]] = {
    "values": frozenset({"values"}),
    "updates": frozenset({"updates"}),
    "custom": frozenset({"custom"}),
    "messages": frozenset({"messages"}),
    "tasks": frozenset({"tasks"}),
    "checkpoints": frozenset({"checkpoints"}),
    "debug": frozenset({"tasks", "checkpoints"}),
}


class Emitter:
    """Receives a run's events. ``wants`` lists the event kinds someone will read; the
    engine builds no event of any other kind."""

    wants: frozenset[str] = frozenset()
    subgraphs: bool = False
    _message_ids: set[Any] | None = None

    def message_ids(self) -> set[Any]:
        """Ids of the messages this consumer has been sent in ``messages`` mode: nested
        graphs streaming here share it, so a message is never streamed twice."""
        if self._message_ids is None:
            self._message_ids = set()
        return self._message_ids

    async def send(self, event: Event) -> None:
        raise NotImplementedError

    def send_from_sync(self, event: Event) -> None:
        """Deliver ``event`` from sync code (the loop thread or a worker thread)."""
        raise NotImplementedError

    async def step_barrier(self) -> None:
        """Wait, between supersteps, until the consumer has read everything so far."""
        return None


class NullEmitter(Emitter):
    """Wants nothing (``invoke``: only the final state matters)."""

    async def send(self, event: Event) -> None:
        return None

    def send_from_sync(self, event: Event) -> None:
        return None


class StreamEmitter(Emitter):
    """Puts events on a bounded memory object stream, in order.

    Async senders wait for room (backpressure). Sync code in a worker thread waits
    too, by hopping to the loop. Sync code on the loop thread cannot wait: its events
    go to an overflow queue that is drained, in order, before anything else is sent.
    """

    def __init__(
        self,
        stream: MemoryObjectSendStream[Event],
        wants: frozenset[str],
        subgraphs: bool,
    ) -> None:
        self._stream = stream
        self.wants = wants
        self.subgraphs = subgraphs
        self._overflow: deque[Event] = deque()
        self.closed = False
        """Set when the consumer left: later events are dropped, never raised into nodes."""
        self._loop_thread = threading.get_ident()
        self._token = anyio.lowlevel.current_token()
        self._lock = anyio.Lock()

    async def send(self, event: Event) -> None:
        if self.closed:
            await anyio.lowlevel.checkpoint()
            return
        if self._overflow:
            async with self._lock:
                while self._overflow:
                    await self._stream.send(self._overflow.popleft())
                await self._stream.send(event)
            return
        await self._stream.send(event)

    def send_from_sync(self, event: Event) -> None:
        if self.closed:
            return
        if threading.get_ident() != self._loop_thread:
            anyio.from_thread.run(self.send, event, token=self._token)
            return
        if not self._overflow:
            try:
                self._stream.send_nowait(event)
                return
            except anyio.WouldBlock:
                pass
        self._overflow.append(event)

    async def step_barrier(self) -> None:
        # The next superstep starts only once the consumer has read every chunk so far
        # and asked for more: closing the stream after step N's chunks means step N+1
        # never ran (as with LangGraph's lazily driven loop).
        if self.closed:
            return
        released = anyio.Event()
        await self.send(StepBarrier(released))
        await released.wait()

    async def flush(self) -> None:
        """Send whatever waits in the overflow queue."""
        if self._overflow:
            async with self._lock:
                while self._overflow:
                    await self._stream.send(self._overflow.popleft())


class BufferEmitter(Emitter):
    """Collects one task's events so the run can release them in task-path order
    (deterministic ordering: same-step output never interleaves)."""

    def __init__(self, parent: Emitter) -> None:
        self.parent = parent
        self.wants = parent.wants
        self.subgraphs = parent.subgraphs
        self.events: list[Event] = []

    def message_ids(self) -> set[Any]:
        return self.parent.message_ids()

    async def send(self, event: Event) -> None:
        self.events.append(event)

    def send_from_sync(self, event: Event) -> None:
        self.events.append(event)  # list.append is atomic: safe from worker threads

    async def release(self) -> None:
        """Pass the collected events on to the parent emitter, in order."""
        events, self.events = self.events, []
        for event in events:
            await self.parent.send(event)


class TaskWriter:
    """A task's ``writer``: ``writer(data)`` emits ``data`` in ``custom`` mode.

    A no-op when nobody streams ``custom``. ``await writer.asend(data)`` waits for room
    in the stream instead (backpressure for async producers).
    """

    __slots__ = ("_emitter", "_ns", "_on")

    def __init__(self, emitter: Emitter, ns: tuple[str, ...]) -> None:
        self._emitter = emitter
        self._ns = ns
        self._on = "custom" in emitter.wants

    def __call__(self, data: Any) -> None:
        if self._on:
            self._emitter.send_from_sync(CustomEvent(self._ns, data))

    async def asend(self, data: Any) -> None:
        """Emit ``data``, waiting while the consumer is behind."""
        if self._on:
            await self._emitter.send(CustomEvent(self._ns, data))

    def __repr__(self) -> str:
        return f"<stepgraph stream writer ns={'|'.join(self._ns) or '()'}>"
