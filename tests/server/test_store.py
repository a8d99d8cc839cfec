"""The server's record store (group commit), on trio and asyncio, without a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from stepgraph.server._store import Op, SqliteStore, StoredEvent

pytestmark = pytest.mark.anyio


class CountingStore(SqliteStore):
    """Counts transactions."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.transactions: list[int] = []

    def _write(self, ops: list[Op]) -> None:
        self.transactions.append(len(ops))
        super()._write(ops)


def _thread(n: int) -> dict[str, Any]:
    return {"thread_id": f"t{n}", "created_at": str(n), "metadata": {"n": n}}


async def test_concurrent_flushes_share_transactions(tmp_path: Path) -> None:
    """Every flushed change is committed when its flush returns; concurrent flushes
    commit together (a few transactions, not one per change)."""
    store = CountingStore(tmp_path / "db.sqlite")
    committed: list[int] = []

    async def save(n: int) -> None:
        store.put_thread(_thread(n))
        await store.flush()
        committed.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(50):
            tg.start_soon(save, n)
    threads, _ = await store.load()
    assert sorted(t["metadata"]["n"] for t in threads) == list(range(50))
    assert sorted(committed) == list(range(50))
    assert sum(store.transactions) == 50
    assert len(store.transactions) < 10, store.transactions
    await store.aclose()


async def test_flush_does_not_depend_on_the_writer_task(tmp_path: Path) -> None:
    """A flush still commits when the writer task is cancelled first (server shutdown
    while a run's last records are being flushed)."""
    store = SqliteStore(tmp_path / "db.sqlite")
    writer_scope = anyio.CancelScope()

    async def writer() -> None:
        with writer_scope:
            await store.writer()

    async with anyio.create_task_group() as tg:
        tg.start_soon(writer)
        await anyio.wait_all_tasks_blocked()
        store.put_thread(_thread(1))
        writer_scope.cancel()
        with anyio.fail_after(30):  # a hang guard, not a timing assertion
            await store.flush()
    assert [t["thread_id"] for t in (await store.load())[0]] == ["t1"]
    await store.aclose()


async def test_unflushed_changes_reach_the_database_through_the_writer(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite")
    async with anyio.create_task_group() as tg:
        tg.start_soon(store.writer)
        store.put_run({"run_id": "r1", "thread_id": "t1", "status": "pending"})
        event = StoredEvent(0, "1-0", "metadata", b'{"run_id":"r1"}')
        store.put_events("r1", "t1", [event])
        queued = store._queued
        with anyio.fail_after(30):  # the writer commits them without anyone flushing
            await queued.done.wait()
        tg.cancel_scope.cancel()
    assert (await store.load())[1] == [{"run_id": "r1", "thread_id": "t1", "status": "pending"}]
    assert await store.events("r1") == [event]
    store.delete_thread("t1")
    await store.flush()
    assert await store.events("r1") == []
    assert await store.load() == ([], [])
    await store.aclose()
