"""Where the server keeps its threads and runs: the checkpoint database, own tables.

The server holds every thread and run record in memory and writes each change through
to the database before answering, so a restarted server knows its threads, their runs
and statuses. One server process per database (records are not re-read while running).
Records are stored as JSON text: ``stepgraph_server_threads`` and
``stepgraph_server_runs``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread

from . import _json

__all__ = ["MemoryStore", "MetaStore", "PostgresStore", "SqliteStore"]

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
)


class MetaStore(Protocol):
    """Durable thread and run records (JSON objects keyed by id)."""

    async def load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]: ...
    async def put_thread(self, thread: dict[str, Any]) -> None: ...
    async def delete_thread(self, thread_id: str) -> None: ...
    async def put_run(self, run: dict[str, Any]) -> None: ...
    async def delete_run(self, run_id: str) -> None: ...
    async def aclose(self) -> None: ...


class MemoryStore:
    """Nothing survives the process (``--database-url :memory:``)."""

    async def load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return [], []

    async def put_thread(self, thread: dict[str, Any]) -> None:
        pass

    async def delete_thread(self, thread_id: str) -> None:
        pass

    async def put_run(self, run: dict[str, Any]) -> None:
        pass

    async def delete_run(self, run_id: str) -> None:
        pass

    async def aclose(self) -> None:
        pass


class _SqlStore:
    """Shared SQL; ``_execute`` runs one statement list in a transaction, in a thread."""

    _param = "?"

    def __init__(self) -> None:
        self._limiter = anyio.CapacityLimiter(1)
        self._lock = threading.Lock()

    def _run(self, fn: Callable[[], T]) -> T:
        with self._lock:
            return fn()

    async def _call(self, fn: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(self._run, fn, limiter=self._limiter)

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        raise NotImplementedError

    def _select(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _sql(self, text: str) -> str:
        return text.replace("?", self._param)

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

    async def put_thread(self, thread: dict[str, Any]) -> None:
        data = _json.dumps(thread).decode()
        sql = self._sql(
            "INSERT INTO stepgraph_server_threads (thread_id, data) VALUES (?, ?) "
            "ON CONFLICT (thread_id) DO UPDATE SET data = excluded.data"
        )
        await self._call(lambda: self._write([(sql, (thread["thread_id"], data))]))

    async def delete_thread(self, thread_id: str) -> None:
        statements = [
            (self._sql("DELETE FROM stepgraph_server_runs WHERE thread_id = ?"), (thread_id,)),
            (self._sql("DELETE FROM stepgraph_server_threads WHERE thread_id = ?"), (thread_id,)),
        ]
        await self._call(lambda: self._write(statements))

    async def put_run(self, run: dict[str, Any]) -> None:
        data = _json.dumps(run).decode()
        sql = self._sql(
            "INSERT INTO stepgraph_server_runs (run_id, thread_id, data) VALUES (?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET data = excluded.data"
        )
        await self._call(lambda: self._write([(sql, (run["run_id"], run["thread_id"], data))]))

    async def delete_run(self, run_id: str) -> None:
        sql = self._sql("DELETE FROM stepgraph_server_runs WHERE run_id = ?")
        await self._call(lambda: self._write([(sql, (run_id,))]))


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

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                conn.execute(sql, params)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _select(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(sql).fetchall())

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

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        with self._conn.transaction():
            for sql, params in statements:
                self._conn.execute(sql, params)

    def _select(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(sql).fetchall())

    async def aclose(self) -> None:
        await self._call(self._conn.close)
