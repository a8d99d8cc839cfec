"""A checkpointer in PostgreSQL (psycopg 3), for many processes and machines.

Usage::

    async with PostgresSaver.from_conn_string("postgresql://user@host/db") as saver:
        graph = builder.compile(checkpointer=saver)

Needs ``pip install "stepgraph[postgres]"`` (``psycopg[binary]`` and ``psycopg-pool``).
psycopg's async API only runs on asyncio, so the saver uses psycopg's *sync*
``ConnectionPool`` from worker threads (``anyio.to_thread``): it works on trio and
asyncio and never blocks the event loop.

The tables (``stepgraph_checkpoints``, ``stepgraph_writes``, ``stepgraph_schema_version``)
are created, or migrated, on first use or by :meth:`PostgresSaver.setup`, in the first
schema of the connection's ``search_path``; concurrent migrators wait for each other.
Each ``aput`` / ``aput_writes`` / ``adelete_thread`` is one transaction.

Thread leases are session-level advisory locks held on one dedicated connection per
saver. The server drops them the moment that connection ends, so a crashed process
never blocks a thread (it may take the server a moment to notice a killed client). If
the lease connection is lost while the process lives (server restart, network cut),
its leases are gone too and another process may take those threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, Final

import anyio
import anyio.to_thread
import psycopg
from psycopg_pool import ConnectionPool

from ._lifecycle import SaverContext
from ._sql import SqlSaverBase
from .errors import CheckpointError, ThreadBusyError
from .serde import Serializer

__all__ = ["PostgresSaver"]

#: Schema migrations, in order; version N is ``_MIGRATIONS[N - 1]``. Append only.
#: Text columns use the "C" collation: byte order, like Python's, for checkpoint ids.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE stepgraph_checkpoints (
            thread_id TEXT COLLATE "C" NOT NULL,
            checkpoint_ns TEXT COLLATE "C" NOT NULL,
            checkpoint_id TEXT COLLATE "C" NOT NULL,
            parent_checkpoint_id TEXT COLLATE "C",
            checkpoint BYTEA NOT NULL,
            metadata BYTEA NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
        )""",
        """CREATE INDEX stepgraph_checkpoints_by_id
            ON stepgraph_checkpoints (checkpoint_id, thread_id, checkpoint_ns)""",
        """CREATE TABLE stepgraph_writes (
            thread_id TEXT COLLATE "C" NOT NULL,
            checkpoint_ns TEXT COLLATE "C" NOT NULL,
            checkpoint_id TEXT COLLATE "C" NOT NULL,
            task_id TEXT COLLATE "C" NOT NULL,
            idx INTEGER NOT NULL,
            task_path TEXT COLLATE "C" NOT NULL,
            channel TEXT NOT NULL,
            type TEXT NOT NULL,
            value BYTEA NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
        )""",
    ),
)

#: Advisory lock key that serializes schema migrations (any bigint unlikely to clash).
_MIGRATION_LOCK: Final = 0x5354_4550_4752_4150  # "STEPGRAP"


