"""Where the server keeps its assistants, threads, runs, store items and resumable event
logs: the checkpoint database, own tables (``stepgraph_server_*``, JSON text).

The server holds every record in memory (the records it answers from) and queues each
change for the database. Commits are grouped: ``await flush()`` returns once every change
queued before it is committed, and concurrent flushes share one transaction; a writer
task commits changes nobody flushes. Handlers flush before they answer; a stream or wait
starts streaming at once and its run's records are committed before its last byte (the
run's end). So a restarted server knows its threads, their runs and statuses, and the
events of finished resumable runs (``Last-Event-ID`` reconnects work after the run ended
and after a restart). One server process per database (records are not re-read while
running).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
import attrs

from . import _json

__all__ = ["MemoryStore", "MetaStore", "PostgresStore", "SqliteStore", "StoredEvent"]

logger = logging.getLogger("stepgraph.server")

T = TypeVar("T")

_TABLES = (
    """CREATE TABLE IF NOT EXISTS stepgraph_server_threads (
        thread_id TEXT PRIMARY KEY,
        data TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS stepgraph_server_runs (
        run_id TEXT PRIMARY KEY,
        thread_id TEXT NOT NULL,
        data TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS stepgraph_server_assistants (
        assistant_id TEXT PRIMARY KEY,
        data TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS stepgraph_server_items (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (namespace, key)
    )""",
    """CREATE TABLE IF NOT EXISTS stepgraph_server_events (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        thread_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    )""",
)

#: ``(sql, rows)``: one statement run for each row of parameters.
Op = tuple[str, Sequence[tuple[Any, ...]]]


@attrs.frozen
class StoredEvent:
    """One persisted SSE event of a run."""

    seq: int
    event_id: str
    event: str
    data: bytes


class MetaStore(Protocol):
    """Durable thread and run records (JSON objects keyed by id) and run event logs.

    ``put_*`` and ``delete_*`` queue a change and return at once; ``flush`` waits until
    every change queued before it is committed; ``writer`` is the task that commits."""

    async def load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]: ...
    async def load_assistants(self) -> list[dict[str, Any]]: ...
    def put_assistant(self, assistant_id: str, data: dict[str, Any]) -> None: ...
    def delete_assistant(self, assistant_id: str) -> None: ...
    async def load_items(self) -> list[dict[str, Any]]: ...
    def put_item(self, namespace: str, key: str, item: dict[str, Any]) -> None: ...
    def delete_item(self, namespace: str, key: str) -> None: ...
    def put_thread(self, thread: dict[str, Any]) -> None: ...
    def delete_thread(self, thread_id: str) -> None: ...
    def put_run(self, run: dict[str, Any]) -> None: ...
    def delete_run(self, run_id: str) -> None: ...
    def put_events(self, run_id: str, thread_id: str, events: Sequence[StoredEvent]) -> None: ...
    async def events(self, run_id: str) -> list[StoredEvent]: ...
    async def flush(self) -> None: ...
    async def writer(self) -> None: ...
    async def aclose(self) -> None: ...


class MemoryStore:
    """Nothing survives the process (``--database-url :memory:``)."""

    async def load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return [], []

    async def load_assistants(self) -> list[dict[str, Any]]:
        return []

    def put_assistant(self, assistant_id: str, data: dict[str, Any]) -> None:
        pass

    def delete_assistant(self, assistant_id: str) -> None:
        pass

    async def load_items(self) -> list[dict[str, Any]]:
        return []

    def put_item(self, namespace: str, key: str, item: dict[str, Any]) -> None:
        pass

    def delete_item(self, namespace: str, key: str) -> None:
        pass

    def put_thread(self, thread: dict[str, Any]) -> None:
        pass

    def delete_thread(self, thread_id: str) -> None:
        pass

    def put_run(self, run: dict[str, Any]) -> None:
        pass

    def delete_run(self, run_id: str) -> None:
        pass

    def put_events(self, run_id: str, thread_id: str, events: Sequence[StoredEvent]) -> None:
        pass

    async def events(self, run_id: str) -> list[StoredEvent]:
        return []

    async def flush(self) -> None:
        pass

    async def writer(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


@attrs.define(eq=False)
class _Batch:
    """Changes committed together, numbered ``first``..``last`` in queueing order;
    ``done`` is set once they are committed (or failed: ``error``)."""

    ops: list[Op] = attrs.field(factory=list)
    first: int = 0
    last: int = 0
    error: BaseException | None = None
    _done: anyio.Event | None = None

    @property
    def done(self) -> anyio.Event:
        # made on first use: stores are built in a worker thread, outside the event loop
        if self._done is None:
            self._done = anyio.Event()
        return self._done


class _SqlStore:
    """Shared SQL; ``_write`` runs a batch of statements in one transaction, in a thread.

    Group commit: a flush that finds a commit in flight waits for it, then commits
    everything queued meanwhile (its own changes and others') in one transaction; the
    writer task commits changes nobody flushes. Flushes never depend on the writer task,
    so they also work while the server starts and after it stopped the writer."""

    _param = "?"

    def __init__(self) -> None:
        self._limiter = anyio.CapacityLimiter(1)
        self._lock = threading.Lock()
        self._queued = _Batch()
        self._writing: _Batch | None = None
        self._wake_event: anyio.Event | None = None
        self._numbered = 0  # changes queued so far
        self._committed = 0  # changes committed (or failed) so far, in order

    def _wake(self) -> anyio.Event:
        if self._wake_event is None:
            self._wake_event = anyio.Event()
        return self._wake_event

    def _run(self, fn: Callable[[], T]) -> T:
        with self._lock:
            return fn()

    async def _call(self, fn: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(self._run, fn, limiter=self._limiter)

    def _write(self, ops: list[Op]) -> None:
        raise NotImplementedError

    def _select(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _sql(self, text: str) -> str:
        return text.replace("?", self._param)

    # -- the write queue -------------------------------------------------------

    def _queue(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        self._numbered += 1
        batch = self._queued
        if not batch.ops:
            batch.first = self._numbered
        batch.ops.append((self._sql(sql), rows))
        batch.last = self._numbered
        self._wake().set()

    async def _commit_queued(self) -> _Batch:
        """Commit the queued changes (the caller checked that no commit is in flight)."""
        batch, self._queued = self._queued, _Batch()
        self._writing = batch
        try:
            await self._call(lambda: self._write(batch.ops))
        except Exception as exc:
            logger.exception("writing %d change(s) to the database failed", len(batch.ops))
            batch.error = exc
        finally:
            self._writing = None
            self._committed = max(self._committed, batch.last)
            batch.done.set()
        return batch

    async def writer(self) -> None:
        """Commit changes nobody flushes, batch after batch, until cancelled."""
        while True:
            await self._wake().wait()
            self._wake_event = None
            if self._writing is not None:
                await self._writing.done.wait()
            if self._queued.ops and self._writing is None:
                await self._commit_queued()

    async def flush(self) -> None:
        """Return once every change queued so far is committed (raise if that failed)."""
        target = self._numbered
        while self._committed < target:
            if self._writing is not None:
                batch = self._writing
                await batch.done.wait()
            else:
                batch = await self._commit_queued()
            if batch.error is not None and batch.first <= target:
                raise batch.error

    # -- records ---------------------------------------------------------------

    async def load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            threads = [
                _json.loads(r[0]) for r in self._select("SELECT data FROM stepgraph_server_threads")
            ]
            runs = [
                _json.loads(r[0]) for r in self._select("SELECT data FROM stepgraph_server_runs")
            ]
            return threads, runs

        return await self._call(read)

    async def load_assistants(self) -> list[dict[str, Any]]:
        rows = await self._call(
            lambda: self._select("SELECT data FROM stepgraph_server_assistants")
        )
        return [_json.loads(r[0]) for r in rows]

    def put_assistant(self, assistant_id: str, data: dict[str, Any]) -> None:
        self._queue(
            "INSERT INTO stepgraph_server_assistants (assistant_id, data) VALUES (?, ?) "
            "ON CONFLICT (assistant_id) DO UPDATE SET data = excluded.data",
            [(assistant_id, _json.dumps(data).decode())],
        )

    def delete_assistant(self, assistant_id: str) -> None:
        self._queue(
            "DELETE FROM stepgraph_server_assistants WHERE assistant_id = ?", [(assistant_id,)]
        )

    async def load_items(self) -> list[dict[str, Any]]:
        rows = await self._call(lambda: self._select("SELECT data FROM stepgraph_server_items"))
        return [_json.loads(r[0]) for r in rows]

    def put_item(self, namespace: str, key: str, item: dict[str, Any]) -> None:
        self._queue(
            "INSERT INTO stepgraph_server_items (namespace, key, data) VALUES (?, ?, ?) "
            "ON CONFLICT (namespace, key) DO UPDATE SET data = excluded.data",
            [(namespace, key, _json.dumps(item).decode())],
        )

    def delete_item(self, namespace: str, key: str) -> None:
        self._queue(
            "DELETE FROM stepgraph_server_items WHERE namespace = ? AND key = ?", [(namespace, key)]
        )

    def put_thread(self, thread: dict[str, Any]) -> None:
        self._queue(
            "INSERT INTO stepgraph_server_threads (thread_id, data) VALUES (?, ?) "
            "ON CONFLICT (thread_id) DO UPDATE SET data = excluded.data",
            [(thread["thread_id"], _json.dumps(thread).decode())],
        )

    def delete_thread(self, thread_id: str) -> None:
        for table in ("events", "runs", "threads"):
            self._queue(f"DELETE FROM stepgraph_server_{table} WHERE thread_id = ?", [(thread_id,)])

    def put_run(self, run: dict[str, Any]) -> None:
        self._queue(
            "INSERT INTO stepgraph_server_runs (run_id, thread_id, data) VALUES (?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET data = excluded.data",
            [(run["run_id"], run["thread_id"], _json.dumps(run).decode())],
        )

    def delete_run(self, run_id: str) -> None:
        for table in ("events", "runs"):
            self._queue(f"DELETE FROM stepgraph_server_{table} WHERE run_id = ?", [(run_id,)])

    def put_events(self, run_id: str, thread_id: str, events: Sequence[StoredEvent]) -> None:
        self._queue("DELETE FROM stepgraph_server_events WHERE run_id = ?", [(run_id,)])
        self._queue(
            "INSERT INTO stepgraph_server_events (run_id, seq, thread_id, event_id, event, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, e.seq, thread_id, e.event_id, e.event, e.data.decode()) for e in events],
        )

    async def events(self, run_id: str) -> list[StoredEvent]:
        sql = self._sql(
            "SELECT seq, event_id, event, data FROM stepgraph_server_events "
            "WHERE run_id = ? ORDER BY seq"
        )
        rows = await self._call(lambda: self._select(sql, (run_id,)))
        return [StoredEvent(int(r[0]), str(r[1]), str(r[2]), str(r[3]).encode()) for r in rows]


class SqliteStore(_SqlStore):
    """Records in the SQLite file that also holds the checkpoints."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for statement in _TABLES:
            self._conn.execute(statement)

    def _write(self, ops: list[Op]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, rows in ops:
                conn.executemany(sql, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _select(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(sql, params).fetchall())

    async def aclose(self) -> None:
        await self._call(self._conn.close)


class PostgresStore(_SqlStore):
    """Records in the PostgreSQL database that also holds the checkpoints."""

    _param = "%s"

    def __init__(self, url: str) -> None:
        super().__init__()
        import psycopg

        self._conn = psycopg.connect(url, autocommit=True)
        with self._conn.transaction():
            for statement in _TABLES:
                self._conn.execute(statement)

    def _write(self, ops: list[Op]) -> None:
        with self._conn.transaction(), self._conn.cursor() as cursor:
            for sql, rows in ops:
                cursor.executemany(sql, rows)

    def _select(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(sql, params).fetchall())

    async def aclose(self) -> None:
        await self._call(self._conn.close)
