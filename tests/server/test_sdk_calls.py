"""Every run option and management call through the official client, sync and async.

Each scenario is written once against the async client's shape; the sync client
(``get_sync_client``) is driven through :class:`AsyncView`, so both clients make the
same calls against trio and asyncio servers. The SDK's async client needs asyncio, so
the client side runs on asyncio only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from stepgraph.server import assistant_id_for

from .conftest import ServerProcess

pytestmark = pytest.mark.anyio

JOKE_OWLS = {"topic": "owls and cats", "joke": "This is a joke about owls and cats"}


@pytest.fixture(params=[pytest.param("asyncio", id="asyncio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


class _Called:
    """A sync call's result, usable as the async client's: awaitable and async-iterable."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        return self._get().__await__()

    async def _get(self) -> Any:
        return self.value

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        for item in self.value:
            yield item

    async def aclose(self) -> None:
        """Close the sync generator (its HTTP response), as ``aclose`` does for async."""
        self.value.close()


class AsyncView:
    """The sync client (or one of its resources) with the async client's call shape."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if callable(attr):
            return lambda *args, **kwargs: _Called(attr(*args, **kwargs))
        return AsyncView(attr)


@pytest.fixture(params=["sync", "async"])
async def client(request: pytest.FixtureRequest, server: ServerProcess) -> AsyncIterator[Any]:
    if request.param == "async":
        async with get_client(url=server.url) as c:
            yield c
    else:
        with get_sync_client(url=server.url) as c:
            yield AsyncView(c)


async def _parts(stream: Any) -> list[Any]:
    return [p async for p in stream]


async def _started_slow_run(client: Any, tid: str, marker: Path, **options: Any) -> dict[str, Any]:
    """A background ``slow`` run whose node is running (seen through a resumable join)."""
    run: dict[str, Any] = await client.runs.create(
        tid,
        "slow",
        input={"marker": str(marker), "text": "before"},
        stream_mode="custom",
        stream_resumable=True,
        **options,
    )
    async for part in client.runs.join_stream(tid, run["run_id"]):
        if part.event == "custom" and part.data == {"started": True}:
            break
    return run


def _events(parts: Iterable[Any]) -> list[str]:
    return [p.event for p in parts]


async def test_run_options_reach_the_graph(client: Any) -> None:
    tid = str(uuid.uuid4())
    out = await client.runs.wait(
        tid,
        "factory",
        input={"text": "x"},
        if_not_exists="create",
        context={"who": "ctx"},
        config={"tags": ["t1"]},
        metadata={"m": 1},
    )
    [run] = await client.runs.list(tid)
    assert out["seen"] == {
        "context": {"who": "ctx"},
        "user": None,
        "tags": ["t1"],
        "run_id": run["run_id"],
        "env": "loaded",
    }
    assert run["metadata"] == {"m": 1}
    assert run["assistant_id"] == assistant_id_for("factory")
    thread = await client.threads.get(tid)
    assert thread["metadata"]["graph_id"] == "factory"
    out = await client.runs.wait(
        tid, assistant_id_for("builder"), input={}, config={"configurable": {"user": "ada"}}
    )
    assert out["seen"]["user"] == "ada"
    with pytest.raises(httpx.HTTPStatusError) as unknown:  # wait's reconnect path: plain httpx
        await client.runs.wait(str(uuid.uuid4()), "builder", input={})
    assert unknown.value.response.status_code == 404


async def test_static_breakpoints(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    stopped = await client.runs.wait(
        tid, "joke", input={"topic": "owls"}, interrupt_before=["generate_joke"]
    )
    assert stopped == {"topic": "owls and cats"}
    assert (await client.threads.get(tid))["status"] == "interrupted"
    assert (await client.threads.get_state(tid))["next"] == ["generate_joke"]
    assert await client.runs.wait(tid, "joke", input=None) == JOKE_OWLS
    assert (await client.threads.get(tid))["status"] == "idle"

    tid = (await client.threads.create())["thread_id"]
    parts = await _parts(
        client.runs.stream(
            tid, "joke", input={"topic": "owls"}, stream_mode="updates", interrupt_after="*"
        )
    )
    assert [p.data for p in parts[1:]] == [
        {"refine_topic": {"topic": "owls and cats"}},
        {"__interrupt__": []},
    ]
    assert (await client.threads.get_state(tid))["next"] == ["generate_joke"]


async def test_recursion_limit_is_honoured(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    parts = await _parts(
        client.runs.stream(
            tid, "joke", input={"topic": "x"}, stream_mode="updates", config={"recursion_limit": 1}
        )
    )
    assert _events(parts) == ["metadata", "updates", "error"]
    assert parts[-1].data["error"] == "GraphRecursionError"
    assert (await client.threads.get(tid))["status"] == "error"
    with pytest.raises(Exception, match="GraphRecursionError"):
        await client.runs.wait(tid, "joke", input={"topic": "x"}, config={"recursion_limit": 1})


async def test_reject_cancel_and_rollback(client: Any, tmp_path: Path) -> None:
    tid = (await client.threads.create())["thread_id"]
    marker = tmp_path / "first"
    first = await _started_slow_run(client, tid, marker)
    assert (await client.runs.get(tid, first["run_id"]))["status"] == "running"
    assert (await client.threads.get(tid))["status"] == "busy"
    with pytest.raises(ConflictError) as busy:
        await client.runs.create(tid, "slow", input={}, multitask_strategy="reject")
    assert busy.value.response.json()["detail"].startswith("Thread is already running a task.")
    stopped = await client.runs.cancel(tid, first["run_id"], wait=True)
    assert stopped == {"marker": str(marker), "text": "before", "log": []}
    assert marker.read_text() == "finally ran"
    assert (await client.runs.get(tid, first["run_id"]))["status"] == "interrupted"
    assert (await client.threads.get(tid))["status"] == "interrupted"

    second = await _started_slow_run(client, tid, tmp_path / "second")
    await client.runs.cancel(tid, second["run_id"], wait=True, action="rollback")
    with pytest.raises(NotFoundError):
        await client.runs.get(tid, second["run_id"])
    assert [r["run_id"] for r in await client.runs.list(tid)] == [first["run_id"]]

    third = await _started_slow_run(client, tid, tmp_path / "third")
    assert await client.runs.cancel(tid, third["run_id"]) is None  # 202, empty body
    assert await client.runs.join(tid, third["run_id"]) == {
        "marker": str(tmp_path / "third"),
        "text": "before",
        "log": [],
    }
    assert (await client.runs.get(tid, third["run_id"]))["status"] == "interrupted"


async def test_cancel_many_delete_and_list(client: Any, tmp_path: Path) -> None:
    tid = (await client.threads.create())["thread_id"]
    running = await _started_slow_run(client, tid, tmp_path / "running")
    queued = await client.runs.create(tid, "slow", input={"forever": False})
    assert queued["status"] == "pending"
    listed = await client.runs.list(tid, status="pending")
    assert [r["run_id"] for r in listed] == [queued["run_id"]]
    await client.runs.cancel_many(thread_id=tid, run_ids=[running["run_id"], queued["run_id"]])
    await client.runs.join(tid, running["run_id"])
    assert (tmp_path / "running").read_text() == "finally ran"
    statuses = {r["run_id"]: r["status"] for r in await client.runs.list(tid)}
    assert statuses == {running["run_id"]: "interrupted", queued["run_id"]: "interrupted"}

    later = await client.runs.create(tid, "slow", input={"forever": False}, after_seconds=600)
    assert (await client.runs.get(tid, later["run_id"]))["status"] == "pending"
    await client.runs.cancel_many(status="pending")
    await client.runs.join(tid, later["run_id"])
    assert (await client.runs.get(tid, later["run_id"]))["status"] == "interrupted"

    done = await client.runs.create(tid, "slow", input={"forever": False})
    await client.runs.join(tid, done["run_id"])
    assert [r["run_id"] for r in await client.runs.list(tid, status="success")] == [done["run_id"]]
    assert await client.runs.delete(tid, done["run_id"]) is None
    with pytest.raises(NotFoundError):
        await client.runs.get(tid, done["run_id"])
    assert len(await client.runs.list(tid)) == 3
    assert len(await client.runs.list(tid, limit=2)) == 2
    assert len(await client.runs.list(tid, limit=2, offset=2)) == 1


async def test_thread_less_background_runs(client: Any) -> None:
    kept = await client.runs.create(None, "joke", input={"topic": "owls"}, on_completion="keep")
    assert await client.runs.join(kept["thread_id"], kept["run_id"]) == JOKE_OWLS
    assert (await client.threads.get(kept["thread_id"]))["values"] == JOKE_OWLS

    temporary = await client.runs.create(None, "joke", input={"topic": "owls"})
    assert await client.runs.join(temporary["thread_id"], temporary["run_id"]) == JOKE_OWLS
    with pytest.raises(NotFoundError):  # on_completion="delete" (the default)
        await client.threads.get(temporary["thread_id"])


async def test_on_disconnect_cancel_when_the_client_stops_reading(
    client: Any, tmp_path: Path
) -> None:
    tid = (await client.threads.create())["thread_id"]
    marker = tmp_path / "finally"
    created: list[dict[str, str]] = []
    stream = client.runs.stream(
        tid,
        "nested_slow",
        input={"marker": str(marker)},
        stream_mode="custom",
        stream_subgraphs=True,
        on_disconnect="cancel",
        on_run_created=created.append,
    )
    async for part in stream:
        if part.event.startswith("custom|outer:"):
            break
    await stream.aclose()  # the client goes away mid-stream
    run_id = created[0]["run_id"]
    await client.runs.join(tid, run_id)
    assert marker.read_text() == "finally ran"
    assert (await client.runs.get(tid, run_id))["status"] == "interrupted"


async def test_thread_state_history_and_search(client: Any) -> None:
    case = str(uuid.uuid4())  # this test's threads only (the server is shared)
    tid = (await client.threads.create(graph_id="joke", metadata={"case": case}))["thread_id"]
    assert (await client.threads.get(tid))["metadata"] == {"case": case, "graph_id": "joke"}
    await client.runs.wait(tid, "joke", input={"topic": "owls"})
    history = await client.threads.get_history(tid)
    assert [h["metadata"]["step"] for h in history] == [2, 1, 0, -1]
    older = await client.threads.get_history(tid, before=history[1]["checkpoint"])
    assert [h["metadata"]["step"] for h in older] == [0, -1]
    looped = await client.threads.get_history(tid, metadata={"source": "loop"})
    assert [h["metadata"]["step"] for h in looped] == [2, 1, 0]
    assert len(await client.threads.get_history(tid, limit=1)) == 1
    at_step_one = await client.threads.get_state(tid, checkpoint=history[1]["checkpoint"])
    assert at_step_one["values"] == {"topic": "owls and cats"}
    assert at_step_one["next"] == ["generate_joke"]

    forked = await client.threads.update_state(
        tid, {"topic": "bats"}, checkpoint_id=history[1]["checkpoint_id"], as_node="refine_topic"
    )
    assert forked["checkpoint"]["checkpoint_id"] not in {h["checkpoint_id"] for h in history}
    assert (await client.threads.get_state(tid))["values"] == {"topic": "bats"}
    assert (await client.runs.wait(tid, "joke", input=None))["joke"] == "This is a joke about bats"

    found = await client.threads.search(metadata={"case": case}, status="idle")
    assert [t["thread_id"] for t in found] == [tid]
    assert await client.threads.search(metadata={"case": case}, status="busy") == []
    by_values = await client.threads.search(values={"joke": "This is a joke about bats"}, limit=100)
    assert tid in [t["thread_id"] for t in by_values]
    assert [t["thread_id"] for t in await client.threads.search(ids=[tid])] == [tid]
    assert await client.threads.count(metadata={"case": case}) == 1


async def test_webhook_and_durability_options(client: Any, server: ServerProcess) -> None:
    tid = (await client.threads.create())["thread_id"]
    out = await client.runs.wait(
        tid,
        "joke",
        input={"topic": "owls"},
        webhook="http://127.0.0.1:9/never-called",
        durability="exit",
    )
    assert out == JOKE_OWLS
    history = await client.threads.get_history(tid)
    assert [h["metadata"]["step"] for h in history] == [2]
    assert "'webhook' accepted and ignored" in server.output()


@pytest.mark.parametrize(
    ("backend", "kind"),
    [("asyncio", "sync"), ("trio", "async")],
    ids=["asyncio-sync", "trio-async"],
)
async def test_finished_resumable_run_replays_after_restart(
    tmp_path: Path, backend: str, kind: str
) -> None:
    """A resumable run's events are stored with it: a ``join_stream`` after the run ended
    and after a restart replays them all, and ``Last-Event-ID`` resumes exactly after the
    given event (subgraph events included)."""
    db = str(tmp_path / "state.sqlite")

    async def connect(url: str) -> Any:
        if kind == "async":
            return get_client(url=url)
        return AsyncView(get_sync_client(url=url))

    first = ServerProcess(backend, db)
    try:
        c = await connect(first.url)
        tid = (await c.threads.create())["thread_id"]
        live = await _parts(
            c.runs.stream(
                tid,
                "nested_talker",
                input={"n": 5},
                stream_mode=["custom", "messages-tuple", "updates"],
                stream_subgraphs=True,
                stream_resumable=True,
            )
        )
        run_id = live[0].data["run_id"]
        made = await c.assistants.create("builder", metadata={"kept": True}, name="kept")
        await c.store.put_item(["kept", tid], "note", {"text": "survives"})
        made = await c.assistants.update(made["assistant_id"], context={"who": "v2"})
        quiet = await c.runs.create(tid, "joke", input={"topic": "x"})  # not resumable
        await c.runs.join(tid, quiet["run_id"])
        await c.aclose() if kind == "async" else c.close()
    finally:
        assert first.stop() == 0, first.output()
    assert any(p.event.startswith("custom|voice:") for p in live)
    ids = [int(str(p.id).rsplit("-", 1)[1]) for p in live]
    assert ids == list(range(len(live)))

    second = ServerProcess(backend, db)
    try:
        c = await connect(second.url)
        assert await _parts(c.runs.join_stream(tid, run_id)) == live
        rest = await _parts(c.runs.join_stream(tid, run_id, last_event_id=live[6].id))
        assert rest == live[7:]
        assert await _parts(c.runs.join_stream(tid, quiet["run_id"])) == []
        assert await c.assistants.get(made["assistant_id"]) == made
        assert (await c.store.get_item(["kept", tid], "note"))["value"] == {"text": "survives"}
        versions = await c.assistants.get_versions(made["assistant_id"])
        assert [v["version"] for v in versions] == [2, 1]
        await c.runs.delete(tid, run_id)
        with pytest.raises(NotFoundError):
            await _parts(c.runs.join_stream(tid, run_id))
        await c.aclose() if kind == "async" else c.close()
    finally:
        assert second.stop() == 0, second.output()


async def test_assistant_crud_and_versions(client: Any) -> None:
    tag = str(uuid.uuid4())  # this test's assistants only (the server is shared)
    made = await client.assistants.create(
        "builder",
        config={"configurable": {"user": "ada"}, "tags": ["from-assistant"]},
        context={"who": "made"},
        metadata={"tag": tag},
        name="mine",
        description="a configured builder",
    )
    aid = made["assistant_id"]
    assert made["graph_id"] == "builder"
    assert made["version"] == 1
    assert made["name"] == "mine"
    assert made["metadata"] == {"tag": tag}
    assert made["description"] == "a configured builder"
    assert await client.assistants.get(aid) == made
    with pytest.raises(ConflictError) as dup:
        await client.assistants.create("builder", assistant_id=aid)
    assert dup.value.response.json() == {"detail": f"Assistant {aid} already exists"}
    assert await client.assistants.create("joke", assistant_id=aid, if_exists="do_nothing") == made

    out = await client.runs.wait(None, aid, input={})
    assert out["seen"]["user"] == "ada"
    assert out["seen"]["context"] == {"who": "made"}
    assert out["seen"]["tags"] == ["from-assistant"]
    out = await client.runs.wait(None, aid, input={}, config={"configurable": {"user": "bob"}})
    assert out["seen"]["user"] == "bob"  # the run's own config wins

    updated = await client.assistants.update(aid, context={"who": "v2"}, metadata={"more": 1})
    assert updated["version"] == 2
    assert updated["context"] == {"who": "v2"}
    assert updated["config"] == made["config"]
    assert updated["metadata"] == {"tag": tag, "more": 1}
    assert (await client.runs.wait(None, aid, input={}))["seen"]["context"] == {"who": "v2"}
    versions = await client.assistants.get_versions(aid)
    assert [(v["version"], v["context"]) for v in versions] == [
        (2, {"who": "v2"}),
        (1, {"who": "made"}),
    ]
    assert [
        v["version"] for v in await client.assistants.get_versions(aid, metadata={"more": 1})
    ] == [2]
    back = await client.assistants.set_latest(aid, 1)
    assert (back["version"], back["context"]) == (1, {"who": "made"})
    assert (await client.assistants.get(aid))["version"] == 1

    assert [a["assistant_id"] for a in await client.assistants.search(metadata={"tag": tag})] == [
        aid
    ]
    assert await client.assistants.count(metadata={"tag": tag}) == 1
    assert [
        a["assistant_id"]
        for a in await client.assistants.search(name="mine", metadata={"tag": tag})
    ] == [aid]

    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, aid, input={})
    assert (await client.threads.get(tid))["metadata"]["assistant_id"] == aid
    assert (await client.runs.list(tid))[0]["assistant_id"] == aid
    assert await client.assistants.delete(aid, delete_threads=True) is None
    with pytest.raises(NotFoundError):
        await client.assistants.get(aid)
    with pytest.raises(NotFoundError):
        await client.threads.get(tid)
    with pytest.raises(httpx.HTTPStatusError) as gone:
        await client.runs.wait(None, aid, input={})
    assert gone.value.response.status_code == 404
    with pytest.raises(NotFoundError) as unknown:
        await client.assistants.create("no-such-graph")
    assert unknown.value.response.json()["detail"].startswith("Graph 'no-such-graph' not found.")
    with pytest.raises(NotFoundError):
        await client.assistants.update(aid, name="x")


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_runs_beyond_the_worker_limit_wait_pending(tmp_path: Path, kind: str) -> None:
    """``--n-jobs-per-worker 1``: a second run (another thread) stays ``pending`` with
    its stream open until the first one ends, then runs."""
    server = ServerProcess("asyncio", ":memory:", extra=("--n-jobs-per-worker", "1"))
    try:
        c = (
            get_client(url=server.url)
            if kind == "async"
            else AsyncView(get_sync_client(url=server.url))
        )
        busy = (await c.threads.create())["thread_id"]
        first = await _started_slow_run(c, busy, tmp_path / "first")
        other = (await c.threads.create())["thread_id"]
        second = await c.runs.create(
            other, "joke", input={"topic": "owls"}, stream_mode="values", stream_resumable=True
        )
        seen = []
        async for part in c.runs.join_stream(other, second["run_id"]):
            seen.append(part)
            break  # its metadata event is there while it waits for a worker
        assert seen[0].event == "metadata"
        assert (await c.runs.get(other, second["run_id"]))["status"] == "pending"
        await c.runs.cancel(busy, first["run_id"], wait=True)
        assert await c.runs.join(other, second["run_id"]) == JOKE_OWLS
        assert (await c.runs.get(other, second["run_id"]))["status"] == "success"
        await c.aclose() if kind == "async" else c.close()
    finally:
        assert server.stop() == 0, server.output()


async def test_store_items(client: Any, server: ServerProcess) -> None:
    user = str(uuid.uuid4())  # this test's namespace only (the server is shared)
    await client.store.put_item(["memories", user], "a", {"kind": "fact", "n": 1})
    await client.store.put_item(["memories", user], "b", {"kind": "fact", "n": 5})
    await client.store.put_item(["memories", user, "drafts"], "c", {"kind": "draft", "n": 3})
    first = await client.store.get_item(["memories", user], "a")
    assert first["namespace"] == ["memories", user]
    assert (first["key"], first["value"]) == ("a", {"kind": "fact", "n": 1})
    await client.store.put_item(["memories", user], "a", {"kind": "fact", "n": 2})
    again = await client.store.get_item(["memories", user], "a")
    assert again["value"] == {"kind": "fact", "n": 2}
    assert again["created_at"] == first["created_at"]

    found = await client.store.search_items(["memories", user])
    assert sorted(i["key"] for i in found["items"]) == ["a", "b", "c"]
    facts = await client.store.search_items(["memories", user], filter={"kind": "fact"})
    assert sorted(i["key"] for i in facts["items"]) == ["a", "b"]
    big = await client.store.search_items(["memories", user], filter={"n": {"$gte": 3}})
    assert sorted(i["key"] for i in big["items"]) == ["b", "c"]
    assert len((await client.store.search_items(["memories", user], limit=1))["items"]) == 1
    spaces = await client.store.list_namespaces(prefix=["memories", user])
    assert spaces == {"namespaces": [["memories", user], ["memories", user, "drafts"]]}
    shallow = await client.store.list_namespaces(prefix=["memories", user], max_depth=2)
    assert shallow == {"namespaces": [["memories", user]]}
    drafts = await client.store.list_namespaces(prefix=["memories", user], suffix=["drafts"])
    assert drafts == {"namespaces": [["memories", user, "drafts"]]}

    await client.store.delete_item(["memories", user], "a")
    with pytest.raises(NotFoundError):
        await client.store.get_item(["memories", user], "a")
    async with httpx.AsyncClient(base_url=server.url) as http:
        bad = await http.put("/store/items", json={"namespace": ["a"], "key": "k", "value": 1})
        assert bad.status_code == 422
        assert bad.json() == {"detail": "1 is not of type 'object'\n\nOn instance['value']"}
        dotted = await http.put(
            "/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}}
        )
        assert dotted.status_code == 422
        assert "cannot contain periods" in dotted.json()["detail"]


async def test_graphs_share_the_store_with_the_api(client: Any) -> None:
    """Nodes (sync and async) use ``runtime.store``: the items the store API serves."""
    user = str(uuid.uuid4())
    await client.store.put_item(["memos", user], "from-api", {"text": "via the API"})
    out = await client.runs.wait(None, "memory", input={"user": user, "text": "via a node"})
    assert out["notes"] == ["via a node", "via the API"]
    stored = await client.store.search_items(["memos", user])
    assert sorted(i["value"]["text"] for i in stored["items"]) == ["via a node", "via the API"]
    out = await client.runs.wait(None, "memory", input={"user": user, "text": "again"})
    assert out["notes"] == ["again", "via a node", "via the API"]


async def test_create_batch(client: Any) -> None:
    runs = await client.runs.create_batch(
        [
            {"assistant_id": "joke", "input": {"topic": "owls"}, "on_completion": "keep"},
            {"assistant_id": "agent", "input": {"query": "q"}, "on_completion": "keep"},
        ]
    )
    assert [r["status"] for r in runs] == ["pending", "pending"]
    assert runs[0]["thread_id"] != runs[1]["thread_id"]
    assert await client.runs.join(runs[0]["thread_id"], runs[0]["run_id"]) == JOKE_OWLS
    answer = await client.runs.join(runs[1]["thread_id"], runs[1]["run_id"])
    assert answer == {"query": "q", "answer": "Three results for q"}

    before = await client.threads.count()
    with pytest.raises(UnprocessableEntityError) as bad:
        await client.runs.create_batch(
            [
                {"assistant_id": "joke", "input": {"topic": "x"}, "on_completion": "keep"},
                {"assistant_id": "nope"},
            ]
        )
    assert bad.value.response.json()["detail"].startswith("Invalid assistant: 'nope'.")
    assert await client.threads.count() == before  # checked first: nothing was created


async def test_prune_threads(client: Any) -> None:
    done = (await client.threads.create())["thread_id"]
    await client.runs.wait(done, "joke", input={"topic": "owls"})
    asking = (await client.threads.create())["thread_id"]
    asked = await client.runs.wait(asking, "ask", input={})
    assert len(await client.threads.get_history(done)) == 4

    kept = await client.threads.prune([done, asking, str(uuid.uuid4())], strategy="keep_latest")
    assert kept == {"pruned_count": 2}
    [latest] = await client.threads.get_history(done)
    assert latest["values"] == JOKE_OWLS
    assert (await client.threads.get_state(done))["values"] == JOKE_OWLS
    state = await client.threads.get_state(asking)
    assert state["interrupts"][0]["id"] == asked["__interrupt__"][0]["id"]
    resumed = await client.runs.wait(asking, "ask", command={"resume": "plum"})
    assert resumed["text"] == "color: plum"

    assert await client.threads.prune([done, asking]) == {"pruned_count": 2}
    for tid in (done, asking):
        with pytest.raises(NotFoundError):
            await client.threads.get(tid)
