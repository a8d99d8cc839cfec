"""Leaving a stream early cancels the run cleanly, on both backends, with no noise.

Every test runs under ``filterwarnings=error``: a "never awaited" coroutine, an
unclosed stream or a stray ``GeneratorExit`` would fail it.
"""

from __future__ import annotations

import operator
import threading
from typing import Annotated, Any, TypedDict

import anyio
import pytest

from stepgraph.config import get_stream_writer
from stepgraph.graph import START, StateGraph

pytestmark = pytest.mark.anyio


class State(TypedDict):
    log: Annotated[list[str], operator.add]


class Probe:
    """Records what the graph's nodes did; events let the test wait without sleeping."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finalized: list[str] = []
        self.entered = anyio.Event()
        self.finished = anyio.Event()


def slow_graph(probe: Probe, *, nested: bool = False) -> Any:
    """first → blocker (streams a chunk, then waits forever) → never."""

    def first(state: State) -> dict[str, Any]:
        probe.started.append("first")
        return {"log": ["first"]}

    async def blocker(state: State) -> dict[str, Any]:
        probe.started.append("blocker")
        get_stream_writer()({"blocker": "waiting"})
        probe.entered.set()
        try:
            await anyio.sleep_forever()
        finally:
            probe.finalized.append("blocker")
            probe.finished.set()
        return {}  # pragma: no cover - never reached

    def never(state: State) -> dict[str, Any]:
        probe.started.append("never")
        return {"log": ["never"]}

    inner = (
        StateGraph(State)
        .add_node("inner_block", blocker)
        .add_node("inner_never", never)
        .add_edge(START, "inner_block")
        .add_edge("inner_block", "inner_never")
        .compile()
    )

    async def host(state: State) -> dict[str, Any]:
        probe.started.append("host")
        await inner.ainvoke(state)
        return {"log": ["host"]}

    builder = StateGraph(State).add_node(first).add_node(never)
    if nested:
        builder.add_node("blocker", host)
    else:
        builder.add_node(blocker)
    return (
        builder.add_edge(START, "first")
        .add_edge("first", "blocker")
        .add_edge("blocker", "never")
        .compile()
    )


async def test_closing_after_a_step_means_the_next_step_never_ran() -> None:
    """The run advances a superstep only when the consumer asks for more."""
    probe = Probe()
    graph = slow_graph(probe)
    async with graph.astream({"log": []}, stream_mode="updates") as stream:
        async for chunk in stream:
            assert chunk == {"first": {"log": ["first"]}}
            break
    assert probe.started == ["first"]


def assert_stopped(probe: Probe) -> None:
    assert probe.finalized == ["blocker"]
    assert "never" not in probe.started


async def test_break_cancels_the_run() -> None:
    probe = Probe()
    graph = slow_graph(probe)
    async for chunk in graph.astream({"log": []}, stream_mode="custom"):
        assert chunk == {"blocker": "waiting"}
        break
    with anyio.fail_after(5):
        await probe.finished.wait()
    assert_stopped(probe)


async def test_aclose_waits_for_the_run_to_stop() -> None:
    probe = Probe()
    stream = slow_graph(probe).astream({"log": []}, stream_mode="custom")
    assert await stream.__anext__() == {"blocker": "waiting"}
    await stream.aclose()
    assert_stopped(probe)  # no waiting needed: aclose returned after the finally ran
    assert stream.outcome == "cancelled"


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested-invoke"])
async def test_leaving_the_context_manager_stops_everything(nested: bool) -> None:
    probe = Probe()
    async with slow_graph(probe, nested=nested).astream(
        {"log": []}, stream_mode="custom", subgraphs=nested
    ) as stream:
        async for _ in stream:
            break
    assert_stopped(probe)
    assert "inner_never" not in probe.started


async def test_cancelled_caller_scope_cancels_the_run() -> None:
    probe = Probe()
    graph = slow_graph(probe, nested=True)
    with anyio.CancelScope() as scope:
        async for chunk in graph.astream({"log": []}, stream_mode="custom", subgraphs=True):
            assert chunk[1] == {"blocker": "waiting"}
            await probe.entered.wait()
            scope.cancel()
    assert scope.cancelled_caught
    assert_stopped(probe)


async def test_cancel_from_an_enclosing_task_group_scope() -> None:
    """Starlette-style: the request's task group is cancelled while a handler streams."""
    probe = Probe()
    graph = slow_graph(probe)
    seen: list[Any] = []

    async def handler() -> None:
        async with graph.astream({"log": []}, stream_mode="custom") as stream:
            async for chunk in stream:
                seen.append(chunk)

    async with anyio.create_task_group() as tg:
        tg.start_soon(handler)
        await probe.entered.wait()
        tg.cancel_scope.cancel()
    assert seen == [{"blocker": "waiting"}]
    assert_stopped(probe)


async def test_closed_from_another_task() -> None:
    probe = Probe()
    stream = slow_graph(probe).astream({"log": []}, stream_mode="custom")
    consumed: list[Any] = []

    async def consume() -> None:
        async for chunk in stream:
            consumed.append(chunk)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await probe.entered.wait()
        await stream.aclose()
    assert consumed == [{"blocker": "waiting"}]
    assert_stopped(probe)


async def test_consumer_error_inside_context_manager_is_raised_as_is() -> None:
    probe = Probe()
    with pytest.raises(KeyError) as info:  # noqa: PT012 - the body is what raises
        async with slow_graph(probe).astream({"log": []}, stream_mode="custom") as stream:
            async for _ in stream:
                raise KeyError("consumer")
    assert type(info.value) is KeyError
    assert_stopped(probe)


def test_closing_the_sync_iterator_cancels_the_run() -> None:
    finalized = threading.Event()
    started: list[str] = []

    def blocker(state: State) -> dict[str, Any]:
        get_stream_writer()("waiting")
        return {"log": ["blocker"]}

    async def waits(state: State) -> dict[str, Any]:
        started.append("waits")
        get_stream_writer()("in waits")
        try:
            await anyio.sleep_forever()
        finally:
            finalized.set()
        return {}  # pragma: no cover

    def never(state: State) -> dict[str, Any]:
        started.append("never")
        return {}

    graph = (
        StateGraph(State)
        .add_node(blocker)
        .add_node(waits)
        .add_node(never)
        .add_edge(START, "blocker")
        .add_edge("blocker", "waits")
        .add_edge("waits", "never")
        .compile()
    )
    stream = graph.stream({"log": []}, stream_mode="custom")
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if chunk == "in waits":
            break
    stream.close()  # type: ignore[attr-defined]
    assert finalized.is_set()
    assert started == ["waits"]
    assert chunks == ["waiting", "in waits"]


async def test_consumer_gone_is_never_a_node_error() -> None:
    """A node writing many chunks after the consumer left sees cancellation only."""
    errors: list[BaseException] = []
    done = anyio.Event()

    async def chatty(state: State) -> dict[str, Any]:
        writer = get_stream_writer()
        try:
            for i in range(10_000):
                writer(i)
                await anyio.lowlevel.checkpoint()
        except Exception as exc:  # pragma: no cover - what the test forbids
            errors.append(exc)
            raise
        finally:
            done.set()
        return {}

    graph = StateGraph(State).add_node(chatty).add_edge(START, "chatty").compile()
    stream = graph.astream({"log": []}, stream_mode="custom", buffer=4)
    async for chunk in stream:
        if chunk == 10:
            break
    await stream.aclose()
    assert done.is_set()
    assert errors == []
