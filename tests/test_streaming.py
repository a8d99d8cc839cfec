"""Stream writer everywhere, backpressure, modes that cost nothing, one outcome."""

from __future__ import annotations

import operator
import threading
from typing import Annotated, Any, TypedDict

import anyio
import anyio.lowlevel
import pytest

import stepgraph._loop as loop_module
import stepgraph._sync as _sync_module
from stepgraph.config import get_stream_writer
from stepgraph.graph import START, StateGraph
from stepgraph.types import StreamWriter

pytestmark = pytest.mark.anyio


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


# -- the writer matrix ---------------------------------------------------------------------


def helper_tool(tag: str) -> None:
    """A helper/tool function a node calls: it finds the writer itself."""
    get_stream_writer()({"from": tag})


def _inner_graph(tag: str, sync: bool) -> Any:
    if sync:

        def inner(state: S) -> dict[str, Any]:
            get_stream_writer()({"from": tag})
            return {"log": [tag]}
    else:

        async def inner(state: S) -> dict[str, Any]:  # type: ignore[misc]
            get_stream_writer()({"from": tag})
            return {"log": [tag]}

    return StateGraph(S).add_node("inner", inner).add_edge(START, "inner").compile()


def make_node(kind: str, access: str) -> tuple[Any, tuple[str, ...]]:
    """A node of ``kind`` that emits {"from": kind}; and the namespace depth it emits at."""
    tag = f"{kind}/{access}"

    def emit(writer: StreamWriter | None) -> None:
        (writer if access == "param" and writer is not None else get_stream_writer())({"from": tag})

    if kind == "sync":

        def node(state: S, writer: StreamWriter) -> dict[str, Any]:
            emit(writer)
            return {}

        return node, ()
    if kind == "async":

        async def anode(state: S, writer: StreamWriter) -> dict[str, Any]:
            emit(writer)
            return {}

        return anode, ()
    if kind == "helper-sync":
        return (lambda state: helper_tool(tag) or {}), ()
    if kind == "helper-async":

        async def ahelper(state: S) -> dict[str, Any]:
            helper_tool(tag)
            return {}

        return ahelper, ()
    if kind == "child-task":

        async def spawner(state: S, writer: StreamWriter) -> dict[str, Any]:
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.to_thread.run_sync, emit, writer)  # a thread of its own
                tg.start_soon(_async_emit, emit, writer)  # a task of its own
            return {}

        return spawner, ()
    if kind == "subgraph-node":
        return _inner_graph(tag, sync=access == "param"), ("sub",)
    if kind == "invoke-in-sync-node":
        inner = _inner_graph(tag, sync=True)
        return (lambda state: {"log": inner.invoke({"log": []})["log"]}), ("sub",)
    if kind == "ainvoke-in-async-node":
        inner = _inner_graph(tag, sync=False)

        async def host(state: S) -> dict[str, Any]:
            return {"log": (await inner.ainvoke({"log": []}))["log"]}

        return host, ("sub",)
    raise AssertionError(kind)


async def _async_emit(emit: Any, writer: Any) -> None:
    emit(writer)


KINDS = [
    "sync",
    "async",
    "helper-sync",
    "helper-async",
    "child-task",
    "subgraph-node",
    "invoke-in-sync-node",
    "ainvoke-in-async-node",
]


def _graph(kind: str, access: str) -> tuple[Any, int]:
    node, _depth = make_node(kind, access)
    graph = StateGraph(S).add_node("sub", node).add_edge(START, "sub").compile()
    expected = 2 if kind == "child-task" else 1
    return graph, expected


def _check(chunks: list[Any], kind: str, access: str, expected: int) -> None:
    tag = f"{kind}/{access}"
    custom = [(ns, data) for ns, mode, data in chunks if mode == "custom"]
    assert [data for _, data in custom] == [{"from": tag}] * expected
    nested = kind in ("subgraph-node", "invoke-in-sync-node", "ainvoke-in-async-node")
    for ns, _ in custom:
        assert len(ns) == (1 if nested else 0)
        if nested:
            assert ns[0].startswith("sub:")


@pytest.mark.parametrize("access", ["param", "get_stream_writer"])
@pytest.mark.parametrize("kind", KINDS)
async def test_writer_works_everywhere_async_api(kind: str, access: str) -> None:
    graph, expected = _graph(kind, access)
    chunks = [
        c
        async for c in graph.astream({"log": []}, stream_mode=["custom", "updates"], subgraphs=True)
    ]
    _check(chunks, kind, access, expected)


@pytest.mark.parametrize("access", ["param", "get_stream_writer"])
@pytest.mark.parametrize("kind", KINDS)
def test_writer_works_everywhere_sync_api(kind: str, access: str) -> None:
    graph, expected = _graph(kind, access)
    chunks = list(graph.stream({"log": []}, stream_mode=["custom", "updates"], subgraphs=True))
    _check(chunks, kind, access, expected)


async def test_subgraph_output_hidden_without_subgraphs_flag() -> None:
    for kind in ("subgraph-node", "invoke-in-sync-node", "ainvoke-in-async-node"):
        graph, _ = _graph(kind, "param")
        chunks = [c async for c in graph.astream({"log": []}, stream_mode=["custom", "updates"])]
        assert [mode for mode, _ in chunks] == ["updates"]


def test_writer_outside_a_run_raises() -> None:
    with pytest.raises(
        RuntimeError, match=r"^Called get_stream_writer outside of a runnable context"
    ):
        get_stream_writer()


# -- backpressure ----------------------------------------------------------------------------


