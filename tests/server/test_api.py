"""The official sync client (``get_sync_client``) and plain HTTP against a real server:
assistants, threads, state, runs, and the reference's 4xx answers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)

from stepgraph.server import assistant_id_for

from .conftest import ServerProcess

GRAPHS = [
    "joke",
    "agent",
    "slow",
    "nested_slow",
    "fail",
    "ask",
    "nested",
    "talker",
    "nested_talker",
    "builder",
    "factory",
    "memory",
]
JOKE = {"topic": "ice cream and cats", "joke": "This is a joke about ice cream and cats"}


@pytest.fixture
def client(server: ServerProcess) -> Any:
    with get_sync_client(url=server.url) as c:
        yield c


@pytest.fixture
def http(server: ServerProcess) -> Any:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def test_assistant_ids_are_the_reference_server_ids() -> None:
    assert assistant_id_for("echo") == "046b5dc7-2108-582c-9c6c-31d556d138f0"


def test_assistants(client: Any, http: Any) -> None:
    found = client.assistants.search(limit=100)
    assert sorted(a["graph_id"] for a in found) == sorted(GRAPHS)
    joke = next(a for a in found if a["graph_id"] == "joke")
    assert joke["assistant_id"] == assistant_id_for("joke")
    assert joke["metadata"] == {"created_by": "system"}
    assert joke["name"] == "joke"
    assert joke["version"] == 1
    assert joke["config"] == {}
    nested = next(a for a in found if a["graph_id"] == "nested")
    assert nested["description"] == "a parent with a child subgraph"
    assert client.assistants.get(joke["assistant_id"]) == joke
    assert client.assistants.count() == len(GRAPHS)
    assert client.assistants.count(graph_id="joke") == 1
    assert [a["graph_id"] for a in client.assistants.search(graph_id="fail")] == ["fail"]
    assert len(client.assistants.search(limit=2)) == 2
    response = http.post("/assistants/search", json={"limit": 2, "offset": 0})
    assert response.headers["x-pagination-total"] == str(len(GRAPHS))

    drawn = client.assistants.get_graph(joke["assistant_id"])
    assert {n["id"] for n in drawn["nodes"]} >= {"__start__", "refine_topic", "generate_joke"}
    assert {"source": "refine_topic", "target": "generate_joke"} in drawn["edges"]
    schemas = client.assistants.get_schemas(joke["assistant_id"])
    assert schemas["graph_id"] == "joke"
    assert set(schemas["state_schema"]["properties"]) == {"topic", "joke"}
    subgraphs = client.assistants.get_subgraphs(assistant_id_for("nested"))
    assert list(subgraphs) == ["child"]

    with pytest.raises(UnprocessableEntityError) as bad:
        client.assistants.get("joke")
    assert bad.value.response.json() == {"detail": "Invalid assistant ID: must be a UUID"}
    with pytest.raises(NotFoundError):
        client.assistants.get(str(uuid.uuid4()))


def test_threads_crud(client: Any) -> None:
    thread = client.threads.create(metadata={"user": "ada"})
    tid = thread["thread_id"]
    assert thread["status"] == "idle"
    assert thread["values"] is None
    assert thread["metadata"] == {"user": "ada"}
    assert client.threads.get(tid)["thread_id"] == tid

    chosen = str(uuid.uuid4())
    assert client.threads.create(thread_id=chosen)["thread_id"] == chosen
    with pytest.raises(ConflictError) as dup:
        client.threads.create(thread_id=chosen)
    assert dup.value.response.json() == {"detail": f"Thread with ID {chosen} already exists"}
    assert client.threads.create(thread_id=chosen, if_exists="do_nothing")["thread_id"] == chosen

    updated = client.threads.update(tid, metadata={"plan": "pro"})
    assert updated["metadata"] == {"user": "ada", "plan": "pro"}
    assert [t["thread_id"] for t in client.threads.search(metadata={"user": "ada"})] == [tid]
    assert client.threads.count(metadata={"user": "ada"}) == 1

    client.threads.delete(tid)
    with pytest.raises(NotFoundError) as gone:
        client.threads.get(tid)
    assert gone.value.response.json() == {"detail": f"Thread with ID {tid} not found"}


def test_stream_wait_state_history(client: Any) -> None:
    tid = client.threads.create()["thread_id"]
    parts = list(
        client.runs.stream(
            tid, "joke", input={"topic": "ice cream"}, stream_mode=["values", "updates", "custom"]
        )
    )
    assert [p.event for p in parts] == [
        "metadata",
        "values",
        "custom",
        "updates",
        "values",
        "custom",
        "updates",
        "values",
    ]
    assert parts[1].data == {"topic": "ice cream"}
    assert parts[2].data == {"progress": "refining the topic"}
    assert parts[3].data == {"refine_topic": {"topic": "ice cream and cats"}}
    assert parts[-1].data == JOKE
    run_id = parts[0].data["run_id"]
    assert parts[0].data == {"run_id": run_id, "attempt": 1}

    run = client.runs.get(tid, run_id)
    assert run["status"] == "success"
    assert run["assistant_id"] == assistant_id_for("joke")
    thread = client.threads.get(tid)
    assert thread["status"] == "idle"
    assert thread["values"] == JOKE
    assert thread["metadata"]["graph_id"] == "joke"

    state = client.threads.get_state(tid)
    assert state["values"] == JOKE
    assert state["next"] == []
    assert state["tasks"] == []
    assert state["checkpoint"]["thread_id"] == tid
    history = client.threads.get_history(tid, limit=10)
    assert history[0]["checkpoint_id"] == state["checkpoint_id"]
    assert [h["metadata"]["step"] for h in history] == [2, 1, 0, -1]
    old = client.threads.get_state(tid, checkpoint_id=history[2]["checkpoint_id"])
    assert old["values"] == {"topic": "ice cream"}

    assert client.runs.wait(tid, "joke", input={"topic": "dogs"}) == {
        "topic": "dogs and cats",
        "joke": "This is a joke about dogs and cats",
    }
    runs = client.runs.list(tid)
    assert len(runs) == 2
    assert runs[1]["run_id"] == run_id

    update = client.threads.update_state(tid, {"joke": "edited"}, as_node="generate_joke")
    assert update["checkpoint"]["thread_id"] == tid
    assert client.threads.get_state(tid)["values"]["joke"] == "edited"
    assert client.threads.get(tid)["values"]["joke"] == "edited"

    copy = client.threads.copy(tid)
    assert copy["thread_id"] != tid
    assert client.threads.get_state(copy["thread_id"])["values"]["joke"] == "edited"


def test_fresh_thread_state_is_empty(client: Any) -> None:
    tid = client.threads.create()["thread_id"]
    state = client.threads.get_state(tid)
    assert state["values"] == {}
    assert state["next"] == []
    assert state["checkpoint"] is None
    assert client.threads.get_history(tid) == []


def test_interrupt_and_resume(client: Any) -> None:
    tid = client.threads.create()["thread_id"]
    waited = client.runs.wait(tid, "ask", input={"text": "x"})
    interrupt = waited["__interrupt__"][0]
    assert interrupt["value"] == {"question": "color?"}
    assert len(interrupt["id"]) == 32
    thread = client.threads.get(tid)
    assert thread["status"] == "interrupted"
    [(task_id, [stored])] = thread["interrupts"].items()
    assert stored == {"id": interrupt["id"], "value": {"question": "color?"}}
    state = client.threads.get_state(tid)
    assert state["next"] == ["ask_color"]
    assert state["tasks"][0]["id"] == task_id
    assert state["interrupts"] == [stored]

    parts = list(client.runs.stream(tid, "ask", command={"resume": "blue"}, stream_mode="updates"))
    assert parts[-1].data == {"ask_color": {"text": "color: blue", "log": ["ask"]}}
    thread = client.threads.get(tid)
    assert thread["status"] == "idle"
    assert thread["interrupts"] == {}


def test_run_error(client: Any) -> None:
    tid = client.threads.create()["thread_id"]
    parts = list(client.runs.stream(tid, "fail", input={}, stream_mode="updates"))
    assert [p.event for p in parts] == ["metadata", "error"]
    assert parts[-1].data == {
        "error": "ValueError",
        "message": "boom: deliberate failure from the failing graph",
    }
    run = client.runs.get(tid, parts[0].data["run_id"])
    assert run["status"] == "error"
    thread = client.threads.get(tid)
    assert thread["status"] == "error"
    assert thread["error"] == parts[-1].data
    with pytest.raises(Exception, match="ValueError: boom: deliberate failure"):
        client.runs.wait(tid, "fail", input={})
    assert client.runs.join(tid, run["run_id"]) == {"__error__": parts[-1].data}


def test_background_run_join(client: Any) -> None:
    tid = client.threads.create()["thread_id"]
    run = client.runs.create(tid, "joke", input={"topic": "ice cream"}, metadata={"k": 1})
    assert run["status"] in ("pending", "running")
    assert run["metadata"] == {"k": 1}
    assert client.runs.join(tid, run["run_id"]) == JOKE
    assert client.runs.get(tid, run["run_id"])["status"] == "success"


def test_thread_less_runs(client: Any) -> None:
    parts = list(client.runs.stream(None, "joke", input={"topic": "tea"}, stream_mode="values"))
    assert parts[-1].data["joke"] == "This is a joke about tea and cats"
    assert client.runs.wait(None, "agent", input={"query": "q"}) == {
        "query": "q",
        "answer": "Three results for q",
    }


def test_subgraph_events(client: Any) -> None:
    tid = client.threads.create()["thread_id"]
    parts = list(
        client.runs.stream(
            tid,
            "nested",
            input={"text": "x"},
            stream_mode=["updates", "custom", "values"],
            stream_subgraphs=True,
        )
    )
    names = [p.event for p in parts]
    inner = [n for n in names if "|" in n]
    assert inner, names
    ns = inner[0].split("|", 1)[1]
    assert ns.startswith("child:")
    assert len(ns) == len("child:") + 36
    assert names.index(f"custom|{ns}") < names.index(f"updates|{ns}")
    assert names.index(f"updates|{ns}") < names.index("updates", names.index("updates") + 1)
    custom = next(p for p in parts if p.event == f"custom|{ns}")
    assert custom.data == {"node": "inner_a"}

    flat = list(
        client.runs.stream(tid, "nested", input={"text": "x"}, stream_mode=["updates", "custom"])
    )
    assert all("|" not in p.event for p in flat)
    assert "custom" not in [p.event for p in flat]


def test_other_modes(client: Any) -> None:
    tid = client.threads.create()["thread_id"]
    parts = list(
        client.runs.stream(
            tid, "joke", input={"topic": "x"}, stream_mode=["debug", "tasks", "checkpoints"]
        )
    )
    kinds = [(p.event, p.data.get("type")) for p in parts[1:] if p.event == "debug"]
    assert kinds[:2] == [("debug", "checkpoint"), ("debug", "checkpoint")]
    checkpoint = next(p.data for p in parts if p.event == "checkpoints")
    assert checkpoint["checkpoint"]["thread_id"] == tid
    task = next(p.data for p in parts if p.event == "tasks")
    assert task["name"] == "refine_topic"

    tuples = list(client.runs.stream(tid, "talker", input={"n": 3}, stream_mode="messages-tuple"))
    chunks = [p.data for p in tuples if p.event == "messages"]
    assert [c[0]["content"] for c in chunks] == ["t0 ", "t1 ", "t2 "]
    assert chunks[0][0]["type"] == "AIMessageChunk"
    assert chunks[0][1]["langgraph_node"] == "speak"
    partial = list(client.runs.stream(tid, "talker", input={"n": 3}, stream_mode="messages"))
    events = [p.event for p in partial]
    assert events[:2] == ["metadata", "messages/metadata"]
    assert partial[-1].data[0]["content"] == "t0 t1 t2 "


def test_curl_example_of_the_docs(server: ServerProcess, http: Any) -> None:
    """Seed 002's cURL: POST /threads/<id>/runs/stream with stream_mode "custom"."""
    tid = http.post("/threads", json={}).json()["thread_id"]
    response = http.post(
        f"/threads/{tid}/runs/stream",
        content=b'{\n  "assistant_id": "agent",\n  "input": {"query": "example"},\n'
        b'  "stream_mode": "custom"\n}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    body = response.content
    run_id = body.split(b'"run_id":"', 1)[1].split(b'"', 1)[0].decode()
    assert response.headers["location"] == f"/threads/{tid}/runs/{run_id}/stream"
    assert response.headers["content-location"] == f"/threads/{tid}/runs/{run_id}"
    assert body == (
        b"event: metadata\r\ndata: {" + f'"run_id":"{run_id}","attempt":1'.encode() + b"}\r\n\r\n"
        b'event: custom\r\ndata: {"custom_key":"Looking up \'example\'"}\r\n\r\n'
        b'event: custom\r\ndata: {"custom_key":"Found 3 results"}\r\n\r\n'
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("POST", "/threads/{tid}/runs/stream", b"{", 422, "Invalid JSON in request body"),
        ("POST", "/threads/{tid}/runs/wait", b"[1]", 422, "[1] is not of type 'object'"),
        ("POST", "/threads/{tid}/runs", b"{}", 422, '"assistant_id" is a required property'),
        (
            "POST",
            "/threads/{tid}/runs/stream",
            b'{"assistant_id":"nope"}',
            422,
            "Invalid assistant: 'nope'. Must be either:\n- A valid assistant UUID, or\n- One of the registered graphs: ",
        ),
        (
            "POST",
            "/threads/{tid}/runs/wait",
            b'{"assistant_id":"3f6f1b7c-2f6b-4c1e-9f5e-111111111111"}',
            404,
            "Thread or assistant not found.",
        ),
        (
            "POST",
            "/threads/{unknown}/runs/stream",
            b'{"assistant_id":"joke"}',
            404,
            "Thread or assistant not found.",
        ),
        (
            "POST",
            "/threads/not-a-uuid/runs/stream",
            b'{"assistant_id":"joke"}',
            422,
            "Invalid thread ID: must be a UUID",
        ),
        (
            "POST",
            "/threads/{tid}/runs/stream",
            b'{"assistant_id":"joke","stream_mode":"bogus"}',
            422,
            "'bogus' is not one of",
        ),
        (
            "POST",
            "/threads/{tid}/runs/stream",
            b'{"assistant_id":"joke","stream_mode":"events"}',
            422,
            "stream_mode 'events'",
        ),
        (
            "POST",
            "/threads/{tid}/runs/stream",
            b'{"assistant_id":"joke","multitask_strategy":"x"}',
            422,
            "'x' is not one of",
        ),
        (
            "POST",
            "/threads/{tid}/runs/stream",
            b'{"assistant_id":"joke","context":{"a":1},"config":{"configurable":{"b":2}}}',
            400,
            "Cannot specify both configurable and context.",
        ),
        (
            "POST",
            "/runs/wait",
            b'{"assistant_id":"ask","command":{"resume":1}}',
            400,
            "You must provide a thread_id when resuming.",
        ),
        ("POST", "/threads/{tid}/runs/{unknown}/cancel", b"", 404, "No runs found to cancel."),
        ("GET", "/threads/{unknown}", b"", 404, "Thread with ID {unknown} not found"),
        ("GET", "/threads/{tid}/runs/{unknown}", b"", 404, "Run with ID {unknown} not found"),
        ("GET", "/assistants/joke", b"", 422, "Invalid assistant ID: must be a UUID"),
        ("GET", "/no/such/path", b"", 404, "Not Found"),
    ],
)
def test_client_errors(
    http: Any, method: str, path: str, body: bytes, status: int, detail: str
) -> None:
    tid = http.post("/threads", json={}).json()["thread_id"]
    unknown = str(uuid.uuid4())
    response = http.request(method, path.format(tid=tid, unknown=unknown), content=body or None)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"].startswith(detail.format(unknown=unknown))


def test_sdk_error_classes(client: Any) -> None:
    tid = client.threads.create()["thread_id"]
    with pytest.raises(UnprocessableEntityError):
        list(client.runs.stream(tid, "nope", input={}))
    with pytest.raises(NotFoundError):
        list(client.runs.stream(str(uuid.uuid4()), "joke", input={}))
    with pytest.raises(BadRequestError):
        client.runs.create(tid, "joke", context={"a": 1}, config={"configurable": {"b": 2}})


def test_health(http: Any) -> None:
    assert http.get("/ok").json() == {"ok": True}
    info = http.get("/info").json()
    assert "version" in info
    assert "flags" in info
