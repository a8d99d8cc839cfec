"""A checkpointer in one SQLite file (stdlib ``sqlite3``), safe across processes.

Usage::

    async with SqliteSaver.from_conn_string("checkpoints.sqlite") as saver:
        graph = builder.compile(checkpointer=saver)

    with SqliteSaver.from_conn_string("checkpoints.sqlite") as saver:  # sync code
        ...

Every database call runs in a worker thread (``anyio.to_thread``), so the saver works
on trio and asyncio and never blocks the event loop. Each ``aput`` / ``aput_writes`` /
``adelete_thread`` is one transaction.

Durability: the file is in WAL mode. With the default ``synchronous="FULL"`` a
checkpoint whose ``aput`` returned survives a killed process *and* a power cut or OS
crash; ``synchronous="NORMAL"`` is faster and still loses nothing when only the process
dies (the last transactions may roll back after a power cut). SQLite's journaling keeps
the file consistent either way. The schema is created, or migrated, on first use and
recorded in the ``stepgraph_schema_version`` table.

Thread leases are rows in the file holding an owner and an expiry that a background
thread renews every ``lease_ttl / 3`` seconds. A lease whose owner was a process on this
host that no longer exists is taken over at once; any other stale lease (another host,
a frozen process) after ``lease_ttl`` seconds without renewal.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from typing import Any, Final, Literal, TypeVar

import anyio
import anyio.to_thread

from ._lease import new_owner, owner_is_alive
from ._lifecycle import SaverContext
from ._sql import SqlSaverBase
from .errors import CheckpointError, ThreadBusyError
from .serde import Serializer

__all__ = ["SqliteSaver"]

T = TypeVar("T")

#: Schema migrations, in order; version N is ``_MIGRATIONS[N - 1]``. Append only.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE stepgraph_checkpoints (
            thread_id TEXT NOT NULL,
            checkpoint_ns TEXT NOT NULL,
            checkpoint_id TEXT NOT NULL,
            parent_checkpoint_id TEXT,
            checkpoint BLOB NOT NULL,
            metadata BLOB NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
        )""",
        """CREATE INDEX stepgraph_checkpoints_by_id
            ON stepgraph_checkpoints (checkpoint_id, thread_id, checkpoint_ns)""",
        """CREATE TABLE stepgraph_writes (
            thread_id TEXT NOT NULL,
            checkpoint_ns TEXT NOT NULL,
            checkpoint_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            task_path TEXT NOT NULL,
            channel TEXT NOT NULL,
            type TEXT NOT NULL,
            value BLOB NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
        )""",
        """CREATE TABLE stepgraph_leases (
            thread_id TEXT NOT NULL,
            checkpoint_ns TEXT NOT NULL,
            owner TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_ns)
        )""",
    ),
)


def _idle_and_open(conn: sqlite3.Connection) -> bool:
    """Whether ``conn`` can go back to the pool: open, and not stuck in a transaction."""
    try:
        return not conn.in_transaction
    except sqlite3.ProgrammingError:  # closed
        return False


