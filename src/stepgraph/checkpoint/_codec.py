"""How every saver lays checkpoints, metadata and pending writes out as bytes.

A checkpoint is one MessagePack map ``{"v", "id", "ts", "channel_values": {name: [tag,
data]}}`` and metadata one map ``{key: [tag, data]}``; each value is encoded on its own
through the saver's :class:`Serializer`, so an error names the channel or key at fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import ormsgpack

from .base import SPECIAL_WRITE_INDEX, Checkpoint, PendingWrite
from .errors import SerializationError
from .serde import Serializer

__all__ = [
    "EncodedWrite",
    "decode_checkpoint",
    "decode_metadata",
    "decode_writes",
    "encode_checkpoint",
    "encode_metadata",
    "encode_writes",
]


@attrs.frozen
class EncodedWrite:
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


def _encode_map(serde: Serializer, values: Mapping[str, Any], label: str) -> bytes:
    encoded: dict[str, list[Any]] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise SerializationError(
                f"Cannot store {label} key {key!r} of type {type(key).__qualname__!r}: "
                f"{label} keys must be strings."
            )
        name = key if label == "channel" else f"{label}.{key}"
        try:
            tag, data = serde.dumps_channel(name, value)
        except SerializationError:
            if name == "__start__" and isinstance(value, Mapping):
                # a run's input: name the state key at fault, not the internal channel
                for k, v in value.items():
                    serde.dumps_channel(str(k), v)
            raise
        encoded[key] = [tag, data]
    return ormsgpack.packb(encoded)


def _decode_map(serde: Serializer, blob: bytes, label: str) -> dict[str, Any]:
    encoded: dict[str, list[Any]] = ormsgpack.unpackb(blob)
    return {
        key: serde.loads_channel(key if label == "channel" else f"{label}.{key}", (tag, data))
        for key, (tag, data) in encoded.items()
    }


def encode_checkpoint(serde: Serializer, checkpoint: Checkpoint) -> bytes:
    """``checkpoint`` as bytes; raises SerializationError naming the channel at fault."""
    values = _encode_map(serde, checkpoint.channel_values, "channel")
    return ormsgpack.packb(
        {"v": checkpoint.v, "id": checkpoint.id, "ts": checkpoint.ts, "channel_values": values}
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


def encode_writes(
    serde: Serializer,
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str,
) -> list[EncodedWrite]:
    """Encode a task's writes; each keeps its position as index, except channels in
    :data:`~stepgraph.checkpoint.base.SPECIAL_WRITE_INDEX`."""
    encoded = []
    for position, (channel, value) in enumerate(writes):
        tag, data = serde.dumps_channel(channel, value)
        idx = SPECIAL_WRITE_INDEX.get(channel, position)
        encoded.append(EncodedWrite(task_id, task_path, idx, channel, tag, data))
    return encoded


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
