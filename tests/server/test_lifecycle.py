"""Run lifecycle over plain async HTTP, on trio and asyncio clients against trio and
asyncio servers: cancel that really stops (nested graphs too), disconnects, multitask
strategies, resumable streams, heartbeats, and a restart that keeps threads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ServerProcess
from .sse import HEARTBEAT, Event, events, raw_sse, started

pytestmark = pytest.mark.anyio


@pytest.fixture
def url(server: ServerProcess) -> str:
    return server.url


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


async def _thread(http: httpx.AsyncClient) -> str:
    response = await http.post("/threads", json={})
    return str(response.json()["thread_id"])


async def _run(http: httpx.AsyncClient, tid: str, **body: Any) -> dict[str, Any]:
    response = await http.post(f"/threads/{tid}/runs", json=body)
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


async def _wait_started(http: httpx.AsyncClient, tid: str, run_id: str) -> None:
    """Replay the (resumable) run's stream until its node said it started."""
    async with raw_sse(str(http.base_url), "GET", f"/threads/{tid}/runs/{run_id}/stream") as s:
        await s.until(started)


async def _status(http: httpx.AsyncClient, tid: str, run_id: str) -> str:
    response = await http.get(f"/threads/{tid}/runs/{run_id}")
    return str(response.json()["status"])


@pytest.mark.parametrize("graph", ["slow", "nested_slow"])
async def test_cancel_wait_returns_after_execution_stopped(
    http: httpx.AsyncClient, tmp_path: Path, graph: str
) -> None:
    tid = await _thread(http)
    marker = tmp_path / "finally"
    run = await _run(
        http,
        tid,
        assistant_id=graph,
        input={"marker": str(marker), "text": "before"},
        stream_mode=["custom", "values"],
        stream_subgraphs=True,
        stream_resumable=True,
    )
    run_id = run["run_id"]
    await _wait_started(http, tid, run_id)
    assert await _status(http, tid, run_id) == "running"
    response = await http.post(f"/threads/{tid}/runs/{run_id}/cancel?wait=1&action=interrupt")
    assert response.status_code == 200
    assert response.json() == {"marker": str(marker), "text": "before", "log": []}
    assert marker.read_text() == "finally ran"  # every node's finally ran before the answer
    assert await _status(http, tid, run_id) == "interrupted"
    thread = (await http.get(f"/threads/{tid}")).json()
    assert thread["status"] == "interrupted"
    assert thread["error"]["error"] == "UserInterrupt"
    joined = await http.get(f"/threads/{tid}/runs/{run_id}/join")
    assert joined.json() == {"marker": str(marker), "text": "before", "log": []}


