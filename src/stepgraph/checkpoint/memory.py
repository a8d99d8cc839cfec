"""An in-process checkpointer for tests, notebooks and short-lived programs.

Values are serialized exactly as the database savers do (so a value that cannot be
stored fails here too, and readers never share objects with the run), but everything
lives in this process's memory and disappears with it.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, NamedTuple

import anyio.lowlevel

from ._codec import (
    EncodedValues,
    EncodedWrite,
    WriteRow,
    decode_channel_values,
    decode_metadata_whole,
    decode_writes,
    encode_channel_values,
    encode_metadata_whole,
    encode_write_rows,
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
from .errors import CheckpointConfigError, ThreadBusyError
from .serde import Serializer

__all__ = ["InMemorySaver", "MemorySaver"]

_Key = tuple[str, str, str]  # (thread_id, checkpoint_ns, checkpoint_id)


_VALUES = 2  # the index of _Stored.values


class _Stored(NamedTuple):
    """A stored checkpoint's fields (kept as a plain tuple: see ``_checkpoints``)."""

    ts: str
    v: int
    values: EncodedValues
    """Channel → encoded value; unchanged channels share their parent's bytes."""
    metadata: tuple[str, bytes] | bytes
    parent_id: str | None


class InMemorySaver(BaseCheckpointSaver):
    """Checkpoints in a dict, keyed by ``(thread_id, checkpoint_ns, checkpoint_id)``.

    Safe to share between tasks, threads and event loops (one lock guards the dicts).
    Thread leases are exclusive within this saver object only.
    """

    def __init__(self, *, serde: Serializer | None = None) -> None:
        super().__init__(serde=serde)
        self._lock = threading.Lock()
        # plain tuples, which the garbage collector stops tracking (a NamedTuple it keeps
        # scanning: with many checkpoints stored that slowed every collection)
        self._checkpoints: dict[_Key, tuple[Any, ...]] = {}
        self._writes: dict[_Key, dict[tuple[str, int], WriteRow]] = {}
        self._leases: set[tuple[str, str]] = set()
        self._latest: dict[tuple[str, str], str] = {}
        """(thread_id, checkpoint_ns) → its greatest checkpoint id (no scan per lookup)."""

    def _tuple(self, key: _Key, row: tuple[Any, ...], rows: list[WriteRow]) -> CheckpointTuple:
        thread_id, ns, checkpoint_id = key
        stored = _Stored._make(row)
        writes = [EncodedWrite._make(w) for w in rows]
        return CheckpointTuple(
            config=make_config(thread_id, ns, checkpoint_id),
            checkpoint=Checkpoint(
                id=checkpoint_id,
                ts=stored.ts,
                channel_values=decode_channel_values(self.serde, stored.values),
                v=stored.v,
            ),
            metadata=decode_metadata_whole(self.serde, stored.metadata),
            parent_config=(
                None if stored.parent_id is None else make_config(thread_id, ns, stored.parent_id)
            ),
            pending_writes=decode_writes(self.serde, writes),
        )

    async def aget_tuple(self, config: ConfigLike) -> CheckpointTuple | None:
        await anyio.lowlevel.checkpoint()
        thread_id, ns, checkpoint_id = parse_config(config, "aget_tuple")
        with self._lock:
            if checkpoint_id is None:
                latest = self._latest.get((thread_id, ns))
                if latest is None:
                    return None
                checkpoint_id = latest
            key = (thread_id, ns, checkpoint_id)
            stored = self._checkpoints.get(key)
            writes = list(self._writes.get(key, {}).values())
        return None if stored is None else self._tuple(key, stored, writes)

    async def alist(
        self,
        config: ConfigLike | None,
        *,
        filter: Mapping[str, Any] | None = None,
        before: ConfigLike | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        await anyio.lowlevel.checkpoint()
        thread_id = ns = checkpoint_id = None
        if config is not None:
            thread_id, _, checkpoint_id = parse_config(config, "alist")
            ns = (config.get("configurable") or {}).get("checkpoint_ns")
        before_id = None
        if before is not None:
            before_id = (before.get("configurable") or {}).get("checkpoint_id")
        with self._lock:
            keys = [
                k
                for k in self._checkpoints
                if (thread_id is None or k[0] == thread_id)
                and (ns is None or k[1] == ns)
                and (checkpoint_id is None or k[2] == checkpoint_id)
                and (before_id is None or k[2] < before_id)
            ]
        keys.sort(key=lambda k: (k[2], k[0], k[1]), reverse=True)
        remaining = limit
        for key in keys:
            if remaining is not None and remaining <= 0:
                return
            with self._lock:
                stored = self._checkpoints.get(key)
                writes = list(self._writes.get(key, {}).values())
            if stored is None:  # deleted while we were listing
                continue
            if filter and not metadata_matches(
                decode_metadata_whole(self.serde, _Stored._make(stored).metadata), filter
            ):
                continue
            yield self._tuple(key, stored, writes)
            if remaining is not None:
                remaining -= 1

    async def aput(
        self, config: ConfigLike, checkpoint: Checkpoint, metadata: Mapping[str, Any]
    ) -> ConfigDict:
        await anyio.lowlevel.checkpoint_if_cancelled()  # no yield: a step saves twice
        return self._put(config, checkpoint, metadata)

    def _put(
        self, config: ConfigLike, checkpoint: Checkpoint, metadata: Mapping[str, Any]
    ) -> ConfigDict:
        """:meth:`aput` without its cancellation check."""
        thread_id, ns, parent_id = parse_config(config, "aput")
        self._store(thread_id, ns, parent_id, checkpoint, metadata)
        return make_config(thread_id, ns, checkpoint.id)

    def _store(
        self,
        thread_id: str,
        ns: str,
        parent_id: str | None,
        checkpoint: Checkpoint,
        metadata: Mapping[str, Any],
    ) -> None:
        """:meth:`_put` with the config already parsed (the engine calls it inline)."""
        parent = None
        if parent_id is not None and checkpoint.changed is not None:
            with self._lock:
                parent = self._checkpoints.get((thread_id, ns, parent_id))
        stored = (
            checkpoint.ts,
            checkpoint.v,
            encode_channel_values(
                self.serde, checkpoint, None if parent is None else parent[_VALUES]
            ),
            encode_metadata_whole(self.serde, metadata),
            parent_id,
        )
        with self._lock:
            self._checkpoints[(thread_id, ns, checkpoint.id)] = stored
            latest = self._latest.get((thread_id, ns))
            if latest is None or checkpoint.id > latest:
                self._latest[thread_id, ns] = checkpoint.id

    async def aput_writes(
        self,
        config: ConfigLike,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await anyio.lowlevel.checkpoint_if_cancelled()
        self._put_writes(config, writes, task_id, task_path)

    def _put_writes(
        self,
        config: ConfigLike,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """:meth:`aput_writes` without its cancellation check."""
        thread_id, ns, checkpoint_id = parse_config(config, "aput_writes")
        if checkpoint_id is None:
            raise CheckpointConfigError("aput_writes", "checkpoint_id")
        self._store_writes(thread_id, ns, checkpoint_id, writes, task_id, task_path)

    def _store_writes(
        self,
        thread_id: str,
        ns: str,
        checkpoint_id: str,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """:meth:`_put_writes` with the config already parsed (the engine calls it inline)."""
        encoded = encode_write_rows(self.serde, writes, task_id, task_path)
        with self._lock:
            stored = self._writes.setdefault((thread_id, ns, checkpoint_id), {})
            for w in encoded:
                stored[w[0], w[2]] = w

    async def adelete_thread(self, thread_id: str) -> None:
        await anyio.lowlevel.checkpoint()
        thread_id = str(thread_id)
        with self._lock:
            for key in [k for k in self._checkpoints if k[0] == thread_id]:
                del self._checkpoints[key]
            for key in [k for k in self._writes if k[0] == thread_id]:
                del self._writes[key]
            for pair in [p for p in self._latest if p[0] == thread_id]:
                del self._latest[pair]

    def thread_lease(
        self, thread_id: str, checkpoint_ns: str = ""
    ) -> AbstractAsyncContextManager[None]:
        """Exclusive run lease on a thread, within this saver object."""
        return self._lease(str(thread_id), checkpoint_ns)

    @asynccontextmanager
    async def _lease(self, thread_id: str, checkpoint_ns: str) -> AsyncIterator[None]:
        key = (thread_id, checkpoint_ns)
        with self._lock:
            if key in self._leases:
                raise ThreadBusyError(thread_id, checkpoint_ns)
            self._leases.add(key)
        try:
            yield
        finally:
            with self._lock:
                self._leases.discard(key)


MemorySaver = InMemorySaver
"""LangGraph's older name for :class:`InMemorySaver`."""
