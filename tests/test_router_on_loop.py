"""A sync router that is not fused with a sync node (the router of an async node, of a
node with a timeout, of START) runs on the event loop thread as a plain function, in a
copy of the task's context; one that holds the loop longer than ``SLOW_ROUTER`` is
moved to worker threads for good, with a ``SlowRouterWarning``. The step's commit
reuses the state the routers saw, so a reducer runs once per write."""

from __future__ import annotations

import asyncio
import contextvars
import operator
import threading
from typing import Annotated, Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typing_extensions import TypedDict

from stepgraph import END, START, StateGraph, _execute, get_config
from stepgraph.errors import SlowRouterWarning
from stepgraph.graph.message import add_messages

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    x: int
    log: Annotated[list[str], operator.add]


def _graph(router: Any, node: Any = None) -> Any:
    async def a(state: State) -> State:
        return {"x": state.get("x", 0) + 1, "log": ["a"]}

    return (
        StateGraph(State)
        .add_node("a", node or a)
        .add_node("b", lambda s: {"log": ["b"]})
        .add_edge(START, "a")
        .add_conditional_edges("a", router, ["a", "b", END])
        .add_edge("b", END)
        .compile()
    )


def _routed_once(schema: Any, node: Any, router: Any) -> Any:
    """START → a, then ``router`` after a (which may only end the run)."""
    return (
        StateGraph(schema)
        .add_node("a", node)
        .add_edge(START, "a")
        .add_conditional_edges("a", router, [END])
        .compile()
    )


async def test_sync_router_of_an_async_node_runs_on_the_loop_thread() -> None:
    seen: list[tuple[int, str]] = []

    def router(state: State) -> str:
        seen.append((threading.get_ident(), get_config()["metadata"]["langgraph_node"]))
        return "b"

    out = await _graph(router).ainvoke({"x": 0})
    assert out == {"x": 1, "log": ["a", "b"]}
    assert seen == [(threading.get_ident(), "a")]


async def test_start_router_runs_on_the_loop_thread() -> None:
    seen: list[int] = []

    def pick(state: State) -> str:
        seen.append(threading.get_ident())
        return "b"

    graph = (
        StateGraph(State)
        .add_node("b", lambda s: {"log": ["b"]})
        .add_conditional_edges(START, pick, ["b"])
        .compile()
    )
    assert await graph.ainvoke({"x": 0}) == {"x": 0, "log": ["b"]}
    assert seen == [threading.get_ident()]


async def test_a_slow_router_moves_to_threads_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_execute, "SLOW_ROUTER", -1.0)  # every call counts as slow
    threads: list[int] = []

    def router(state: State) -> str:
        threads.append(threading.get_ident())
        return "a" if state["x"] < 3 else END

    graph = _graph(router)
    with pytest.warns(SlowRouterWarning, match="'a'.*worker thread") as caught:
        assert (await graph.ainvoke({"x": 0}))["x"] == 3
    assert len(caught) == 1
    loop_thread = threading.get_ident()
    assert threads[0] == loop_thread
    assert all(t != loop_thread for t in threads[1:])
    assert len(threads) == 3
    # the graph remembers: the next run starts in threads, with no new warning
    threads.clear()
    assert (await graph.ainvoke({"x": 2}))["x"] == 3
    assert threads
    assert threads[0] != loop_thread


async def test_a_fast_router_stays_on_the_loop_without_warning() -> None:
    threads: list[int] = []

    def router(state: State) -> str:
        threads.append(threading.get_ident())
        return "a" if state["x"] < 50 else END

    graph = _graph(router)
    assert (await graph.ainvoke({"x": 0}))["x"] == 50
    assert len(threads) == 50
    # (a loaded machine may preempt one call past SLOW_ROUTER; the first call always
    # runs on the loop)
    assert threads[0] == threading.get_ident()


async def test_router_context_changes_do_not_leak_into_the_task() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    after: list[str] = []

    async def node(state: State) -> State:
        return {"x": 1}

    def router(state: State) -> str:
        var.set("router")
        return END

    graph = _routed_once(State, node, router)
    var.set("caller")
    await graph.ainvoke({})
    after.append(var.get())
    assert after == ["caller"]


async def test_router_errors_surface_as_before() -> None:
    def router(state: State) -> str:
        raise KeyError("no route")

    with pytest.raises(KeyError, match="no route"):
        await _graph(router).ainvoke({"x": 0})


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_router_may_run_its_own_event_loop_as_in_a_thread() -> None:
    """As in a worker thread, no loop is marked running while the router runs: a sync
    helper that calls ``asyncio.run`` (a sync SDK wrapper) keeps working."""

    async def lookup() -> str:
        await asyncio.sleep(0)
        return "b"

    def router(state: State) -> str:
        return asyncio.run(lookup())

    assert (await _graph(router).ainvoke({"x": 0}))["log"] == ["a", "b"]
    asyncio.get_running_loop()  # the caller's loop is marked running again


_REDUCED: list[int] = []


def _counting_add(left: list[int], right: list[int]) -> list[int]:
    _REDUCED.append(len(right))
    return left + right


class Msgs(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    n: Annotated[list[int], _counting_add]


async def test_commit_reuses_the_state_the_router_saw() -> None:
    """add_messages gives id-less messages fresh ids: the router and the final state
    see the same ones (each write is reduced once)."""
    _REDUCED.clear()
    seen: list[str] = []

    async def node(state: Msgs) -> Msgs:
        return {"messages": [{"role": "ai", "content": "hi"}], "n": [1]}

    def router(state: Msgs) -> str:
        seen.append(state["messages"][-1].id)
        return END

    graph = _routed_once(Msgs, node, router)
    out = await graph.ainvoke({"n": []})
    assert [m.id for m in out["messages"]] == seen
    assert _REDUCED == [0, 1]  # the input's write, then the node's, once each


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=12))
def test_on_loop_and_threaded_routers_agree(choices: list[int]) -> None:
    """The same routing decisions give the same states and updates whether the router
    runs on the loop or (marked slow) in threads, on both backends."""
    targets = ["a", "b", END]

    def make_router() -> Any:
        script = iter(choices)

        def router(state: State) -> str:
            return targets[next(script, 2)]

        return router

    async def run(slow: bool) -> list[Any]:
        graph = _graph(make_router())
        if slow:
            for branch in graph.spec.branches["a"]:
                branch.history.slow = True
        return [c async for c in graph.astream({"x": 0}, stream_mode=["updates", "values"])]

    for backend in ("asyncio", "trio"):
        assert anyio.run(run, False, backend=backend) == anyio.run(run, True, backend=backend)
