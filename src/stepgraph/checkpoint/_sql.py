"""What the SQLite and PostgreSQL savers share: tables, queries and the async surface.

Subclasses provide connections (``_transaction``), placeholders, schema preparation
(``_ensure_ready``) and leases. Every database call runs in a worker thread through
``anyio.to_thread``, so both savers work on trio and asyncio alike; values are encoded
and decoded in that thread too, keeping big states off the event loop.
"""

from __future__ import annotations

import abc
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, TypeVar

import anyio.to_thread

from ._codec import (
    EncodedValues,
    EncodedWrite,
    decode_checkpoint,
    decode_metadata,
    decode_writes,
    encode_channel_values,
    encode_metadata,
    encode_writes,
    pack_checkpoint,
)
from .base import (
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointTuple,
    ConfigDict,
    ConfigLike,
    make_config,
    metadata_matches,
    parse_config,
)
from .errors import CheckpointConfigError
from .serde import Serializer

__all__ = ["SqlSaverBase"]

T = TypeVar("T")

_PAGE: Final = 100
_COLUMNS: Final = (
    "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata"
)
_WRITE_COLUMNS: Final = (
    "thread_id, checkpoint_ns, checkpoint_id, task_id, idx, task_path, channel, type, value"
)

_RECENT: Final = 64
"""How many checkpoints' value encodings a saver keeps for their children to reuse."""

_Row = tuple[Any, ...]
_Cursor = tuple[str, str, str]  # (checkpoint_id, thread_id, checkpoint_ns) of the last row


