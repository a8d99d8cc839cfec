"""How every saver lays checkpoints, metadata and pending writes out as bytes.

A checkpoint is one MessagePack map ``{"v", "id", "ts", "channel_values": {name: [tag,
data]}}`` and metadata one map ``{key: [tag, data]}``; each value is encoded on its own
through the saver's :class:`Serializer`, so an error names the channel or key at fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import ormsgpack

from .base import SPECIAL_WRITE_INDEX, Checkpoint, PendingWrite
from .errors import SerializationError
from .serde import Serializer

__all__ = [
    "EncodedValues",
    "EncodedWrite",
    "WriteRow",
    "decode_channel_values",
    "decode_checkpoint",
    "decode_metadata",
    "decode_metadata_whole",
    "decode_writes",
    "encode_channel_values",
    "encode_checkpoint",
    "encode_metadata",
    "encode_metadata_whole",
    "encode_write_rows",
    "encode_writes",
    "pack_checkpoint",
]


class EncodedWrite(NamedTuple):
    """A pending write ready for storage; ``idx`` is its replace-key within the task."""

    task_id: str
    task_path: str
    idx: int
    channel: str
    type: str
    value: bytes

    def row(self) -> tuple[str, str, bytes]:
        """``(channel, type, value)``, the stored payload columns."""
        return (self.channel, self.type, self.value)


EncodedValues = dict[str, tuple[str, bytes]]
"""Encoded values by key: ``(tag, data)`` from :meth:`Serializer.dumps_channel`."""


def _encode_values(
    serde: Serializer,
    values: Mapping[str, Any],
    label: str,
    reuse: Mapping[str, tuple[str, bytes]] | None = None,
    changed: frozenset[str] | None = None,
) -> EncodedValues:
    encoded: EncodedValues = {}
    for key, value in values.items():
        if reuse is not None and changed is not None and key not in changed and key in reuse:
            encoded[key] = reuse[key]
            continue
        if not isinstance(key, str):
            raise SerializationError(
                f"Cannot store {label} key {key!r} of type {type(key).__qualname__!r}: "
                f"{label} keys must be strings."
            )
        name = key if label == "channel" else f"{label}.{key}"
        try:
            encoded[key] = serde.dumps_channel(name, value)
        except SerializationError:
            if name == "__start__" and isinstance(value, Mapping):
                # a run's input: name the state key at fault, not the internal channel
                for k, v in value.items():
                    serde.dumps_channel(str(k), v)
            raise
    return encoded


def _decode_values(
    serde: Serializer, encoded: Mapping[str, Sequence[Any]], label: str
) -> dict[str, Any]:
    return {
        key: serde.loads_channel(key if label == "channel" else f"{label}.{key}", (tag, data))
        for key, (tag, data) in encoded.items()
    }


def encode_channel_values(
    serde: Serializer,
    checkpoint: Checkpoint,
    parent: Mapping[str, tuple[str, bytes]] | None = None,
) -> EncodedValues:
    """Each of ``checkpoint``'s channel values encoded on its own. With ``parent`` (the
    encoded values of the checkpoint ``checkpoint`` follows) and ``checkpoint.changed``
    set, the entries of channels not in ``changed`` are taken from ``parent`` instead of
    being encoded again. Raises SerializationError naming the channel at fault."""
    changed = checkpoint.changed
    if changed is None:
        parent = None
    return _encode_values(serde, checkpoint.channel_values, "channel", parent, changed)


def decode_channel_values(
    serde: Serializer, encoded: Mapping[str, Sequence[Any]]
) -> dict[str, Any]:
    """The channel values :func:`encode_channel_values` encoded."""
    return _decode_values(serde, encoded, "channel")


def _encode_map(serde: Serializer, values: Mapping[str, Any], label: str) -> bytes:
    return ormsgpack.packb(_encode_values(serde, values, label))


def _decode_map(serde: Serializer, blob: bytes, label: str) -> dict[str, Any]:
    encoded: dict[str, list[Any]] = ormsgpack.unpackb(blob)
    return _decode_values(serde, encoded, label)


def encode_checkpoint(serde: Serializer, checkpoint: Checkpoint) -> bytes:
    """``checkpoint`` as bytes; raises SerializationError naming the channel at fault."""
    values = _encode_map(serde, checkpoint.channel_values, "channel")
    return ormsgpack.packb(
        {"v": checkpoint.v, "id": checkpoint.id, "ts": checkpoint.ts, "channel_values": values}
    )


def pack_checkpoint(checkpoint: Checkpoint, values: Mapping[str, tuple[str, bytes]]) -> bytes:
    """What :func:`encode_checkpoint` makes, from values :func:`encode_channel_values`
    already encoded."""
    return ormsgpack.packb(
        {
            "v": checkpoint.v,
            "id": checkpoint.id,
            "ts": checkpoint.ts,
            "channel_values": ormsgpack.packb(values),
        }
    )


def decode_checkpoint(serde: Serializer, blob: bytes) -> Checkpoint:
    """The checkpoint :func:`encode_checkpoint` stored."""
    data: dict[str, Any] = ormsgpack.unpackb(blob)
    return Checkpoint(
        id=data["id"],
        ts=data["ts"],
        channel_values=_decode_map(serde, data["channel_values"], "channel"),
        v=data["v"],
    )


def encode_metadata(serde: Serializer, metadata: Mapping[str, Any]) -> bytes:
    """``metadata`` as bytes; raises SerializationError naming ``metadata.<key>``."""
    return _encode_map(serde, metadata, "metadata")


def decode_metadata(serde: Serializer, blob: bytes) -> dict[str, Any]:
    """The metadata :func:`encode_metadata` stored."""
    return _decode_map(serde, blob, "metadata")


def encode_metadata_whole(
    serde: Serializer, metadata: Mapping[str, Any]
) -> tuple[str, bytes] | bytes:
    """``metadata`` encoded as one value (one encoder call instead of one per key), or
    as :func:`encode_metadata` does when that fails (whose error names the key at fault).
    :func:`decode_metadata_whole` reads either."""
    if all(type(k) is str for k in metadata):
        try:
            return serde.dumps_typed(dict(metadata))
        except SerializationError:
            pass
    return encode_metadata(serde, metadata)


def decode_metadata_whole(serde: Serializer, stored: tuple[str, bytes] | bytes) -> dict[str, Any]:
    """The metadata :func:`encode_metadata_whole` encoded."""
    if isinstance(stored, bytes):
        return decode_metadata(serde, stored)
    value: dict[str, Any] = serde.loads_typed(stored)
    return value


def encode_writes(
    serde: Serializer,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str,
) -> list[EncodedWrite]:
    """Encode a task's writes; each keeps its position as index, except channels in
    :data:`~stepgraph.checkpoint.base.SPECIAL_WRITE_INDEX`."""
    return [EncodedWrite._make(row) for row in encode_write_rows(serde, writes, task_id, task_path)]


WriteRow = tuple[str, str, int, str, str, bytes]
"""An :class:`EncodedWrite`'s fields as a plain tuple (which the garbage collector stops
tracking, unlike a NamedTuple: what a saver keeps many of)."""


def encode_write_rows(
    serde: Serializer,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str,
) -> list[WriteRow]:
    """:func:`encode_writes` as plain tuples."""
    special = SPECIAL_WRITE_INDEX
    rows: list[WriteRow] = []
    for position, (channel, value) in enumerate(writes):
        tag, data = serde.dumps_channel(channel, value)
        rows.append((task_id, task_path, special.get(channel, position), channel, tag, data))
    return rows


def decode_writes(serde: Serializer, rows: Iterable[EncodedWrite]) -> tuple[PendingWrite, ...]:
    """Pending writes in storage order: task path, task id, index."""
    ordered = sorted(rows, key=lambda w: (w.task_path, w.task_id, w.idx))
    return tuple(
        PendingWrite(
            task_id=w.task_id,
            channel=w.channel,
            value=serde.loads_channel(w.channel, (w.type, w.value)),
        )
        for w in ordered
    )