async def test_cancel_without_wait_is_202_and_stream_just_ends(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    tid = await _thread(http)
    marker = tmp_path / "finally"
    body = {"assistant_id": "slow", "input": {"marker": str(marker)}, "stream_mode": "custom"}
    async with raw_sse(str(http.base_url), "POST", f"/threads/{tid}/runs/stream", body) as s:
        seen = await s.until(started)
        run_id = seen[0].data["run_id"]
        cancel = await http.post(f"/threads/{tid}/runs/{run_id}/cancel")
        assert cancel.status_code == 202
        assert cancel.content == b""
        rest = await s.rest()
    assert rest == []  # no end event, no error: the stream just stops
    assert marker.read_text() == "finally ran"
    assert await _status(http, tid, run_id) == "interrupted"


async def test_on_disconnect_cancel_stops_the_run(http: httpx.AsyncClient, tmp_path: Path) -> None:
    tid = await _thread(http)
    marker = tmp_path / "finally"
    body = {
        "assistant_id": "nested_slow",
        "input": {"marker": str(marker)},
        "stream_mode": "custom",
        "stream_subgraphs": True,
        "on_disconnect": "cancel",
    }
    async with raw_sse(str(http.base_url), "POST", f"/threads/{tid}/runs/stream", body) as s:
        seen = await s.until(started)
        run_id = seen[0].data["run_id"]
    # the connection is closed: the server cancels the run; join waits for its end
    await http.get(f"/threads/{tid}/runs/{run_id}/join")
    assert marker.read_text() == "finally ran"
    assert await _status(http, tid, run_id) == "interrupted"


async def test_on_disconnect_continue_keeps_running(http: httpx.AsyncClient) -> None:
    tid = await _thread(http)
    body = {"assistant_id": "slow", "input": {}, "stream_mode": "custom"}
    async with raw_sse(str(http.base_url), "POST", f"/threads/{tid}/runs/stream", body) as s:
        seen = await s.until(started)
        run_id = seen[0].data["run_id"]
    assert await _status(http, tid, run_id) == "running"
    await http.post(f"/threads/{tid}/runs/{run_id}/cancel?wait=1")
    assert await _status(http, tid, run_id) == "interrupted"


async def _busy_thread(http: httpx.AsyncClient, tmp_path: Path) -> tuple[str, str, Path]:
    tid = await _thread(http)
    marker = tmp_path / "first-finally"
    first = await _run(
        http,
        tid,
        assistant_id="slow",
        input={"marker": str(marker)},
        stream_mode="custom",
        stream_resumable=True,
    )
    await _wait_started(http, tid, first["run_id"])
    return tid, first["run_id"], marker


async def test_multitask_reject(http: httpx.AsyncClient, tmp_path: Path) -> None:
    tid, first, _ = await _busy_thread(http, tmp_path)
    response = await http.post(
        f"/threads/{tid}/runs",
        json={"assistant_id": "slow", "input": {}, "multitask_strategy": "reject"},
    )
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Thread is already running a task.")
    await http.post(f"/threads/{tid}/runs/{first}/cancel?wait=1")


async def test_multitask_enqueue(http: httpx.AsyncClient, tmp_path: Path) -> None:
    tid, first, _ = await _busy_thread(http, tmp_path)
    second = await _run(http, tid, assistant_id="slow", input={"forever": False})
    assert second["multitask_strategy"] == "enqueue"
    assert await _status(http, tid, second["run_id"]) == "pending"
    assert (await http.get(f"/threads/{tid}")).json()["status"] == "busy"
    await http.post(f"/threads/{tid}/runs/{first}/cancel")
    joined = await http.get(f"/threads/{tid}/runs/{second['run_id']}/join")
    assert joined.json()["text"] == "done waiting"
    assert await _status(http, tid, first) == "interrupted"
    assert await _status(http, tid, second["run_id"]) == "success"
    assert (await http.get(f"/threads/{tid}")).json()["status"] == "idle"


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_multitask_interrupt_and_rollback(
    http: httpx.AsyncClient, tmp_path: Path, strategy: str
) -> None:
    tid, first, marker = await _busy_thread(http, tmp_path)
    second = await _run(
        http,
        tid,
        assistant_id="slow",
        input={"forever": False},
        multitask_strategy=strategy,
    )
    joined = await http.get(f"/threads/{tid}/runs/{second['run_id']}/join")
    assert joined.json()["text"] == "done waiting"
    assert marker.read_text() == "finally ran"
    response = await http.get(f"/threads/{tid}/runs/{first}")
    if strategy == "interrupt":
        assert response.json()["status"] == "interrupted"
    else:
        assert response.status_code == 404  # rollback deletes the run and its checkpoints
        history = (await http.post(f"/threads/{tid}/history", json={"limit": 50})).json()
        runs = {h["metadata"].get("run_id") for h in history}
        assert first not in runs


async def test_resumable_stream_reconnects_without_loss_or_duplicates(
    http: httpx.AsyncClient,
) -> None:
    tid = await _thread(http)
    body = {
        "assistant_id": "nested_talker",
        "input": {"n": 150},
        "stream_mode": ["messages-tuple", "custom", "updates", "values"],
        "stream_subgraphs": True,
        "stream_resumable": True,
    }
    first: list[Event] = []
    async with raw_sse(str(http.base_url), "POST", f"/threads/{tid}/runs/stream", body) as s:
        location = s.headers["location"]
        while len(first) < 57:
            event = await s.next()
            assert event is not None
            if event is not HEARTBEAT:
                first.append(event)
    # the connection is dropped mid-burst
    run_id = first[0].data["run_id"]
    assert location == f"/threads/{tid}/runs/{run_id}/stream"
    rest: list[Event] = []
    headers = {"Last-Event-ID": str(first[-1].id)}
    async with http.stream("GET", location, headers=headers) as response:
        rest = [e async for e in events(response) if e is not HEARTBEAT]
    async with http.stream("GET", location) as response:  # resumable: full replay
        full = [e async for e in events(response) if e is not HEARTBEAT]
    assert first + rest == full
    seqs = [int(str(e.id).rsplit("-", 1)[1]) for e in full]
    assert seqs == list(range(len(full)))
    names = [e.event for e in full]
    assert any(n.startswith("messages|voice:") for n in names)
    assert sum(n.startswith("custom|voice:") for n in names) == 150
    assert names[0] == "metadata"


async def test_join_stream_live_only_and_mode_filter(http: httpx.AsyncClient) -> None:
    tid = await _thread(http)
    run = await _run(http, tid, assistant_id="joke", input={"topic": "x"}, stream_mode="values")
    await http.get(f"/threads/{tid}/runs/{run['run_id']}/join")
    late = await http.get(f"/threads/{tid}/runs/{run['run_id']}/stream")
    assert late.status_code == 200
    assert late.content == b""  # a finished, non-resumable run has nothing live

    run = await _run(
        http,
        tid,
        assistant_id="joke",
        input={"topic": "y"},
        stream_mode=["values", "updates", "custom"],
        stream_resumable=True,
    )
    path = f"/threads/{tid}/runs/{run['run_id']}/stream?stream_mode=updates&stream_mode=custom"
    async with http.stream("GET", path) as response:
        names = [e.event async for e in events(response) if e is not HEARTBEAT]
    assert names == ["metadata", "custom", "updates", "custom", "updates"]


async def test_heartbeat_while_idle(http: httpx.AsyncClient) -> None:
    tid = await _thread(http)
    body = {"assistant_id": "slow", "input": {}, "stream_mode": "custom"}
    async with raw_sse(str(http.base_url), "POST", f"/threads/{tid}/runs/stream", body) as s:
        seen = await s.until(started)
        await s.until(lambda e: e is HEARTBEAT)  # --heartbeat 0.5 in the tests
        await http.post(f"/threads/{tid}/runs/{seen[0].data['run_id']}/cancel?wait=1")
        assert await s.rest() == []


async def test_wait_keepalive_and_headers(http: httpx.AsyncClient) -> None:
    tid = await _thread(http)
    response = await http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "joke", "input": {"topic": "z"}}
    )
    run_path = response.headers["content-location"]
    assert response.headers["location"] == run_path + "/join"
    assert response.json()["joke"] == "This is a joke about z and cats"


async def test_cancel_many(http: httpx.AsyncClient, tmp_path: Path) -> None:
    tid, first, marker = await _busy_thread(http, tmp_path)
    response = await http.post(
        "/runs/cancel?action=interrupt", json={"thread_id": tid, "run_ids": [first]}
    )
    assert response.status_code == 204
    await http.get(f"/threads/{tid}/runs/{first}/join")
    assert marker.read_text() == "finally ran"


async def test_delete_thread_cancels_its_runs(http: httpx.AsyncClient, tmp_path: Path) -> None:
    tid, _, marker = await _busy_thread(http, tmp_path)
    assert (await http.delete(f"/threads/{tid}")).status_code == 204
    assert marker.read_text() == "finally ran"
    assert (await http.get(f"/threads/{tid}")).status_code == 404
