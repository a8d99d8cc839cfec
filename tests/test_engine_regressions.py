"""Regression tests for engine bugs the engine test suite found (all fixed).

Each test states LangGraph's observed behaviour (langgraph 1.2.22).
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

import anyio
import pytest
from typing_extensions import TypedDict

from stepgraph import START, StateGraph

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    log: Annotated[list[Any], operator.add]


# -- 1. node timeouts: ignored on subgraph nodes, timedelta rejected ---------------------------


async def test_timeout_on_a_subgraph_node_is_enforced() -> None:
    # LangGraph: NodeTimeoutError("Node 'sub' exceeded its run timeout of 0.050s ...").
    # stepgraph skips the timeout for compiled-graph nodes: the run hangs until the
    # outer move_on_after cancels it.
    from stepgraph.errors import NodeTimeoutError

    async def slow(state: State) -> None:
        await anyio.sleep_forever()

    sub = StateGraph(State).add_node("slow", slow).add_edge(START, "slow").compile()
    graph = StateGraph(State).add_node("sub", sub, timeout=0.05).add_edge(START, "sub").compile()
    with anyio.move_on_after(5) as scope, pytest.raises(NodeTimeoutError) as info:
        await graph.ainvoke({})
    assert not scope.cancelled_caught
    assert str(info.value) == (
        "Node 'sub' did not finish within its timeout of 0.05 seconds. Raise the limit with "
        "add_node('sub', ..., timeout=<seconds>) or make the node faster."
    )


async def test_timeout_accepts_a_timedelta_like_langgraph() -> None:
    # LangGraph 1.2.22: add_node(..., timeout: float | timedelta | TimeoutPolicy | None).
    # stepgraph: TypeError("'>' not supported between instances of 'datetime.timedelta'
    # and 'int'") from add_node.
    from datetime import timedelta

    from stepgraph.errors import NodeTimeoutError

    async def slow(state: State) -> None:
        await anyio.sleep_forever()

    graph = (
        StateGraph(State)
        .add_node("slow", slow, timeout=timedelta(milliseconds=50))
        .add_edge(START, "slow")
        .compile()
    )
    with pytest.raises(NodeTimeoutError):
        await graph.ainvoke({})


# -- 2. sync invoke() inside an async node hangs trio when subgraphs are streamed ------------

_SYNC_INVOKE_IN_ASYNC_NODE = """
import operator, sys
from typing import Annotated
from typing_extensions import TypedDict
import anyio
from stepgraph import START, StateGraph

class S(TypedDict, total=False):
    log: Annotated[list, operator.add]

inner = StateGraph(S).add_node("i", lambda s: {"log": ["i"]}).add_edge(START, "i").compile()

async def host(state):
    return {"log": inner.invoke({})["log"]}  # sync invoke on the event loop thread

graph = StateGraph(S).add_node(host).add_edge(START, "host").compile()

async def main():
    async with graph.astream({}, stream_mode="updates", subgraphs=True) as stream:
        print([chunk for _, chunk in [c async for c in stream]])

anyio.run(main, backend=sys.argv[1])
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_invoke_inside_an_async_node_with_subgraph_streaming(backend: str) -> None:
    # asyncio: [{'i': {'log': ['i']}}, {'host': {'log': ['i']}}]; trio: hangs forever in
    # about half of the runs (the loop thread is blocked in the node, so the run cannot
    # even be cancelled). Subprocesses, so a hang cannot take the test session with it.
    import subprocess
    import sys

    for attempt in range(10):
        try:
            done = subprocess.run(
                [sys.executable, "-c", _SYNC_INVOKE_IN_ASYNC_NODE, backend],
                capture_output=True,
                text=True,
                timeout=15,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"sync invoke() inside an async node hung on {backend} (run {attempt})")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "[{'i': {'log': ['i']}}, {'host': {'log': ['i']}}]\n"