class SqlSaverBase(BaseCheckpointSaver):
    """A saver over DB-API-like connections (``conn.execute(sql, params).fetchall()``).

    SQL is written with ``?`` placeholders; subclasses set :attr:`_placeholder`.
    """

    _placeholder: str = "?"

    def __init__(self, *, serde: Serializer | None = None) -> None:
        super().__init__(serde=serde)
        self._recent: OrderedDict[tuple[str, str, str], EncodedValues] = OrderedDict()
        """The value encodings of the checkpoints this saver stored last, by (thread_id,
        checkpoint_ns, checkpoint_id): a child whose ``Checkpoint.changed`` leaves a
        channel out reuses its parent's encoding (the stored layout is unchanged)."""
        self._recent_lock = threading.Lock()

    @abc.abstractmethod
    def _transaction(self, *, write: bool) -> AbstractContextManager[Any]:
        """A connection inside a transaction: committed on success, rolled back on error."""

    @abc.abstractmethod
    def _ensure_ready(self) -> None:
        """Open connections and migrate the schema if not done yet; raise if closed."""

    @abc.abstractmethod
    def _executemany(self, conn: Any, sql: str, rows: list[_Row]) -> None:
        """Run ``sql`` once per row."""

    def _sql(self, sql: str) -> str:
        return sql if self._placeholder == "?" else sql.replace("?", self._placeholder)

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        self._ensure_ready()
        return fn(*args)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(self._run, fn, *args)

    # reads ---------------------------------------------------------------------------

    def _read_writes(
        self, conn: Any, thread_id: str, ns: str, checkpoint_id: str
    ) -> list[EncodedWrite]:
        rows = conn.execute(
            self._sql(
                "SELECT task_id, task_path, idx, channel, type, value FROM stepgraph_writes "
                "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?"
            ),
            (thread_id, ns, checkpoint_id),
        ).fetchall()
        return [
            EncodedWrite(task_id, task_path, idx, channel, type_, bytes(value))
            for task_id, task_path, idx, channel, type_, value in rows
        ]

    def _build(
        self, row: _Row, metadata: dict[str, Any], writes: list[EncodedWrite]
    ) -> CheckpointTuple:
        thread_id, ns, checkpoint_id, parent_id, blob, _ = row
        return CheckpointTuple(
            config=make_config(thread_id, ns, checkpoint_id),
            checkpoint=decode_checkpoint(self.serde, bytes(blob)),
            metadata=metadata,
            parent_config=None if parent_id is None else make_config(thread_id, ns, parent_id),
            pending_writes=decode_writes(self.serde, writes),
        )

    def _get(self, thread_id: str, ns: str, checkpoint_id: str | None) -> CheckpointTuple | None:
        with self._transaction(write=False) as conn:
            if checkpoint_id is None:
                row = conn.execute(
                    self._sql(
                        f"SELECT {_COLUMNS} FROM stepgraph_checkpoints "
                        "WHERE thread_id = ? AND checkpoint_ns = ? "
                        "ORDER BY checkpoint_id DESC LIMIT 1"
                    ),
                    (thread_id, ns),
                ).fetchone()
            else:
                row = conn.execute(
                    self._sql(
                        f"SELECT {_COLUMNS} FROM stepgraph_checkpoints "
                        "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?"
                    ),
                    (thread_id, ns, checkpoint_id),
                ).fetchone()
            if row is None:
                return None
            writes = self._read_writes(conn, thread_id, ns, row[2])
        return self._build(row, decode_metadata(self.serde, bytes(row[5])), writes)

    async def aget_tuple(self, config: ConfigLike) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = parse_config(config, "aget_tuple")
        return await self._call(self._get, thread_id, ns, checkpoint_id)

    def _list_page(
        self,
        where: list[str],
        params: list[Any],
        after: _Cursor | None,
        size: int,
        filter: Mapping[str, Any] | None,
    ) -> tuple[list[CheckpointTuple], _Cursor | None]:
        """One page of matches, and where to continue (``None`` when exhausted)."""
        conditions = list(where)
        args = list(params)
        if after is not None:
            conditions.append("(checkpoint_id, thread_id, checkpoint_ns) < (?, ?, ?)")
            args.extend(after)
        sql = f"SELECT {_COLUMNS} FROM stepgraph_checkpoints"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY checkpoint_id DESC, thread_id DESC, checkpoint_ns DESC LIMIT ?"
        found = []
        with self._transaction(write=False) as conn:
            rows = conn.execute(self._sql(sql), (*args, size)).fetchall()
            for row in rows:
                metadata = decode_metadata(self.serde, bytes(row[5]))
                if metadata_matches(metadata, filter):
                    found.append((row, metadata, self._read_writes(conn, row[0], row[1], row[2])))
        items = [self._build(row, metadata, writes) for row, metadata, writes in found]
        last = (rows[-1][2], rows[-1][0], rows[-1][1]) if len(rows) == size else None
        return items, last

    async def alist(
        self,
        config: ConfigLike | None,
        *,
        filter: Mapping[str, Any] | None = None,
        before: ConfigLike | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        where: list[str] = []
        params: list[Any] = []
        if config is not None:
            thread_id, _, checkpoint_id = parse_config(config, "alist")
            where.append("thread_id = ?")
            params.append(thread_id)
            ns = (config.get("configurable") or {}).get("checkpoint_ns")
            if ns is not None:
                where.append("checkpoint_ns = ?")
                params.append(str(ns))
            if checkpoint_id is not None:
                where.append("checkpoint_id = ?")
                params.append(checkpoint_id)
        if before is not None:
            before_id = (before.get("configurable") or {}).get("checkpoint_id")
            if before_id is not None:
                where.append("checkpoint_id < ?")
                params.append(str(before_id))
        remaining = limit
        after: _Cursor | None = None
        while remaining is None or remaining > 0:
            size = _PAGE if filter or remaining is None else min(remaining, _PAGE)
            items, after = await self._call(self._list_page, where, params, after, size, filter)
            for item in items:
                yield item
                if remaining is not None:
                    remaining -= 1
                    if remaining <= 0:
                        return
            if after is None:
                return

    # writes --------------------------------------------------------------------------

    def _put(
        self,
        thread_id: str,
        ns: str,
        parent_id: str | None,
        checkpoint: Checkpoint,
        metadata: Mapping[str, Any],
    ) -> None:
        parent = None
        if parent_id is not None and checkpoint.changed is not None:
            with self._recent_lock:
                parent = self._recent.get((thread_id, ns, parent_id))
        values = encode_channel_values(self.serde, checkpoint, parent)
        blob = pack_checkpoint(checkpoint, values)
        meta = encode_metadata(self.serde, metadata)
        with self._transaction(write=True) as conn:
            conn.execute(
                self._sql(
                    f"INSERT INTO stepgraph_checkpoints ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET "
                    "parent_checkpoint_id = excluded.parent_checkpoint_id, "
                    "checkpoint = excluded.checkpoint, metadata = excluded.metadata"
                ),
                (thread_id, ns, checkpoint.id, parent_id, blob, meta),
            )
        with self._recent_lock:  # stored: its children may reuse these
            recent = self._recent
            recent[thread_id, ns, checkpoint.id] = values
            recent.move_to_end((thread_id, ns, checkpoint.id))
            if parent is not None:
                recent.pop((thread_id, ns, parent_id), None)  # type: ignore[arg-type]
            while len(recent) > _RECENT:
                recent.popitem(last=False)

    async def aput(
        self, config: ConfigLike, checkpoint: Checkpoint, metadata: Mapping[str, Any]
    ) -> ConfigDict:
        thread_id, ns, parent_id = parse_config(config, "aput")
        await self._call(self._put, thread_id, ns, parent_id, checkpoint, metadata)
        return make_config(thread_id, ns, checkpoint.id)

    def _put_writes(
        self,
        thread_id: str,
        ns: str,
        checkpoint_id: str,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> None:
        encoded = encode_writes(self.serde, writes, task_id, task_path)
        if not encoded:
            return
        rows: list[_Row] = [
            (thread_id, ns, checkpoint_id, w.task_id, w.idx, w.task_path, *w.row()) for w in encoded
        ]
        with self._transaction(write=True) as conn:
            self._executemany(
                conn,
                self._sql(
                    f"INSERT INTO stepgraph_writes ({_WRITE_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) "
                    "DO UPDATE SET task_path = excluded.task_path, channel = excluded.channel, "
                    "type = excluded.type, value = excluded.value"
                ),
                rows,
            )

    async def aput_writes(
        self,
        config: ConfigLike,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        thread_id, ns, checkpoint_id = parse_config(config, "aput_writes")
        if checkpoint_id is None:
            raise CheckpointConfigError("aput_writes", "checkpoint_id")
        await self._call(self._put_writes, thread_id, ns, checkpoint_id, writes, task_id, task_path)

    def _delete_thread(self, thread_id: str) -> None:
        with self._recent_lock:
            for key in [k for k in self._recent if k[0] == thread_id]:
                del self._recent[key]
        with self._transaction(write=True) as conn:
            conn.execute(
                self._sql("DELETE FROM stepgraph_checkpoints WHERE thread_id = ?"), (thread_id,)
            )
            conn.execute(
                self._sql("DELETE FROM stepgraph_writes WHERE thread_id = ?"), (thread_id,)
            )

    async def adelete_thread(self, thread_id: str) -> None:
        await self._call(self._delete_thread, str(thread_id))