_MILLION = """
import sys, tracemalloc, anyio, anyio.lowlevel
from typing import Annotated, Any, TypedDict
import operator
from stepgraph.graph import START, StateGraph

class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]

TOTAL = int(sys.argv[2])

async def producer(state, writer):
    for i in range(TOTAL):
        await writer.asend(i)
    return {"log": ["done"]}

graph = StateGraph(S).add_node(producer).add_edge(START, "producer").compile()

async def main():
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    expected, final = 0, None
    async with graph.astream({"log": []}, stream_mode=["custom", "values"], buffer=16) as s:
        async for mode, chunk in s:
            if mode == "custom":
                assert chunk == expected, (chunk, expected)
                expected += 1
                await anyio.lowlevel.checkpoint()  # a slow reader
            else:
                final = chunk
    _, peak = tracemalloc.get_traced_memory()
    import json
    print(json.dumps({"count": expected, "final": final, "growth": peak - base}))

anyio.run(main, backend=sys.argv[1])
"""


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("backend", "total"), [("asyncio", 1_000_000), ("trio", 100_000)])
def test_slow_consumer_keeps_memory_flat_for_a_million_chunks(backend: str, total: int) -> None:
    """1,000,000 custom chunks (100,000 on trio: same code path, half the CI time) read
    one at a time: the producer waits for the reader, so traced memory stays under a
    small fixed bound, and the final state is right. (In a subprocess: coverage's line
    tracing would make a million chunks very slow.)"""
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", _MILLION, backend, str(total)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["count"] == total
    assert report["final"] == {"log": ["done"]}
    assert report["growth"] < 2_000_000, f"traced memory grew by {report['growth']} bytes"


def test_sync_writer_in_a_worker_thread_waits_for_the_reader() -> None:
    """A sync node's writer blocks while the buffer is full (it never runs ahead)."""
    ahead: list[int] = []
    read = 0
    lock = threading.Lock()
    total = 4 * _sync_module._BATCH

    def producer(state: S, writer: StreamWriter) -> dict[str, Any]:
        for i in range(total):
            writer(i)
            with lock:
                ahead.append(i - read)
        return {}

    graph = StateGraph(S).add_node(producer).add_edge(START, "producer").compile()
    buffer, batch = 16, _sync_module._BATCH
    for chunk in graph.stream({"log": []}, stream_mode="custom", buffer=buffer):
        with lock:
            read = chunk + 1
    assert read == total
    # the buffer + what the sync iterator holds in one batch bound the lead
    assert max(ahead) <= buffer + batch + 1


# -- modes nobody asked for cost nothing -----------------------------------------------------


async def test_modes_not_requested_build_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    built: dict[str, int] = {"values": 0, "updates": 0, "tasks": 0, "ordered": 0}

    def counting(name: str, real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            built[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(loop_module, "ValuesEvent", counting("values", loop_module.ValuesEvent))
    monkeypatch.setattr(loop_module, "UpdatesEvent", counting("updates", loop_module.UpdatesEvent))
    monkeypatch.setattr(loop_module, "_start_event", counting("tasks", loop_module._start_event))
    monkeypatch.setattr(loop_module, "update_chunk", counting("updates", loop_module.update_chunk))

    def node(state: S, writer: StreamWriter) -> dict[str, Any]:
        writer("x")
        return {"log": ["n"]}

    graph = (
        StateGraph(S)
        .add_node("a", node)
        .add_node("b", node)
        .add_edge(START, "a")
        .add_edge("a", "b")
        .compile()
    )
    chunks = [c async for c in graph.astream({"log": []}, stream_mode="custom")]
    assert chunks == ["x", "x"]
    assert built == {"values": 0, "updates": 0, "tasks": 0, "ordered": 0}
    assert await graph.ainvoke({"log": []}) == {"log": ["n", "n"]}
    assert built == {"values": 0, "updates": 0, "tasks": 0, "ordered": 0}
    [c async for c in graph.astream({"log": []}, stream_mode="updates")]
    assert built["updates"] > 0
    assert built["values"] == 0
    assert built["tasks"] == 0


# -- one outcome, and a failing task's result chunk before the error --------------------------


async def test_failing_task_reports_its_result_before_the_error_is_raised() -> None:
    def boom(state: S) -> dict[str, Any]:
        raise KeyError("boom")

    graph = StateGraph(S).add_node(boom).add_edge(START, "boom").compile()
    seen: list[Any] = []
    stream = graph.astream({"log": []}, stream_mode=["tasks", "debug"])
    with pytest.raises(KeyError):  # noqa: PT012 - iterating is what raises
        async for chunk in stream:
            seen.append(chunk)
    results = [c for m, c in seen if m == "tasks" and "error" in c]
    assert len(results) == 1
    assert isinstance(results[0]["error"], KeyError)
    assert [c["type"] for m, c in seen if m == "debug"] == ["task", "task_result"]
    assert stream.outcome == "error"


@pytest.mark.parametrize(
    ("kind", "outcome"), [("ok", "done"), ("fail", "error"), ("pause", "interrupted")]
)
async def test_stream_ends_with_exactly_one_outcome(kind: str, outcome: str) -> None:
    from stepgraph.types import interrupt

    def node(state: S) -> dict[str, Any]:
        if kind == "fail":
            raise ValueError("no")
        if kind == "pause":
            interrupt("?")
        return {"log": ["ok"]}

    graph = StateGraph(S).add_node(node).add_edge(START, "node").compile()
    async with graph.astream({"log": []}) as stream:
        assert stream.outcome is None
        try:
            async for _ in stream:
                pass
        except ValueError:
            pass
    assert stream.outcome == outcome
