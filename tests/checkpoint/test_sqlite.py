"""SQLite-only behaviour: file setup, schema versions, lifecycle and lease expiry."""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio.to_thread
import pytest

from stepgraph.checkpoint import CheckpointError, ThreadBusyError
from stepgraph.checkpoint.sqlite import SqliteSaver

from .helpers import config, make_checkpoint

pytestmark = pytest.mark.anyio


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_schema_is_created_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "new" / "db.sqlite"
    path.parent.mkdir()
    async with SqliteSaver.from_conn_string(path) as saver:
        await saver.aput(config("t1"), make_checkpoint({"a": 1}), {})
    assert [v for (v,) in rows(path, "SELECT version FROM stepgraph_schema_version")] == [1]
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    # reopening neither migrates again nor loses data
    async with SqliteSaver.from_conn_string(path) as saver:
        found = await saver.aget_tuple(config("t1"))
        assert found is not None
        assert found.checkpoint.channel_values == {"a": 1}
    assert len(rows(path, "SELECT version FROM stepgraph_schema_version")) == 1


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    with SqliteSaver.from_conn_string(path):
        pass
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO stepgraph_schema_version VALUES (99, 'later')")
    conn.close()
    message = (
        f"{path} has checkpoint schema version 99, newer than this stepgraph knows (1). "
        "Upgrade stepgraph to use it."
    )
    saver = SqliteSaver(path)
    try:
        with pytest.raises(CheckpointError, match=f"^{re.escape(message)}$"):
            await saver.aget_tuple(config("t1"))
    finally:
        await saver.aclose()


def test_sync_context_manager(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    with SqliteSaver.from_conn_string(path) as saver:
        assert isinstance(saver, SqliteSaver)
        assert repr(saver) == f"SqliteSaver({str(path)!r})"
        saver.put(config("t1"), make_checkpoint({"a": 1}), {"step": 0})
        found = saver.get_tuple(config("t1"))
        assert found is not None
        assert found.metadata == {"step": 0}
    message = re.escape(f"SqliteSaver({str(path)!r}) is closed; create a new saver to use {path}.")
    with pytest.raises(CheckpointError, match=f"^{message}$"):
        saver.get_tuple(config("t1"))


async def test_closed_saver_says_so(tmp_path: Path) -> None:
    saver = SqliteSaver(tmp_path / "db.sqlite")
    await saver.aclose()
    await saver.aclose()  # twice is fine
    with pytest.raises(CheckpointError, match="is closed; create a new saver"):
        await saver.aput(config("t1"), make_checkpoint(), {})


async def test_in_memory_database() -> None:
    saver = SqliteSaver(":memory:")
    try:
        cp = make_checkpoint({"a": 1})
        await saver.aput(config("t1"), cp, {})
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(saver.aget_tuple, config("t1"))
        assert await saver.aget(config("t1")) == cp
    finally:
        await saver.aclose()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"^synchronous must be 'FULL' or 'NORMAL', not 'OFF'$"):
        SqliteSaver(":memory:", synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^lease_ttl must be positive, not 0$"):
        SqliteSaver(":memory:", lease_ttl=0)


async def test_write_batch_with_a_bad_value_stores_none_of_it(tmp_path: Path) -> None:
    async with SqliteSaver.from_conn_string(tmp_path / "db.sqlite") as saver:
        cp = make_checkpoint()
        await saver.aput(config("t1"), cp, {})
        with socket.socket() as conn, pytest.raises(CheckpointError):
            await saver.aput_writes(
                {"configurable": {"thread_id": "t1", "checkpoint_id": cp.id}},
                [("ok", 1), ("bad", conn)],
                "task",
            )
        found = await saver.aget_tuple(config("t1"))
        assert found is not None
        assert found.pending_writes == ()


# --- leases ---------------------------------------------------------------------------------


def insert_lease(path: Path, owner: str, expires_at: float) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT OR REPLACE INTO stepgraph_leases VALUES ('t1', '', ?, ?)", (owner, expires_at)
        )
    conn.close()


async def test_lease_of_another_host_blocks_until_it_expires(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    async with SqliteSaver.from_conn_string(path) as saver:
        insert_lease(path, "elsewhere|123|abc", time.time() + 3600)
        with pytest.raises(ThreadBusyError):
            async with saver.thread_lease("t1"):
                pass
        insert_lease(path, "elsewhere|123|abc", time.time() - 1)  # stopped renewing
        async with saver.thread_lease("t1"):
            (owner,) = rows(path, "SELECT owner FROM stepgraph_leases")[0]
            assert str(owner).startswith(f"{socket.gethostname()}|")
        assert rows(path, "SELECT * FROM stepgraph_leases") == []


async def test_lease_of_a_dead_local_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # exited and reaped: its pid names no process now
    async with SqliteSaver.from_conn_string(path) as saver:
        insert_lease(path, f"{socket.gethostname()}|{dead.pid}|abc", time.time() + 3600)
        async with saver.thread_lease("t1"):
            pass


async def test_heartbeat_renews_held_leases(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    async with (
        SqliteSaver.from_conn_string(path, lease_ttl=600) as saver,
        saver.thread_lease("t1"),
    ):
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("UPDATE stepgraph_leases SET expires_at = 0")
        conn.close()
        assert await anyio.to_thread.run_sync(saver._renew_once) == 1
        ((expires_at,),) = rows(path, "SELECT expires_at FROM stepgraph_leases")
        assert float(expires_at) > time.time() + 500  # type: ignore[arg-type]
        assert saver._heartbeat is not None
        assert saver._heartbeat.is_alive()
        other = SqliteSaver(path)
        try:
            with pytest.raises(ThreadBusyError):
                async with other.thread_lease("t1"):
                    pass
        finally:
            await other.aclose()


async def test_close_releases_held_leases(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    first = SqliteSaver(path)
    second = SqliteSaver(path)
    try:
        lease = first.thread_lease("t1")
        await lease.__aenter__()
        await first.aclose()  # e.g. shutdown while a run is still inside its lease
        async with second.thread_lease("t1"):
            pass
        await lease.__aexit__(None, None, None)  # a late exit is harmless
    finally:
        await second.aclose()
