"""Child process for the crash tests (run as a script; never imported by pytest).

    python crash_child.py write  <sqlite|postgres> <path-or-url> <asyncio|trio>
    python crash_child.py lease  <sqlite|postgres> <path-or-url> <asyncio|trio>
    python crash_child.py verify <sqlite|postgres> <path-or-url> <asyncio|trio>

``write`` prints ``ready`` and then ``committed <thread> <checkpoint_id> <i>`` after each
checkpoint (and its pending writes) is committed, forever, until killed.
``lease`` takes the lease on thread ``leased-thread``, prints ``leased`` and waits forever.
``verify`` reads ``<thread> <checkpoint_id> <i>`` lines from stdin and prints one JSON
object: which of them are missing or wrong, and (SQLite) ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from typing import Any

import anyio

from stepgraph.checkpoint import BaseCheckpointSaver, Checkpoint, new_checkpoint_id


def open_saver(kind: str, target: str) -> Any:
    if kind == "sqlite":
        from stepgraph.checkpoint.sqlite import SqliteSaver

        return SqliteSaver(target)
    from stepgraph.checkpoint.postgres import PostgresSaver

    return PostgresSaver(target)


async def write(saver: BaseCheckpointSaver) -> None:
    parents: dict[str, str] = {}
    i = 0
    print("ready", flush=True)
    while True:
        thread_id = f"crash-{i % 3}"
        cp = Checkpoint(
            id=new_checkpoint_id(),
            ts=datetime.datetime.now(datetime.timezone.utc).isoformat(),
            channel_values={"i": i, "text": "x" * (1000 * (i % 7)), "blob": os.urandom(3000)},
        )
        configurable = {"thread_id": thread_id, "checkpoint_ns": ""}
        if thread_id in parents:
            configurable["checkpoint_id"] = parents[thread_id]
        cfg = await saver.aput({"configurable": configurable}, cp, {"step": i, "pid": os.getpid()})
        await saver.aput_writes(cfg, [("w", i), ("big", b"y" * 5000)], f"task-{i}")
        parents[thread_id] = cp.id
        print(f"committed {thread_id} {cp.id} {i}", flush=True)
        i += 1


async def lease(saver: BaseCheckpointSaver) -> None:
    async with saver.thread_lease("leased-thread"):
        print("leased", flush=True)
        await anyio.sleep_forever()


async def verify(saver: BaseCheckpointSaver, kind: str, target: str) -> None:
    problems = []
    checked = 0
    for line in sys.stdin.read().splitlines():
        thread_id, checkpoint_id, i = line.split()
        found = await saver.aget_tuple(
            {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": "",
                    "checkpoint_id": checkpoint_id,
                }
            }
        )
        checked += 1
        if found is None:
            problems.append(f"missing {line}")
        elif found.checkpoint.channel_values["i"] != int(i) or len(found.pending_writes) != 2:
            problems.append(f"wrong {line}")
    integrity = None
    if kind == "sqlite":
        import sqlite3

        with sqlite3.connect(target) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchall()
        conn.close()
    print(
        json.dumps({"checked": checked, "problems": problems, "integrity": integrity}), flush=True
    )


async def main(mode: str, kind: str, target: str) -> None:
    saver = open_saver(kind, target)
    try:
        await saver.asetup()
        if mode == "write":
            await write(saver)
        elif mode == "lease":
            await lease(saver)
        else:
            await verify(saver, kind, target)
    finally:
        await saver.aclose()


if __name__ == "__main__":
    mode, kind, target, backend = sys.argv[1:5]
    anyio.run(main, mode, kind, target, backend=backend)