class _Pool:
    """Connections shared by worker threads; each is used by one thread at a time."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], size: int) -> None:
        self._connect = connect
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._slots:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._connect()
            try:
                yield conn
            finally:
                with self._lock:
                    keep = not self._closed and _idle_and_open(conn)
                    if keep:
                        self._idle.append(conn)
                if not keep:
                    conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class SqliteSaver(SqlSaverBase):
    """Checkpoints in the SQLite file at ``path`` (created if missing).

    ``synchronous`` picks the durability level (see the module docstring);
    ``lease_ttl`` is how long an unrenewed thread lease stays valid; ``busy_timeout``
    how long a write waits for another process's write; ``max_connections`` caps the
    connections this saver opens. ``":memory:"`` gives a private in-memory database
    (one connection). Close the saver with :meth:`aclose` / :meth:`close`, or use
    :meth:`from_conn_string` as a context manager.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        serde: Serializer | None = None,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        lease_ttl: float = 30.0,
        busy_timeout: float = 30.0,
        max_connections: int = 8,
    ) -> None:
        super().__init__(serde=serde)
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}")
        if lease_ttl <= 0:
            raise ValueError(f"lease_ttl must be positive, not {lease_ttl!r}")
        self.path = os.fspath(path)
        self._synchronous = synchronous
        self._lease_ttl = lease_ttl
        self._busy_timeout = busy_timeout
        in_memory = self.path == ":memory:" or self.path.startswith("file::memory:")
        self._pool = _Pool(self._connect, 1 if in_memory else max(1, max_connections))
        self._write_lock = threading.Lock()
        self._setup_lock = threading.Lock()
        self._ready = False
        self._closed = False
        self._lease_lock = threading.Lock()
        self._held: dict[tuple[str, str], str] = {}
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()

    @classmethod
    def from_conn_string(
        cls, path: str | os.PathLike[str], **kwargs: Any
    ) -> SaverContext[SqliteSaver]:
        """A context manager (``with`` or ``async with``) giving a ready saver for
        ``path`` and closing it on exit; ``kwargs`` go to the constructor."""
        return SaverContext(lambda: cls(path, **kwargs))

    def __repr__(self) -> str:
        return f"SqliteSaver({self.path!r})"

    # connections, transactions, schema ------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,  # we issue BEGIN / COMMIT ourselves
            check_same_thread=False,  # the pool hands each connection to one thread at a time
            uri=self.path.startswith("file:"),
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        with self._pool.connection() as conn, self._write_lock if write else nullcontext():
            # IMMEDIATE takes the write lock up front, so the transaction never has to
            # be retried halfway; plain BEGIN gives readers one consistent snapshot.
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                try:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the pool drops a connection still in a transaction
                raise

    def _migrate(self) -> None:
        with self._transaction(write=True) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS stepgraph_schema_version "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            (current,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM stepgraph_schema_version"
            ).fetchone()
            if current > len(_MIGRATIONS):
                raise CheckpointError(
                    f"{self.path} has checkpoint schema version {current}, newer than this "
                    f"stepgraph knows ({len(_MIGRATIONS)}). Upgrade stepgraph to use it."
                )
            for version in range(current + 1, len(_MIGRATIONS) + 1):  # in order, all or none
                for statement in _MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO stepgraph_schema_version VALUES (?, datetime('now'))",
                    (version,),
                )

    def _ensure_ready(self) -> None:
        if self._closed:
            raise CheckpointError(f"{self!r} is closed; create a new saver to use {self.path}.")
        if self._ready:
            return
        with self._setup_lock:
            if not self._ready:
                self._migrate()
                self._ready = True

    def _executemany(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(sql, rows)

    def setup(self) -> None:
        """Create or migrate the schema now (otherwise it happens on first use)."""
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
            held, self._held = self._held, {}
            heartbeat = self._heartbeat
        self._stop.set()
        if heartbeat is not None and heartbeat is not threading.current_thread():
            heartbeat.join()
        if held and self._ready:
            try:
                with self._transaction(write=True) as conn:
                    conn.executemany(
                        "DELETE FROM stepgraph_leases "
                        "WHERE thread_id = ? AND checkpoint_ns = ? AND owner = ?",
                        [(t, ns, owner) for (t, ns), owner in held.items()],
                    )
            except sqlite3.Error:
                pass  # they expire by themselves
        self._pool.close()

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        await anyio.to_thread.run_sync(self.close)

    # leases --------------------------------------------------------------------------

    def _acquire(self, thread_id: str, ns: str, owner: str) -> bool:
        key = (thread_id, ns)
        with self._lease_lock:
            if key in self._held or self._closed:
                return False
            self._held[key] = owner  # reserve, so no other task here races us to the row
        try:
            with self._transaction(write=True) as conn:
                row = conn.execute(
                    "SELECT owner, expires_at FROM stepgraph_leases "
                    "WHERE thread_id = ? AND checkpoint_ns = ?",
                    key,
                ).fetchone()
                now = time.time()
                if row is not None and row[1] > now and owner_is_alive(row[0]):
                    acquired = False
                else:
                    conn.execute(
                        "INSERT OR REPLACE INTO stepgraph_leases VALUES (?, ?, ?, ?)",
                        (thread_id, ns, owner, now + self._lease_ttl),
                    )
                    acquired = True
        except BaseException:
            acquired = False
            raise
        finally:
            with self._lease_lock:
                if not acquired:
                    del self._held[key]
                elif self._heartbeat is None:
                    self._stop.clear()
                    self._heartbeat = threading.Thread(
                        target=self._renew_leases, name="stepgraph-sqlite-lease", daemon=True
                    )
                    self._heartbeat.start()
        return acquired

    def _release(self, thread_id: str, ns: str, owner: str) -> None:
        key = (thread_id, ns)
        with self._lease_lock:
            if self._held.get(key) != owner or self._closed:
                return
            del self._held[key]
        with self._transaction(write=True) as conn:
            conn.execute(
                "DELETE FROM stepgraph_leases "
                "WHERE thread_id = ? AND checkpoint_ns = ? AND owner = ?",
                (thread_id, ns, owner),
            )

    def _renew_leases(self) -> None:
        """The heartbeat thread: renew until no lease is held or the saver closes."""
        while not self._stop.wait(self._lease_ttl / 3):
            with self._lease_lock:
                if not self._held:
                    self._heartbeat = None
                    return
            try:
                self._renew_once()
            except sqlite3.Error:
                pass  # transient (e.g. busy); the next round retries well before expiry

    def _renew_once(self) -> int:
        """Push every held lease's expiry ``lease_ttl`` ahead; returns how many were renewed."""
        with self._lease_lock:
            held = list(self._held.items())
        if not held:
            return 0
        expires_at = time.time() + self._lease_ttl
        with self._transaction(write=True) as conn:
            renewed = 0
            for (thread_id, ns), owner in held:
                renewed += conn.execute(
                    "UPDATE stepgraph_leases SET expires_at = ? "
                    "WHERE thread_id = ? AND checkpoint_ns = ? AND owner = ?",
                    (expires_at, thread_id, ns, owner),
                ).rowcount
        return renewed

    def thread_lease(
        self, thread_id: str, checkpoint_ns: str = ""
    ) -> AbstractAsyncContextManager[None]:
        """Exclusive run lease on a thread, across every process using this file."""
        return self._lease(str(thread_id), checkpoint_ns)

    @asynccontextmanager
    async def _lease(self, thread_id: str, ns: str) -> AsyncIterator[None]:
        owner = new_owner()
        with anyio.CancelScope(shield=True):  # a cancelled acquire must not leak the row
            acquired = await self._call(self._acquire, thread_id, ns, owner)
        if not acquired:
            raise ThreadBusyError(thread_id, ns)
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._release, thread_id, ns, owner)
