"""PostgreSQL-only behaviour: schema migration, lifecycle, connection errors, lease sessions."""

from __future__ import annotations

import re
from typing import Any

import anyio
import anyio.to_thread
import pytest

from stepgraph.checkpoint import CheckpointError, ThreadBusyError

from .conftest import POSTGRES_SKIP
from .helpers import config, make_checkpoint

pytestmark = [pytest.mark.anyio, POSTGRES_SKIP]


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description is not None else []


async def test_schema_is_migrated_once_even_when_racing(pg_schema_url: str) -> None:
    from stepgraph.checkpoint.postgres import PostgresSaver

    savers = [PostgresSaver(pg_schema_url) for _ in range(4)]
    try:
        async with anyio.create_task_group() as tg:
            for saver in savers:
                tg.start_soon(saver.asetup)
        assert query(pg_schema_url, "SELECT version FROM stepgraph_schema_version") == [(1,)]
        tables = query(
            pg_schema_url,
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() ORDER BY table_name",
        )
        assert tables == [
            ("stepgraph_checkpoints",),
            ("stepgraph_schema_version",),
            ("stepgraph_writes",),
        ]
    finally:
        for saver in savers:
            await saver.aclose()


async def test_newer_schema_is_refused(pg_schema_url: str) -> None:
    from stepgraph.checkpoint.postgres import PostgresSaver

    async with PostgresSaver.from_conn_string(pg_schema_url):
        pass
    query(pg_schema_url, "INSERT INTO stepgraph_schema_version (version) VALUES (99)")
    message = (
        "The database has checkpoint schema version 99, newer than this stepgraph knows (1). "
        "Upgrade stepgraph to use it."
    )
    saver = PostgresSaver(pg_schema_url)
    try:
        with pytest.raises(CheckpointError, match=f"^{re.escape(message)}$"):
            await saver.aget_tuple(config("t1"))
    finally:
        await saver.aclose()


def test_sync_context_manager_and_repr(pg_schema_url: str) -> None:
    from stepgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(pg_schema_url) as saver:
        assert repr(saver) == "PostgresSaver(<conninfo>)"
        saver.put(config("t1"), make_checkpoint({"a": 1}), {"step": 0})
        found = saver.get_tuple(config("t1"))
        assert found is not None
        assert found.checkpoint.channel_values == {"a": 1}
    with pytest.raises(CheckpointError, match=r"is closed; create a new saver"):
        saver.get_tuple(config("t1"))


async def test_unreachable_server_is_a_clear_error() -> None:
    from stepgraph.checkpoint.postgres import PostgresSaver

    saver = PostgresSaver("postgresql://nobody@127.0.0.1:1/none", timeout=1)
    try:
        with pytest.raises(CheckpointError, match=r"^Cannot connect to PostgreSQL for checkpoints"):
            await saver.aput(config("t1"), make_checkpoint(), {})
    finally:
        await saver.aclose()


async def test_lease_survives_a_lost_lease_session(pg_schema_url: str) -> None:
    """If the server ends the lease connection, the locks go with it and the saver reconnects."""
    from stepgraph.checkpoint.postgres import PostgresSaver

    saver = PostgresSaver(pg_schema_url)
    other = PostgresSaver(pg_schema_url)
    try:
        async with saver.thread_lease("t1"):
            lease_conn = saver._lease_conn
            assert lease_conn is not None
            pid = lease_conn.info.backend_pid
            query(pg_schema_url, f"SELECT pg_terminate_backend({pid})")
            # the dead session's lock is free for others once the server has cleaned up
            with anyio.fail_after(30):
                while True:
                    try:
                        async with other.thread_lease("t1"):
                            break
                    except ThreadBusyError:
                        await anyio.sleep(0.05)  # polling the server, not ordering our tasks
        # exiting the orphaned lease was harmless; new leases work on a new session
        async with saver.thread_lease("t2"), saver.thread_lease("t1"):
            pass
    finally:
        await saver.aclose()
        await other.aclose()
