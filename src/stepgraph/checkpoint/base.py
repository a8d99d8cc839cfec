"""The checkpoint data model and the protocol every checkpointer implements.

A *thread* (``configurable.thread_id``) holds a chain of checkpoints per checkpoint
namespace (``configurable.checkpoint_ns``; ``""`` for the root graph, ``"node:<task_id>"``
for subgraphs). Each checkpoint records the engine's channel values after a superstep,
its metadata and its parent; *pending writes* are task results saved against a
checkpoint before the next one exists (so a resumed run does not redo finished tasks).

Savers are async-first; :class:`BaseCheckpointSaver` adds the sync methods on top.
"""

from __future__ import annotations

import abc
import functools
import os
import random
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from .errors import CheckpointConfigError
from .serde import Serializer

__all__ = [
    "SPECIAL_WRITE_INDEX",
    "BaseCheckpointSaver",
    "Checkpoint",
    "CheckpointTuple",
    "Checkpointer",
    "ConfigDict",
    "ConfigLike",
    "PendingWrite",
    "make_config",
    "metadata_matches",
    "new_checkpoint_id",
    "parse_config",
]

ConfigLike = Mapping[str, Any]
"""A run config as savers accept it: ``{"configurable": {"thread_id": ..., ...}, ...}``."""
ConfigDict = dict[str, Any]
"""A config as savers return it: ``{"configurable": {thread_id, checkpoint_ns, checkpoint_id}}``."""

SPECIAL_WRITE_INDEX: Final[Mapping[str, int]] = {
    "__error__": -1,
    "__scheduled__": -2,
    "__interrupt__": -3,
    "__resume__": -4,
}
"""Pending writes to these channels are stored under a fixed index instead of their
position, so saving one again for the same task replaces the previous one."""


@attrs.frozen(kw_only=True)
class Checkpoint:
    """The engine's channel values after one superstep.

    ``id`` sorts by creation time (see :func:`new_checkpoint_id`); ``ts`` is an ISO-8601
    UTC timestamp; ``channel_values`` maps engine channel names (state keys and internal
    trigger channels) to values and is opaque to savers, which store every value through
    their :class:`~stepgraph.checkpoint.serde.Serializer`.

    ``changed`` is a hint for savers, never stored: when set, only the channels it names
    may differ from the parent checkpoint's (the one ``aput``'s config names), so a saver
    that still holds the parent's encoded values may reuse them for the other channels.
    ``None`` (as in every loaded checkpoint) promises nothing; a saver may ignore it.
    """

    id: str
    ts: str
    channel_values: Mapping[str, Any]
    v: int = 1
    changed: frozenset[str] | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class PendingWrite:
    """One value a task wrote to a channel, saved against the checkpoint it ran from."""

    task_id: str
    channel: str
    value: Any


@attrs.frozen(kw_only=True)
class CheckpointTuple:
    """A stored checkpoint with its config, metadata, parent and pending writes.

    ``config`` and ``parent_config`` are ``{"configurable": {"thread_id",
    "checkpoint_ns", "checkpoint_id"}}``; ``parent_config`` is ``None`` for the first
    checkpoint of a thread. ``metadata`` is LangGraph-style: ``{"source": "input" |
    "loop" | "update" | "fork", "step": int, "parents": {...}, ...user keys}``.
    ``pending_writes`` are ordered by task path, task id, then write index.
    """

    config: ConfigDict
    checkpoint: Checkpoint
    metadata: Mapping[str, Any]
    parent_config: ConfigDict | None
    pending_writes: tuple[PendingWrite, ...] = ()


# --- checkpoint ids -------------------------------------------------------------------

_COUNTER_BITS: Final = 42  # 12 bits of rand_a + the top 30 bits of rand_b
_id_lock = threading.Lock()
_id_last_ms = 0
_id_counter = 0
_id_random = random.Random(secrets.randbits(128))
"""The ids' random bits: unpredictability is not needed, only distinct streams per process
(seeded from the OS, reseeded in a forked child), and it is much cheaper than ``secrets``."""


def _reseed_after_fork() -> None:
    # A forked child must not repeat its parent's sequence; moving one virtual
    # millisecond ahead keeps its own ids increasing.
    global _id_last_ms, _id_counter
    _id_last_ms += 1
    _id_counter = secrets.randbits(_COUNTER_BITS - 1)
    _id_random.seed(secrets.randbits(128))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_after_fork)


