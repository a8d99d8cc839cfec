"""``stepgraph serve --database-url postgresql://...``: threads, runs, checkpoints and
stored event logs live in PostgreSQL and survive a restart. Runs when
``STEPGRAPH_TEST_POSTGRES_URL`` is set (skipped visibly otherwise), e.g.
``export STEPGRAPH_TEST_POSTGRES_URL="$(tests/checkpoint/start_postgres.sh)"``; each
test uses a private schema."""

from __future__ import annotations

import os
import secrets
import urllib.parse
from collections.abc import Iterator

import pytest
from langgraph_sdk import get_sync_client

from .conftest import ServerProcess

POSTGRES_URL = os.environ.get("STEPGRAPH_TEST_POSTGRES_URL", "")

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="set STEPGRAPH_TEST_POSTGRES_URL=postgresql://... to run "
    '(e.g. export STEPGRAPH_TEST_POSTGRES_URL="$(tests/checkpoint/start_postgres.sh)")',
)


@pytest.fixture
def database_url() -> Iterator[str]:
    """``STEPGRAPH_TEST_POSTGRES_URL`` whose connections use a fresh private schema."""
    import psycopg

    schema = f"stepgraph_server_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    parts = urllib.parse.urlsplit(POSTGRES_URL)
    query = [*urllib.parse.parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
    yield urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_postgres_keeps_threads_runs_and_event_logs(database_url: str, backend: str) -> None:
    first = ServerProcess(backend, database_url)
    try:
        assert "database PostgreSQL" in first.output()
        with get_sync_client(url=first.url) as c:
            tid = c.threads.create(metadata={"db": "pg"})["thread_id"]
            parts = list(
                c.runs.stream(
                    tid,
                    "joke",
                    input={"topic": "tea"},
                    stream_mode=["values", "custom"],
                    stream_resumable=True,
                )
            )
            run_id = parts[0].data["run_id"]
            ask_tid = c.threads.create()["thread_id"]
            asked = c.runs.wait(ask_tid, "ask", input={})
    finally:
        assert first.stop() == 0, first.output()
    second = ServerProcess(backend, database_url)
    try:
        with get_sync_client(url=second.url) as c:
            thread = c.threads.get(tid)
            assert thread["metadata"]["db"] == "pg"
            assert thread["values"] == parts[-1].data
            assert c.runs.get(tid, run_id)["status"] == "success"
            assert list(c.runs.join_stream(tid, run_id)) == parts
            assert list(c.runs.join_stream(tid, run_id, last_event_id=parts[2].id)) == parts[3:]
            assert [h["metadata"]["step"] for h in c.threads.get_history(tid)] == [2, 1, 0, -1]
            assert c.threads.get(ask_tid)["status"] == "interrupted"
            assert (
                c.threads.get_state(ask_tid)["interrupts"][0]["id"]
                == (asked["__interrupt__"][0]["id"])
            )
            resumed = c.runs.wait(ask_tid, "ask", command={"resume": "teal"})
            assert resumed["text"] == "color: teal"
    finally:
        assert second.stop() == 0, second.output()
