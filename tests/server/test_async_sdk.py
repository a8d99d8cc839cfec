"""The official async client (``get_client``) against trio and asyncio servers, a
restart that keeps threads and runs, and the command line.

The SDK's async client needs asyncio (it calls ``asyncio.get_running_loop()`` to encode
JSON off the loop), so these client-side tests run on asyncio only; the trio client side
is covered with plain httpx in ``test_lifecycle``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client, get_sync_client

from .conftest import CONFIG, HERE, ServerProcess

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[pytest.param("asyncio", id="asyncio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[Any]:
    async with get_client(url=server.url) as c:
        yield c


async def test_docs_custom_stream_snippet(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Seed 002's Python example, verbatim but for the ids."""
    thread_id = (await client.threads.create())["thread_id"]
    assistant_id = "agent"
    async for chunk in client.runs.stream(
        thread_id,
        assistant_id,
        input={"query": "example"},
        # highlight-next-line
        stream_mode="custom",
    ):
        print(chunk.data)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "{'custom_key': \"Looking up 'example'\"}",
        "{'custom_key': 'Found 3 results'}",
    ]


async def test_async_client_calls(client: Any) -> None:
    assistants = await client.assistants.search()
    assert {a["graph_id"] for a in assistants} >= {"joke", "agent"}
    thread = await client.threads.create(metadata={"via": "async"})
    tid = thread["thread_id"]
    created: list[Any] = []
    parts = [
        p
        async for p in client.runs.stream(
            tid,
            "joke",
            input={"topic": "ice cream"},
            stream_mode=["updates", "custom"],
            on_run_created=created.append,
            version="v2",
        )
    ]
    assert created[0]["thread_id"] == tid
    assert [p["type"] for p in parts] == ["metadata", "custom", "updates", "custom", "updates"]
    assert parts[2]["data"] == {"refine_topic": {"topic": "ice cream and cats"}}

    run = await client.runs.create(
        tid, "talker", input={"n": 20}, stream_mode=["custom"], stream_resumable=True
    )
    seen = [p async for p in client.runs.join_stream(tid, run["run_id"])]
    assert [p.data for p in seen if p.event == "custom"] == [{"i": i} for i in range(20)]
    later = [
        p async for p in client.runs.join_stream(tid, run["run_id"], last_event_id=seen[10].id)
    ]
    assert later == seen[11:]
    assert (await client.runs.join(tid, run["run_id"]))["text"].startswith("t0 t1")

    tid = (await client.threads.create())["thread_id"]
    waited = await client.runs.wait(tid, "ask", input={})
    assert waited["__interrupt__"][0]["value"] == {"question": "color?"}
    resumed = await client.runs.wait(tid, "ask", command={"resume": "red"})
    assert resumed["text"] == "color: red"
    assert (await client.threads.get(tid))["status"] == "idle"
    history = await client.threads.get_history(tid, limit=3)
    assert len(history) == 3


async def test_async_cancel(client: Any, tmp_path: Path) -> None:
    tid = (await client.threads.create())["thread_id"]
    marker = tmp_path / "finally"
    run = await client.runs.create(
        tid,
        "nested_slow",
        input={"marker": str(marker)},
        stream_mode="custom",
        stream_subgraphs=True,
        stream_resumable=True,
    )
    async for part in client.runs.join_stream(tid, run["run_id"]):
        if part.event.startswith("custom"):
            break
    await client.runs.cancel(tid, run["run_id"], wait=True)
    assert marker.read_text() == "finally ran"
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_restart_keeps_threads_and_runs(tmp_path: Path, backend: str) -> None:
    db = str(tmp_path / "state.sqlite")
    first = ServerProcess(backend, db)
    try:
        with get_sync_client(url=first.url) as c:
            tid = c.threads.create(metadata={"keep": True})["thread_id"]
            done = c.runs.wait(tid, "joke", input={"topic": "tea"})
            runs = c.runs.list(tid)
            asking = c.threads.create()["thread_id"]
            asked = c.runs.wait(asking, "ask", input={})
    finally:
        assert first.stop() == 0, first.output()
    second = ServerProcess(backend, db)
    try:
        with get_sync_client(url=second.url) as c:
            thread = c.threads.get(tid)
            assert thread["metadata"]["keep"] is True
            assert thread["status"] == "idle"
            assert thread["values"] == done
            assert c.runs.list(tid) == runs
            assert c.threads.get_state(tid)["values"] == done
            assert c.threads.get(asking)["status"] == "interrupted"
            state = c.threads.get_state(asking)
            assert state["interrupts"][0]["id"] == asked["__interrupt__"][0]["id"]
            resumed = c.runs.wait(asking, "ask", command={"resume": "green"})
            assert resumed["text"] == "color: green"
    finally:
        assert second.stop() == 0, second.output()


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stepgraph.server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_cli_help_and_config_errors(tmp_path: Path) -> None:
    shown = _cli("--help")
    assert shown.returncode == 0
    assert "--database-url" in _cli("serve", "--help").stdout
    missing = _cli("--config", str(tmp_path / "nope.json"), "--database-url", ":memory:")
    assert missing.returncode == 2
    assert "No config file at" in missing.stderr
    bad = tmp_path / "langgraph.json"
    bad.write_text('{"graphs": {"x": "./graph.py"}}')
    broken = _cli("--config", str(bad), "--database-url", ":memory:")
    assert broken.returncode == 2
    assert "is not 'path/to/file.py:attribute'" in broken.stderr
    assert CONFIG.parent == HERE
    package = subprocess.run(
        [sys.executable, "-m", "stepgraph", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert package.returncode == 0, package.stderr
    assert "--n-jobs-per-worker" in package.stdout
    zero = _cli("--config", str(CONFIG), "--n-jobs-per-worker", "0")
    assert zero.returncode == 2
    assert "must be 1 or more, not 0" in zero.stderr
