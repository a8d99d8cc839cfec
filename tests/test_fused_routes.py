"""A sync node's sync routers run in the node's own worker-thread call, right after it
(one thread hop per ReAct turn instead of two), with the same semantics as before:
the router sees the node's writes applied, its errors and interrupts behave as a
node's, it is retried with the node, and ``get_config()``/``get_stream_writer()``
work inside it. Async nodes, async routers and nodes with a timeout keep their hops
(the router of an unfused node runs on the event loop: tests/test_router_on_loop.py)."""

from __future__ import annotations

import operator
import threading
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typing_extensions import TypedDict

from stepgraph import END, START, RetryPolicy, StateGraph, get_config, get_stream_writer
from stepgraph.checkpoint.memory import InMemorySaver
from stepgraph.types import Command, interrupt

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    x: int
    log: Annotated[list[str], operator.add]


def _graph(node: Any, router: Any, **node_kwargs: Any) -> Any:
    return (
        StateGraph(State)
        .add_node("a", node, **node_kwargs)
        .add_node("b", lambda s: {"log": ["b"]})
        .add_edge(START, "a")
        .add_conditional_edges("a", router, ["b", END])
    )


async def test_sync_node_and_sync_router_share_one_worker_thread() -> None:
    threads: dict[str, int] = {}

    def node(state: State) -> State:
        threads["node"] = threading.get_ident()
        return {"x": state["x"] + 1}

    def router(state: State) -> str:
        threads["router"] = threading.get_ident()
        return "b" if state["x"] == 2 else END

    out = await _graph(node, router).compile().ainvoke({"x": 1})
    assert out == {"x": 2, "log": ["b"]}
    assert threads["node"] == threads["router"]
    assert threads["node"] != threading.get_ident()


async def test_async_router_after_sync_node_still_runs_on_the_loop() -> None:
    threads: dict[str, int] = {}

    def node(state: State) -> State:
        threads["node"] = threading.get_ident()
        return {"x": 5}

    async def router(state: State) -> str:
        threads["router"] = threading.get_ident()
        return END

    await _graph(node, router).compile().ainvoke({"x": 1})
    assert threads["router"] == threading.get_ident() != threads["node"]


def test_sync_api_node_and_router_share_one_thread() -> None:
    threads: list[tuple[str, int]] = []

    def node(state: State) -> State:
        threads.append(("node", threading.get_ident()))
        return {"x": state["x"] * 2}

    def router(state: State) -> str:
        threads.append(("router", threading.get_ident()))
        return "b" if state["x"] < 8 else END

    graph = (
        StateGraph(State)
        .add_node("a", node)
        .add_edge(START, "a")
        .add_conditional_edges("a", router, {"b": "a", END: END})
    )
    assert graph.compile().invoke({"x": 1})["x"] == 8
    assert [name for name, _ in threads] == ["node", "router"] * 3
    for i in range(0, len(threads), 2):
        assert threads[i][1] == threads[i + 1][1]


@given(
    start=st.integers(-50, 50),
    adds=st.lists(st.integers(-5, 5), min_size=1, max_size=3),
)
@settings(max_examples=25, deadline=None)
def test_router_sees_the_node_writes_applied(start: int, adds: list[int]) -> None:
    """Whatever the node writes (plain and reducer keys), the router sees the state
    after those writes, exactly as the next step would."""
    seen: list[dict[str, Any]] = []

    def node(state: State) -> State:
        return {"x": state["x"] + sum(adds), "log": [str(a) for a in adds]}

    def router(state: State) -> str:
        seen.append(dict(state))
        return END

    graph = _graph(node, router).compile()
    out = graph.invoke({"x": start, "log": ["in"]})
    expected = {"x": start + sum(adds), "log": ["in", *(str(a) for a in adds)]}
    assert seen == [expected]
    assert out == expected


async def test_router_error_streams_the_node_update_then_raises() -> None:
    def node(state: State) -> State:
        return {"x": 7}

    def router(state: State) -> str:
        raise KeyError("no route")

    graph = _graph(node, router).compile()
    chunks: list[Any] = []

    async def consume() -> None:
        async for chunk in graph.astream({"x": 1}, stream_mode="updates"):
            chunks.append(chunk)

    with pytest.raises(KeyError, match="no route"):
        await consume()
    assert chunks == [{"a": {"x": 7}}]


async def test_router_error_is_retried_with_the_node() -> None:
    calls: list[str] = []

    def node(state: State) -> State:
        calls.append("node")
        return {"x": len(calls)}

    def router(state: State) -> str:
        calls.append("router")
        if state["x"] < 3:
            raise RuntimeError("again")
        return END

    policy = RetryPolicy(retry_on=RuntimeError, initial_interval=0.0, jitter=False, max_attempts=5)
    out = await _graph(node, router, retry_policy=policy).compile().ainvoke({"x": 0})
    assert calls == ["node", "router", "node", "router"]
    assert out["x"] == 3


async def test_router_interrupt_then_resume() -> None:
    def node(state: State) -> State:
        return {"x": state["x"] + 1, "log": ["a"]}

    def router(state: State) -> str:
        answer = interrupt("where to?")
        return "b" if answer == "b" else END

    graph = _graph(node, router).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    first = await graph.ainvoke({"x": 1}, config)
    assert first["__interrupt__"][0].value == "where to?"
    assert first["x"] == 1  # the node's writes are dropped with the interrupted task
    out = await graph.ainvoke(Command(resume="b"), config)
    assert out == {"x": 2, "log": ["a", "b"]}


async def test_get_config_and_stream_writer_inside_the_router() -> None:
    def node(state: State) -> State:
        get_stream_writer()("from node")
        return {"x": 1}

    def router(state: State) -> str:
        get_stream_writer()({"router_node": get_config()["metadata"]["langgraph_node"]})
        return END

    graph = _graph(node, router).compile()
    chunks = [c async for c in graph.astream({"x": 0}, stream_mode=["custom", "updates"])]
    assert chunks == [
        ("custom", "from node"),
        ("custom", {"router_node": "a"}),
        ("updates", {"a": {"x": 1}}),
    ]


async def test_messages_mode_and_timeouts_keep_working() -> None:
    threads: dict[str, int] = {}

    def node(state: State) -> State:
        threads["node"] = threading.get_ident()
        return {"x": 3}

    def router(state: State) -> str:
        threads["router"] = threading.get_ident()
        return END

    graph = _graph(node, router, timeout=30.0).compile()
    assert (await graph.ainvoke({"x": 0}))["x"] == 3
    # a node with a timeout runs alone in its thread; its sync router then runs on the
    # loop, as every sync router not fused with its node (tests/test_router_on_loop.py)
    assert threads["node"] != threading.get_ident()
    assert threads["router"] == threading.get_ident()
    graph = _graph(node, router).compile()
    chunks = [c async for c in graph.astream({"x": 0}, stream_mode=["messages", "updates"])]
    assert chunks == [("updates", {"a": {"x": 3}})]
