"""Failures: a failing node cancels its siblings and the caller gets the original
exception object (never an ExceptionGroup, never a CancelledError); node timeouts;
routers and subgraphs that fail; a cancelled caller."""

from __future__ import annotations

import operator
import sys
import threading
from typing import Annotated, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import pytest
from typing_extensions import TypedDict

from stepgraph import START, RetryPolicy, StateGraph, StepgraphError
from stepgraph.errors import NodeTimeoutError

if sys.version_info < (3, 11):  # pragma: no cover - depends on the Python version
    from exceptiongroup import BaseExceptionGroup

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    x: int
    log: Annotated[list[Any], operator.add]


class Boom(Exception):
    """A node's own error."""


async def drain(stream: Any, into: list[Any]) -> None:
    async with stream as chunks:
        async for chunk in chunks:
            into.append(chunk)


def _not_a_group_or_cancellation(exc: BaseException) -> None:
    assert not isinstance(exc, BaseExceptionGroup)
    assert not isinstance(exc, anyio.get_cancelled_exc_class())


class Watch:
    """Records what happened to sibling nodes: started, cancelled, finally ran."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.events: list[str] = []

    def sibling(self, name: str) -> Any:
        async def node(state: State) -> dict[str, Any]:
            try:
                self.events.append(f"{name} started")
                self.started.set()
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                self.events.append(f"{name} cancelled")
                raise
            finally:
                self.events.append(f"{name} finally")
            return {"log": [name]}  # pragma: no cover - never reached

        return node


def _failing_graph(error: BaseException, watch: Watch) -> Any:
    async def fails(state: State) -> dict[str, Any]:
        await watch.started.wait()  # the sibling is running when we fail
        raise error

    return (
        StateGraph(State)
        .add_node("fails", fails)
        .add_node("sibling", watch.sibling("sibling"))
        .add_edge(START, "fails")
        .add_edge(START, "sibling")
        .compile()
    )


async def test_failing_node_cancels_async_siblings_and_raises_the_original_error() -> None:
    error = Boom("original")
    watch = Watch()
    with pytest.raises(Boom) as info:
        await _failing_graph(error, watch).ainvoke({})
    assert info.value is error
    _not_a_group_or_cancellation(info.value)
    assert watch.events == ["sibling started", "sibling cancelled", "sibling finally"]


async def test_failing_node_in_astream_raises_the_original_error_after_earlier_chunks() -> None:
    error = Boom("original")
    watch = Watch()
    chunks: list[Any] = []
    with pytest.raises(Boom) as info:
        await drain(_failing_graph(error, watch).astream({"x": 1}, stream_mode="values"), chunks)
    assert info.value is error
    assert chunks == [{"x": 1, "log": []}]
    assert watch.events == ["sibling started", "sibling cancelled", "sibling finally"]


def test_failing_node_in_the_sync_api_raises_the_original_error() -> None:
    error = Boom("original")

    def fails(state: State) -> None:
        raise error

    graph = StateGraph(State).add_node(fails).add_edge(START, "fails").compile()
    with pytest.raises(Boom) as info:
        graph.invoke({})
    assert info.value is error
    chunks: list[Any] = []
    with pytest.raises(Boom) as info:
        chunks.extend(graph.stream({"x": 1}, stream_mode="values"))
    assert info.value is error


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11+")
async def test_the_error_carries_a_note_naming_the_task() -> None:
    async def fails(state: State) -> None:
        raise Boom("x")

    graph = StateGraph(State).add_node(fails).add_edge(START, "fails").compile()
    chunks: list[Any] = []
    with pytest.raises(Boom) as info:
        await drain(graph.astream({}, stream_mode="tasks"), chunks)
    (task_id,) = {c["id"] for c in chunks}
    assert info.value.__notes__ == [f"During task with name 'fails' and id '{task_id}'"]


async def test_failed_task_result_carries_the_exception_object() -> None:
    error = Boom("x")

    def fails(state: State) -> None:
        raise error

    graph = StateGraph(State).add_node(fails).add_edge(START, "fails").compile()
    chunks: list[Any] = []
    with pytest.raises(Boom):
        await drain(graph.astream({}, stream_mode="tasks"), chunks)
    start, result = chunks
    assert start["name"] == result["name"] == "fails"
    assert result["error"] is error
    assert result["result"] == {}


async def test_siblings_that_finished_first_are_streamed_then_the_error() -> None:
    done_first = anyio.Event()

    async def quick(state: State) -> dict[str, Any]:
        return {"log": ["quick"]}

    async def fails(state: State) -> None:
        await done_first.wait()
        raise Boom("late")

    graph = (
        StateGraph(State)
        .add_node(quick)
        .add_node(fails)
        .add_edge(START, "quick")
        .add_edge(START, "fails")
        .compile()
    )
    chunks: list[Any] = []

    async def consume() -> None:
        async with graph.astream({}, stream_mode="updates") as stream:
            async for chunk in stream:
                chunks.append(chunk)
                done_first.set()  # release the failing node only after quick's update

    with pytest.raises(Boom):
        await consume()
    assert chunks == [{"quick": {"log": ["quick"]}}]


async def test_two_nodes_failing_at_once_the_first_recorded_wins() -> None:
    """Both nodes wake from the same event and raise without another checkpoint.

    What happens: the first failure the step records cancels the step and is raised;
    the other error is dropped (it is neither raised nor grouped nor chained). Which one
    is first is the scheduler's wake-up order: asyncio wakes waiters first-in-first-out
    (``a`` in 200 of 200 runs), trio randomises (about half each). So the test accepts
    either, but it is always exactly one of the original objects.
    """
    gate = anyio.Event()
    errors = {"a": Boom("a"), "b": Boom("b")}
    ready: list[str] = []

    def failing(name: str) -> Any:
        async def node(state: State) -> None:
            ready.append(name)
            if len(ready) == 2:
                gate.set()
            await gate.wait()
            raise errors[name]

        return node

    graph = (
        StateGraph(State)
        .add_node("a", failing("a"))
        .add_node("b", failing("b"))
        .add_edge(START, "a")
        .add_edge(START, "b")
        .compile()
    )
    with pytest.raises(Boom) as info:
        await graph.ainvoke({})
    _not_a_group_or_cancellation(info.value)
    assert any(info.value is e for e in errors.values())


async def test_a_sibling_raising_while_being_cancelled_does_not_replace_the_first_error() -> None:
    """The first failure wins even if a cancelled sibling raises its own error."""
    first = Boom("first")
    started = anyio.Event()

    async def fails(state: State) -> None:
        await started.wait()
        raise first

    async def raises_on_cancel(state: State) -> None:
        try:
            started.set()
            await anyio.sleep_forever()
        finally:
            raise Boom("second")

    graph = (
        StateGraph(State)
        .add_node(fails)
        .add_node(raises_on_cancel)
        .add_edge(START, "fails")
        .add_edge(START, "raises_on_cancel")
        .compile()
    )
    with pytest.raises(Boom) as info:
        await graph.ainvoke({})
    assert info.value is first


async def test_sync_sibling_finishes_before_the_error_reaches_the_caller() -> None:
    """A worker thread cannot be interrupted: the first error (the async node's) is
    raised only after the sync sibling returned; the sibling's own later error is
    dropped."""
    release = threading.Event()
    thread_started = anyio.Event()
    events: list[str] = []
    first = Boom("async first")

    async def fails(state: State) -> None:
        await thread_started.wait()  # the worker thread is really running
        release.set()
        raise first

    def sync_sibling(state: State) -> None:
        events.append("thread started")
        anyio.from_thread.run_sync(thread_started.set)
        assert release.wait(timeout=5)
        events.append("thread finished")
        raise Boom("thread second")

    graph = (
        StateGraph(State)
        .add_node(fails)
        .add_node(sync_sibling)
        .add_edge(START, "fails")
        .add_edge(START, "sync_sibling")
        .compile()
    )
    try:
        with pytest.raises(Boom) as info:
            await graph.ainvoke({})
    finally:
        release.set()
    assert info.value is first
    assert events == ["thread started", "thread finished"]


async def test_failing_router_raises_its_original_error() -> None:
    error = Boom("router")

    def route(state: State) -> str:
        raise error

    graph = (
        StateGraph(State)
        .add_node("a", lambda s: {"log": ["a"]})
        .add_node("b", lambda s: {"log": ["b"]})
        .add_edge(START, "a")
        .add_conditional_edges("a", route)
        .compile()
    )
    with pytest.raises(Boom) as info:
        await graph.ainvoke({})
    assert info.value is error


async def test_failing_node_inside_a_subgraph_reaches_the_outer_caller() -> None:
    error = Boom("deep")
    watch = Watch()

    async def deep(state: State) -> None:
        await watch.started.wait()
        raise error

    inner = (
        StateGraph(State)
        .add_node(deep)
        .add_node("inner_sibling", watch.sibling("inner_sibling"))
        .add_edge(START, "deep")
        .add_edge(START, "inner_sibling")
        .compile()
    )
    outer_watch = Watch()
    outer_watch.started = watch.started  # the outer sibling starts at once too

    async def outer_sibling(state: State) -> None:
        try:
            outer_watch.events.append("outer started")
            await anyio.sleep_forever()
        finally:
            outer_watch.events.append("outer finally")

    graph = (
        StateGraph(State)
        .add_node("inner", inner)
        .add_node(outer_sibling)
        .add_edge(START, "inner")
        .add_edge(START, "outer_sibling")
        .compile()
    )
    with pytest.raises(Boom) as info:
        await graph.ainvoke({})
    assert info.value is error
    _not_a_group_or_cancellation(info.value)
    assert watch.events == [
        "inner_sibling started",
        "inner_sibling cancelled",
        "inner_sibling finally",
    ]
    assert outer_watch.events == ["outer started", "outer finally"]


async def test_cancelled_caller_cancels_the_run_and_every_node_cleans_up() -> None:
    watch = Watch()
    graph = (
        StateGraph(State)
        .add_node("one", watch.sibling("one"))
        .add_node("two", watch.sibling("two"))
        .add_edge(START, "one")
        .add_edge(START, "two")
        .compile()
    )
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(graph.ainvoke, {})
            await watch.started.wait()
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
    assert scope.cancelled_caught
    assert sorted(watch.events) == sorted(
        [
            "one started",
            "one cancelled",
            "one finally",
            "two started",
            "two cancelled",
            "two finally",
        ]
    )


# -- node timeouts ---------------------------------------------------------------------------

TIMEOUT_MESSAGE = (
    "Node 'slow' did not finish within its timeout of 0.05 seconds. Raise the limit with "
    "add_node('slow', ..., timeout=<seconds>) or make the node faster."
)


async def test_async_node_timeout() -> None:
    events: list[str] = []

    async def slow(state: State) -> None:
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            events.append("cancelled")
            raise
        finally:
            events.append("finally")

    graph = StateGraph(State).add_node("slow", slow, timeout=0.05).add_edge(START, "slow").compile()
    with pytest.raises(NodeTimeoutError) as info:
        await graph.ainvoke({})
    assert str(info.value) == TIMEOUT_MESSAGE
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, StepgraphError)
    assert (info.value.node, info.value.timeout) == ("slow", 0.05)
    assert events == ["cancelled", "finally"]


async def _time_out_a_blocked_sync_node() -> bool:
    """One run whose sync node blocks past its 50 ms limit; whether the node started."""
    started = threading.Event()
    never = threading.Event()
    thread_done = threading.Event()

    def slow(state: State) -> None:
        started.set()
        try:
            never.wait()
        finally:
            thread_done.set()

    graph = StateGraph(State).add_node("slow", slow, timeout=0.05).add_edge(START, "slow").compile()
    try:
        with pytest.raises(NodeTimeoutError) as info:
            await graph.ainvoke({})
        assert str(info.value) == TIMEOUT_MESSAGE
        assert isinstance(info.value, TimeoutError)
        assert isinstance(info.value, StepgraphError)
        assert not thread_done.is_set()  # still waiting in its thread: abandoned
    finally:
        never.set()  # release the abandoned worker thread
    if not started.is_set():
        return False
    assert thread_done.wait(timeout=5)
    return True


async def test_sync_node_timeout_abandons_the_thread() -> None:
    # On a loaded machine the limit may pass before a worker thread picks the call up
    # (anyio then drops it unstarted); only a run whose node started shows abandonment.
    for _ in range(20):
        if await _time_out_a_blocked_sync_node():
            return
    pytest.fail("the node never started within its 50 ms limit in 20 tries")


async def test_node_timeout_cancels_async_siblings() -> None:
    watch = Watch()

    async def slow(state: State) -> None:
        await watch.started.wait()
        await anyio.sleep_forever()

    graph = (
        StateGraph(State)
        .add_node("slow", slow, timeout=0.05)
        .add_node("sibling", watch.sibling("sibling"))
        .add_edge(START, "slow")
        .add_edge(START, "sibling")
        .compile()
    )
    with pytest.raises(NodeTimeoutError) as info:
        await graph.ainvoke({})
    assert str(info.value) == TIMEOUT_MESSAGE
    assert watch.events == ["sibling started", "sibling cancelled", "sibling finally"]


async def test_node_finishing_in_time_is_unaffected_by_its_timeout() -> None:
    async def fast(state: State) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        return {"x": 1}

    def fast_sync(state: State) -> dict[str, Any]:
        return {"log": ["sync"]}

    graph = (
        StateGraph(State)
        .add_node("fast", fast, timeout=5)
        .add_node("fast_sync", fast_sync, timeout=5)
        .add_edge(START, "fast")
        .add_edge("fast", "fast_sync")
        .compile()
    )
    assert await graph.ainvoke({}) == {"x": 1, "log": ["sync"]}


async def test_timeout_applies_per_attempt_and_can_be_retried() -> None:
    attempts = 0

    async def slow(state: State) -> dict[str, Any]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            await anyio.sleep_forever()
        return {"x": attempts}

    graph = (
        StateGraph(State)
        .add_node(
            "slow",
            slow,
            timeout=0.05,
            retry_policy=RetryPolicy(retry_on=TimeoutError, initial_interval=0, jitter=False),
        )
        .add_edge(START, "slow")
        .compile()
    )
    assert await graph.ainvoke({}) == {"x": 2, "log": []}


async def test_node_timeout_is_not_retried_by_default() -> None:
    attempts = 0

    async def slow(state: State) -> None:
        nonlocal attempts
        attempts += 1
        await anyio.sleep_forever()

    graph = (
        StateGraph(State)
        .add_node("slow", slow, timeout=0.05, retry_policy=RetryPolicy(initial_interval=0))
        .add_edge(START, "slow")
        .compile()
    )
    with pytest.raises(NodeTimeoutError):
        await graph.ainvoke({})
    assert attempts == 1  # a TimeoutError is an OSError: LangGraph's default does not retry