def new_checkpoint_id() -> str:
    """A new checkpoint id: a UUIDv7 string, strictly increasing within this process.

    The first 48 bits are the Unix time in milliseconds, followed by a 42-bit counter
    (random start each millisecond, +1 per id within it) and 32 random bits, so ids
    from one process sort in creation order as plain strings, and ids from different
    processes sort by their clocks.
    """
    global _id_last_ms, _id_counter
    with _id_lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _id_last_ms:
            _id_last_ms = now_ms
            _id_counter = secrets.randbits(_COUNTER_BITS - 1)  # headroom for increments
        else:  # same millisecond, or the clock went back: keep counting up
            _id_counter += 1
            if _id_counter >> _COUNTER_BITS:
                _id_last_ms += 1
                _id_counter = secrets.randbits(_COUNTER_BITS - 1)
        ms, counter = _id_last_ms, _id_counter
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76  # version 7
        | (counter >> 30) << 64
        | 0b10 << 62  # RFC 9562 variant
        | (counter & 0x3FFF_FFFF) << 32
        | _id_random.getrandbits(32)
    )
    h = f"{value:032x}"  # str(uuid.UUID(int=value)), without building the UUID
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --- configs ------------------------------------------------------------------------


def parse_config(config: ConfigLike, operation: str) -> tuple[str, str, str | None]:
    """``(thread_id, checkpoint_ns, checkpoint_id or None)`` from a run config.

    Raises :class:`~stepgraph.checkpoint.errors.CheckpointConfigError` naming
    ``operation`` when ``thread_id`` is missing.
    """
    configurable = config.get("configurable") or {}
    thread_id = configurable.get("thread_id")
    if thread_id is None:
        raise CheckpointConfigError(operation, "thread_id")
    checkpoint_id = configurable.get("checkpoint_id")
    return (
        str(thread_id),
        str(configurable.get("checkpoint_ns") or ""),
        str(checkpoint_id) if checkpoint_id else None,
    )


