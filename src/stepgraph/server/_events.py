"""A run's SSE event log: every event the run streams, numbered, replayable.

Each run writes its events (``metadata`` first, then every chunk in the order the graph
produced them, then ``error`` if it failed) to one log; every SSE response for the run
reads the log from a cursor. Event ``seq`` numbers are gap-free from 0 and strictly
increasing, so ``Last-Event-ID: <ms>-<seq>`` resumes exactly after the last event a
client saw: nothing missed, nothing twice (subgraph events included: they are in the
same log).

Bounded: a log keeps its last ``capacity`` events (``--stream-log-size``, default
10 000). A reader whose cursor is older than the oldest event kept continues from the
oldest kept one (the gap is logged). A finished resumable run's log is stored in the
database with the run (see ``_runs`` and ``_store``), so it stays readable after the run
ended and after a restart.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable

import anyio
import attrs

__all__ = ["EventLog", "LogEntry", "encode_sse", "mode_of"]

logger = logging.getLogger("stepgraph.server")


@attrs.frozen
class LogEntry:
    seq: int
    event: str
    data: bytes


def mode_of(event: str) -> str:
    """``"updates|child:1"`` → ``"updates"``; ``"messages/partial"`` → ``"messages"``."""
    return event.split("|", 1)[0].split("/", 1)[0]


def encode_sse(entry: LogEntry, event_id: str | None) -> bytes:
    """One SSE frame, CRLF line ends, as the reference server writes them."""
    parts = [b"event: ", entry.event.encode(), b"\r\ndata: ", entry.data, b"\r\n"]
    if event_id is not None:
        parts += [b"id: ", event_id.encode(), b"\r\n"]
    parts.append(b"\r\n")
    return b"".join(parts)


class EventLog:
    """Append-only (bounded) list of one run's events with change notification."""

    def __init__(self, capacity: int, id_prefix: str) -> None:
        self.capacity = capacity
        self.id_prefix = id_prefix
        self._entries: deque[LogEntry] = deque()
        self.next_seq = 0
        self.closed = False
        self._changed = anyio.Event()

    @classmethod
    def restored(cls, entries: list[LogEntry], id_prefix: str) -> EventLog:
        """A closed log holding a finished run's stored events."""
        log = cls(max(1, len(entries)), id_prefix)
        log._entries.extend(entries)
        log.next_seq = entries[-1].seq + 1 if entries else 0
        log.closed = True
        return log

    def entries(self) -> list[LogEntry]:
        """Every entry still kept, oldest first."""
        return list(self._entries)

    def event_id(self, seq: int) -> str:
        return f"{self.id_prefix}-{seq}"

    def append(self, event: str, data: bytes) -> None:
        if self.closed:
            return
        self._entries.append(LogEntry(self.next_seq, event, data))
        self.next_seq += 1
        if len(self._entries) > self.capacity:
            self._entries.popleft()
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    def after(self, cursor: int) -> list[LogEntry]:
        """Entries with ``seq > cursor`` still kept, oldest first."""
        entries = self._entries
        if not entries or entries[-1].seq <= cursor:
            return []
        first = entries[0].seq
        if cursor + 1 < first:
            logger.warning(
                "stream reader at event %d fell behind the log (oldest kept: %d)", cursor, first
            )
        start = max(0, cursor + 1 - first)
        return [entries[i] for i in range(start, len(entries))]

    async def follow(
        self,
        cursor: int,
        emit: Callable[[list[LogEntry]], Awaitable[None]],
        heartbeat: Callable[[], Awaitable[None]],
        interval: float,
        coalesce: float = 0.0,
    ) -> None:
        """Hand every entry after ``cursor`` to ``emit`` in order, until the log closes;
        call ``heartbeat`` after ``interval`` idle seconds."""
        while True:
            batch = self.after(cursor)
            if batch:
                cursor = batch[-1].seq
                await emit(batch)
                continue
            if self.closed:
                return
            changed = self._changed
            idle = True
            with anyio.move_on_after(interval):
                await changed.wait()
                idle = False
            if idle:
                await heartbeat()
            elif coalesce > 0 and not self.closed:
                # a run emits in bursts: gather the rest of this one into the same write
                await anyio.sleep(coalesce)
