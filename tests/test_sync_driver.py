"""The sync API's private event loop: where sync nodes run, nesting, threads.

``invoke``/``stream`` from a thread with no running event loop run the graph on that
thread's own loop (``stepgraph._sync.Driver``). A sync node that is the only task of
its step runs in the calling thread with no loop running (as LangGraph's sync API
runs a lone task); sync nodes with siblings run concurrently in worker threads.
"""

from __future__ import annotations

import asyncio
import operator
import threading
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from stepgraph.config import get_config
from stepgraph.graph import END, START, StateGraph
from stepgraph.types import Send, interrupt


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


def _chain(*nodes: Any) -> Any:
    builder = StateGraph(S)
    previous = START
    for node in nodes:
        builder.add_node(node.__name__, node)
        builder.add_edge(previous, node.__name__)
        previous = node.__name__
    builder.add_edge(previous, END)
    return builder.compile()


def test_a_lone_sync_node_runs_in_the_calling_thread_with_no_loop_running() -> None:
    seen: dict[str, Any] = {}

    def node(state: S) -> dict[str, Any]:
        seen["thread"] = threading.get_ident()
        seen["config"] = get_config()["metadata"]["langgraph_node"]
        # code that starts its own event loop works, as in a worker thread
        seen["inner"] = asyncio.run(_answer())
        return {"log": ["node"]}

    assert _chain(node).invoke({"log": []}) == {"log": ["node"]}
    assert seen == {"thread": threading.get_ident(), "config": "node", "inner": 42}


async def _answer() -> int:
    return 42


def test_sync_invoke_inside_a_lone_sync_node() -> None:
    """The node blocks its loop, so the nested run goes to the portal thread."""

    def inner(state: S) -> dict[str, Any]:
        return {"log": ["inner"]}

    inner_graph = _chain(inner)

    def outer(state: S) -> dict[str, Any]:
        return {"log": inner_graph.invoke({"log": ["from-outer"]})["log"]}

    def after(state: S) -> dict[str, Any]:
        return {"log": ["after"]}

    graph = _chain(outer, after)
    assert graph.invoke({"log": []}) == {"log": ["from-outer", "inner", "after"]}
    chunks = list(graph.stream({"log": []}, stream_mode="updates", subgraphs=True))
    assert chunks[-1] == ((), {"after": {"log": ["after"]}})


def test_sync_siblings_run_concurrently_in_worker_threads() -> None:
    both = threading.Barrier(2)
    threads: set[int] = set()

    def worker(state: dict[str, Any]) -> dict[str, Any]:
        threads.add(threading.get_ident())
        both.wait(timeout=30)  # only returns once the sibling runs at the same time
        return {"log": [state["name"]]}

    graph = (
        StateGraph(S)
        .add_node("worker", worker)
        .add_conditional_edges(START, lambda s: [Send("worker", {"name": n}) for n in "ab"])
        .compile()
    )
    for _ in range(3):  # the driver's threads are reused across calls
        assert graph.invoke({"log": []}) == {"log": ["a", "b"]}
    assert threading.get_ident() not in threads


def test_each_thread_runs_its_own_graphs() -> None:
    def node(state: S) -> dict[str, Any]:
        return {"log": [str(len(state["log"]))]}

    graph = _chain(node)
    results: list[Any] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            for _ in range(20):
                results.append(graph.invoke({"log": []}))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [{"log": ["0"]}] * 80


def test_interrupt_and_errors_from_an_inline_node() -> None:
    from stepgraph.checkpoint.memory import InMemorySaver
    from stepgraph.types import Command

    def ask(state: S) -> dict[str, Any]:
        return {"log": [interrupt("name?")]}

    graph = StateGraph(S).add_node(ask).add_edge(START, "ask").compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    paused = graph.invoke({"log": []}, config)
    assert paused["__interrupt__"][0].value == "name?"
    assert graph.invoke(Command(resume="ada"), config) == {"log": ["ada"]}

    def boom(state: S) -> dict[str, Any]:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        _chain(boom).invoke({"log": []})


def test_closing_a_sync_stream_stops_the_run_between_steps() -> None:
    ran: list[str] = []

    def first(state: S) -> dict[str, Any]:
        ran.append("first")
        return {"log": ["first"]}

    def second(state: S) -> dict[str, Any]:
        ran.append("second")
        return {"log": ["second"]}

    stream = _chain(first, second).stream({"log": []}, stream_mode="updates")
    assert next(stream) == {"first": {"log": ["first"]}}
    stream.close()
    assert ran == ["first"]


@pytest.mark.anyio
async def test_sync_invoke_from_async_code_outside_a_graph_still_works() -> None:
    """A running event loop in this thread: the run goes to the portal thread."""

    def node(state: S) -> dict[str, Any]:
        return {"log": ["node"]}

    assert _chain(node).invoke({"log": []}) == {"log": ["node"]}
    await anyio.lowlevel.checkpoint()