def make_config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> ConfigDict:
    """The config that names one checkpoint."""
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def metadata_matches(metadata: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """Whether every ``filter`` key is in ``metadata`` with an equal value."""
    if not filter:
        return True
    missing = object()
    return all(metadata.get(key, missing) == value for key, value in filter.items())


# --- the protocol -------------------------------------------------------------------


@runtime_checkable
class Checkpointer(Protocol):
    """What the engine needs from a checkpoint store. All methods are safe to call
    concurrently from many tasks, on trio and on asyncio."""

    async def aget_tuple(self, config: ConfigLike) -> CheckpointTuple | None:
        """The checkpoint named by ``config``'s ``checkpoint_id``, or the latest one of
        ``(thread_id, checkpoint_ns)`` when no id is given; ``None`` if there is none."""
        ...

    def alist(
        self,
        config: ConfigLike | None,
        *,
        filter: Mapping[str, Any] | None = None,
        before: ConfigLike | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Checkpoints newest first.

        ``config`` ``None`` lists every thread; with a ``thread_id`` only that thread
        (every namespace unless ``checkpoint_ns`` is given; one checkpoint if
        ``checkpoint_id`` is). ``filter`` keeps checkpoints whose metadata has equal
        values for all its keys; ``before`` keeps those older than its
        ``checkpoint_id``; ``limit`` caps the count.
        """
        ...

    async def aput(
        self, config: ConfigLike, checkpoint: Checkpoint, metadata: Mapping[str, Any]
    ) -> ConfigDict:
        """Store ``checkpoint`` in ``config``'s thread and namespace, with ``config``'s
        ``checkpoint_id`` (if any) as its parent; returns the new checkpoint's config.
        Storing the same id again replaces it."""
        ...

    async def aput_writes(
        self,
        config: ConfigLike,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Attach ``(channel, value)`` writes of ``task_id`` to the checkpoint named by
        ``config``. Writing the same (checkpoint, task, index) again replaces it."""
        ...

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint and pending write of ``thread_id`` (all namespaces)."""
        ...

    def thread_lease(
        self, thread_id: str, checkpoint_ns: str = ""
    ) -> AbstractAsyncContextManager[None]:
        """Hold the exclusive run lease on a thread for the ``async with`` block.

        A second lease on the same thread, from this or another process, raises
        :class:`~stepgraph.checkpoint.errors.ThreadBusyError` at once; the lease is
        released when the block exits, however it exits.
        """
        ...


# --- the base class -----------------------------------------------------------------


class BaseCheckpointSaver(abc.ABC):
    """Base for checkpointers: implement the async methods, inherit the sync ones.

    The sync methods (``get_tuple``, ``list``, ``put``, …) run the async ones through
    stepgraph's sync bridge; inside a node's worker thread they use that graph's event
    loop. Do not call them from async code — await the ``a``-methods there.
    """

    serde: Serializer
    """How values are encoded; pass ``serde=Serializer(allow_pickle=True)`` to opt into pickle."""

    def __init__(self, *, serde: Serializer | None = None) -> None:
        self.serde = serde if serde is not None else Serializer()

    @abc.abstractmethod
    async def aget_tuple(self, config: ConfigLike) -> CheckpointTuple | None:
        """See :meth:`Checkpointer.aget_tuple`."""

    @abc.abstractmethod
    def alist(
        self,
        config: ConfigLike | None,
        *,
        filter: Mapping[str, Any] | None = None,
        before: ConfigLike | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """See :meth:`Checkpointer.alist`."""

    @abc.abstractmethod
    async def aput(
        self, config: ConfigLike, checkpoint: Checkpoint, metadata: Mapping[str, Any]
    ) -> ConfigDict:
        """See :meth:`Checkpointer.aput`."""

    @abc.abstractmethod
    async def aput_writes(
        self,
        config: ConfigLike,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """See :meth:`Checkpointer.aput_writes`."""

    @abc.abstractmethod
    async def adelete_thread(self, thread_id: str) -> None:
        """See :meth:`Checkpointer.adelete_thread`."""

    @abc.abstractmethod
    def thread_lease(
        self, thread_id: str, checkpoint_ns: str = ""
    ) -> AbstractAsyncContextManager[None]:
        """See :meth:`Checkpointer.thread_lease`."""

    async def aget(self, config: ConfigLike) -> Checkpoint | None:
        """The checkpoint :meth:`aget_tuple` finds, without its metadata and writes."""
        found = await self.aget_tuple(config)
        return None if found is None else found.checkpoint

    # sync API ------------------------------------------------------------------------

    def get_tuple(self, config: ConfigLike) -> CheckpointTuple | None:
        """Sync :meth:`aget_tuple`."""
        from stepgraph._sync import run_sync

        return run_sync(self.aget_tuple, config)

    def get(self, config: ConfigLike) -> Checkpoint | None:
        """Sync :meth:`aget`."""
        from stepgraph._sync import run_sync

        return run_sync(self.aget, config)

    def put(
        self, config: ConfigLike, checkpoint: Checkpoint, metadata: Mapping[str, Any]
    ) -> ConfigDict:
        """Sync :meth:`aput`."""
        from stepgraph._sync import run_sync

        return run_sync(self.aput, config, checkpoint, metadata)

    def put_writes(
        self,
        config: ConfigLike,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Sync :meth:`aput_writes`."""
        from stepgraph._sync import run_sync

        run_sync(self.aput_writes, config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        """Sync :meth:`adelete_thread`."""
        from stepgraph._sync import run_sync

        run_sync(self.adelete_thread, thread_id)

    def list(
        self,
        config: ConfigLike | None,
        *,
        filter: Mapping[str, Any] | None = None,
        before: ConfigLike | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Sync :meth:`alist`; closing the iterator early releases everything."""
        from stepgraph._sync import iterate_sync

        listing = functools.partial(self.alist, config, filter=filter, before=before, limit=limit)
        return iterate_sync(lambda: _Listing(listing()))


class _Listing:
    """An ``alist`` iterator for the sync bridge: async iterator, ``aclose()`` and async
    context manager in one, so it fits whichever shape the bridge asks for."""

    def __init__(self, iterator: AsyncIterator[CheckpointTuple]) -> None:
        self._iterator = iterator

    def __aiter__(self) -> _Listing:
        return self

    async def __anext__(self) -> CheckpointTuple:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> _Listing:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