def _lease_key(schema: str, thread_id: str, checkpoint_ns: str) -> int:
    """A signed 64-bit advisory-lock key for one thread of one schema."""
    digest = hashlib.blake2b(
        f"stepgraph-lease\0{schema}\0{thread_id}\0{checkpoint_ns}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresSaver(SqlSaverBase):
    """Checkpoints in the PostgreSQL database at ``conninfo`` (a URL or ``key=value`` string).

    ``min_size`` / ``max_size`` size the connection pool (plus one connection for thread
    leases); ``timeout`` is how long an operation waits for a pooled connection. Close
    the saver with :meth:`aclose` / :meth:`close`, or use :meth:`from_conn_string`.
    """

    _placeholder = "%s"

    def __init__(
        self,
        conninfo: str,
        *,
        serde: Serializer | None = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(serde=serde)
        self.conninfo = conninfo
        self._timeout = timeout
        self._pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max(min_size, max_size),
            open=False,
            kwargs={"autocommit": True},
            timeout=timeout,
            name="stepgraph-checkpoints",
        )
        self._setup_lock = threading.Lock()
        self._ready = False
        self._closed = False
        self._schema = ""
        self._lease_lock = threading.Lock()
        self._lease_conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._held: dict[tuple[str, str], int] = {}

    @classmethod
    def from_conn_string(cls, conninfo: str, **kwargs: Any) -> SaverContext[PostgresSaver]:
        """A context manager (``with`` or ``async with``) giving a ready saver, with its
        schema migrated, and closing it on exit; ``kwargs`` go to the constructor."""
        return SaverContext(lambda: cls(conninfo, **kwargs))

    def __repr__(self) -> str:
        return "PostgresSaver(<conninfo>)"  # the conninfo may hold a password

    # connections, transactions, schema ------------------------------------------------

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        with self._pool.connection() as conn, conn.transaction():
            if not write:  # one snapshot for a checkpoint and its writes
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def _executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with conn.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _migrate(self) -> None:
        with self._transaction(write=True) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS stepgraph_schema_version "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            row = conn.execute(
                "SELECT COALESCE(MAX(version), 0), current_schema() FROM stepgraph_schema_version"
            ).fetchone()
            assert row is not None
            current, schema = row
            if current > len(_MIGRATIONS):
                raise CheckpointError(
                    f"The database has checkpoint schema version {current}, newer than this "
                    f"stepgraph knows ({len(_MIGRATIONS)}). Upgrade stepgraph to use it."
                )
            for version in range(current + 1, len(_MIGRATIONS) + 1):  # in order, all or none
                for statement in _MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO stepgraph_schema_version (version) VALUES (%s)", (version,)
                )
        self._schema = str(schema)

    def _ensure_ready(self) -> None:
        if self._closed:
            raise CheckpointError(f"{self!r} is closed; create a new saver to use the database.")
        if self._ready:
            return
        with self._setup_lock:
            if not self._ready:
                try:
                    self._pool.open(wait=True, timeout=self._timeout)
                except psycopg.Error as exc:
                    raise CheckpointError(
                        f"Cannot connect to PostgreSQL for checkpoints: {exc}. Check the "
                        "conninfo given to PostgresSaver and that the server is running."
                    ) from exc
                except Exception as exc:  # psycopg_pool.PoolTimeout and friends
                    raise CheckpointError(
                        f"Cannot connect to PostgreSQL for checkpoints ({exc!r}). Check the "
                        "conninfo given to PostgresSaver and that the server is running."
                    ) from exc
                self._migrate()
                self._ready = True

    def setup(self) -> None:
        """Connect and create or migrate the schema now (otherwise done on first use)."""
        self._ensure_ready()

    async def asetup(self) -> None:
        """Async :meth:`setup`."""
        await anyio.to_thread.run_sync(self._ensure_ready)

    def close(self) -> None:
        """Release held leases and close every connection; the saver is unusable after."""
        with self._lease_lock:
            if self._closed:
                return
            self._closed = True
            self._held.clear()
            lease_conn, self._lease_conn = self._lease_conn, None
        if lease_conn is not None:
            lease_conn.close()  # ends the session: the server drops its advisory locks
        self._pool.close()

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        await anyio.to_thread.run_sync(self.close)

    # leases --------------------------------------------------------------------------

    def _lease_connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        conn = self._lease_conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
                self._held.clear()  # the old session, and its locks, are gone
            conn = psycopg.connect(self.conninfo, autocommit=True)
            self._lease_conn = conn
        return conn

    def _try_lock(self, lock_key: int) -> tuple[Any, ...] | None:
        conn = self._lease_connection()
        row: tuple[Any, ...] | None = conn.execute(
            "SELECT pg_try_advisory_lock(%s)", (lock_key,)
        ).fetchone()
        return row

    def _acquire(self, thread_id: str, ns: str) -> bool:
        key = (thread_id, ns)
        lock_key = _lease_key(self._schema, thread_id, ns)
        with self._lease_lock:
            # Session advisory locks are re-entrant, so this process's own leases are
            # checked here rather than by the server.
            if key in self._held or self._closed:
                return False
            try:
                row = self._try_lock(lock_key)
            except psycopg.OperationalError:
                if self._lease_conn is None or not self._lease_conn.broken:
                    raise
                row = self._try_lock(lock_key)  # the session died: once more, on a new one
            if row is None or not row[0]:
                return False
            self._held[key] = lock_key
            return True

    def _release(self, thread_id: str, ns: str) -> None:
        with self._lease_lock:
            lock_key = self._held.pop((thread_id, ns), None)
            conn = self._lease_conn
            if lock_key is None or conn is None or conn.closed:
                return
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))
            except psycopg.Error:
                pass  # the connection failed: the session and its locks are gone anyway

    def thread_lease(
        self, thread_id: str, checkpoint_ns: str = ""
    ) -> AbstractAsyncContextManager[None]:
        """Exclusive run lease on a thread, across every process using this database."""
        return self._lease(str(thread_id), checkpoint_ns)

    @asynccontextmanager
    async def _lease(self, thread_id: str, ns: str) -> AsyncIterator[None]:
        with anyio.CancelScope(shield=True):  # a cancelled acquire must not leak the lock
            acquired = await self._call(self._acquire, thread_id, ns)
        if not acquired:
            raise ThreadBusyError(thread_id, ns)
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._release, thread_id, ns)
