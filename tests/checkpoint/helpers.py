"""Small builders shared by the checkpoint tests."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any

from stepgraph.checkpoint import Checkpoint, CheckpointTuple, new_checkpoint_id


def make_checkpoint(values: dict[str, Any] | None = None, **kwargs: Any) -> Checkpoint:
    return Checkpoint(
        id=kwargs.pop("id", None) or new_checkpoint_id(),
        ts=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        channel_values=values if values is not None else {},
        **kwargs,
    )


def config(
    thread_id: str, checkpoint_ns: str = "", checkpoint_id: str | None = None
) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def named(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> dict[str, Any]:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


async def collect(iterator: AsyncIterator[CheckpointTuple]) -> list[CheckpointTuple]:
    return [item async for item in iterator]
