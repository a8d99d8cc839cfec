"""Concurrent runs on every saver: one run per thread at a time (a second one fails fast
with ThreadBusyError and the first is unharmed), and many threads at once on one saver."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from stepgraph.checkpoint import ThreadBusyError
from stepgraph.checkpoint.base import BaseCheckpointSaver
from stepgraph.graph import END, START, StateGraph
from stepgraph.types import Command

from .graphs import Calls, State, appender, asker, fan_out, history, thread, triples

pytestmark = pytest.mark.anyio

BUSY = (
    "Thread 't' is busy: another run is using it right now. "
    "Wait for that run to finish, or start this run with another thread_id."
)


def held_graph(saver: Any, calls: Calls, entered: Any, release: Any, wait: Any) -> Any:
    """START → hold → b → END; ``hold`` signals ``entered`` then waits for ``release``."""

    async def hold_async(state: State) -> dict[str, Any]:
        calls.hit("hold")
        entered()
        await wait(release)
        return {"log": ["hold"]}

    builder = StateGraph(State)
    builder.add_node("hold", hold_async)
    builder.add_node("b", appender("b", calls))
    builder.add_edge(START, "hold")
    builder.add_edge("hold", "b")
    builder.add_edge("b", END)
    return builder.compile(checkpointer=saver)


async def drain(stream: Any) -> None:
    async with stream as chunks:
        async for _ in chunks:
            pass


async def all_checkpoints(saver: BaseCheckpointSaver) -> list[Any]:
    return [t async for t in saver.alist(None)]


@pytest.mark.parametrize("second", ["same-saver", "other-saver"])
async def test_second_run_on_a_busy_thread_fails_fast(
    make_saver: Any, saver_kind: str, second: str
) -> None:
    if second == "other-saver" and saver_kind == "memory":
        pytest.skip("an InMemorySaver's threads exist only in that saver object")
    saver = make_saver()
    calls = Calls()
    entered, release = anyio.Event(), anyio.Event()

    async def wait(event: anyio.Event) -> None:
        await event.wait()

    graph = held_graph(saver, calls, entered.set, release, wait)
    other = (
        graph
        if second == "same-saver"
        else held_graph(make_saver(), calls, entered.set, release, wait)
    )
    cfg = thread("t")
    results: list[Any] = []

    async def first() -> None:
        # "sync": the step-0 checkpoint is stored before 'hold' starts, so `during` is final
        results.append(await graph.ainvoke({"log": ["first"]}, cfg, durability="sync"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await entered.wait()
        during = await history(graph, cfg)

        with pytest.raises(ThreadBusyError) as info:
            await other.ainvoke({"log": ["second"]}, cfg)
        assert str(info.value) == BUSY
        assert (info.value.thread_id, info.value.checkpoint_ns) == ("t", "")
        with pytest.raises(ThreadBusyError, match=r"^Thread 't' is busy"):
            await other.ainvoke(None, cfg)
        with pytest.raises(ThreadBusyError, match=r"^Thread 't' is busy"):
            await drain(other.astream({"log": []}, cfg))
        # the failed attempts saved nothing; reading a busy thread is fine
        assert await history(other, cfg) == during
        # another thread is not busy
        release_other = anyio.Event()
        release_other.set()
        free = held_graph(saver, Calls(), lambda: None, release_other, wait)
        assert await free.ainvoke({"log": ["x"]}, thread("free")) == {"log": ["x", "hold", "b"]}

        release.set()

    assert results == [{"log": ["first", "hold", "b"]}]
    assert calls.as_dict() == {"hold": 1, "b": 1}
    assert triples(await history(graph, cfg)) == [
        ("loop", 2, ()),
        ("loop", 1, ("b",)),
        ("loop", 0, ("hold",)),
        ("input", -1, ("__start__",)),
    ]
    # the lease is released: the thread takes new runs again
    assert (await other.ainvoke({"log": ["again"]}, cfg))["log"][-3:] == ["again", "hold", "b"]


async def test_resume_on_a_busy_thread_fails_fast(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    entered, release = anyio.Event(), anyio.Event()
    state = {"ask": True}

    async def node(s: State) -> dict[str, Any]:
        calls.hit("node")
        if state["ask"]:
            from stepgraph.types import interrupt

            return {"log": [f"node:{interrupt('q')}"]}
        entered.set()
        await release.wait()
        return {"log": ["node"]}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    graph = builder.compile(checkpointer=saver)
    await graph.ainvoke({"log": []}, thread("t"))
    state["ask"] = False
    async with anyio.create_task_group() as tg:
        tg.start_soon(graph.ainvoke, {"log": ["new"]}, thread("t"))
        await entered.wait()
        with pytest.raises(ThreadBusyError) as info:
            await graph.ainvoke(Command(resume="late"), thread("t"))
        assert str(info.value) == BUSY
        release.set()
    assert (await graph.aget_state(thread("t"))).values == {"log": ["new", "node"]}


def test_sync_second_run_on_a_busy_thread(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    entered, release = threading.Event(), threading.Event()

    def hold(state: State) -> dict[str, Any]:
        calls.hit("hold")
        entered.set()
        assert release.wait(60)
        return {"log": ["hold"]}

    builder = StateGraph(State)
    builder.add_node("hold", hold)
    builder.add_edge(START, "hold")
    graph = builder.compile(checkpointer=saver)
    cfg = thread("t")
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(graph.invoke({"log": []}, cfg)))
    worker.start()
    try:
        assert entered.wait(60)
        with pytest.raises(ThreadBusyError) as info:
            graph.invoke({"log": ["second"]}, cfg)
        assert str(info.value) == BUSY
    finally:
        release.set()
        worker.join(60)
    assert results == [{"log": ["hold"]}]
    assert calls.as_dict() == {"hold": 1}


@pytest.mark.timeout(240)
async def test_200_threads_in_parallel_on_one_saver(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = fan_out(
        saver,
        calls,
        {"p1": asker("p1", calls), "p2": appender("p2", calls), "p3": appender("p3", calls)},
    )
    count = 200
    first: dict[int, Any] = {}
    done: dict[int, Any] = {}

    async def one(i: int) -> None:
        cfg = thread(f"many-{i}")
        first[i] = await graph.ainvoke({"log": [f"in-{i}"]}, cfg)
        done[i] = await graph.ainvoke(Command(resume=i), cfg)

    async with anyio.create_task_group() as tg:
        for i in range(count):
            tg.start_soon(one, i)

    for i in range(count):
        assert first[i]["log"] == [f"in-{i}", "a", "p2", "p3"]
        assert [q.value for q in first[i]["__interrupt__"]] == ["p1?"]
        assert done[i] == {"log": [f"in-{i}", "a", f"p1:{i}", "p2", "p3", "z"]}
    assert calls.as_dict() == {"a": count, "p1": 2 * count, "p2": count, "p3": count, "z": count}
    for i in (0, count // 2, count - 1):
        assert triples(await history(graph, thread(f"many-{i}"))) == [
            ("loop", 3, ()),
            ("loop", 2, ("z",)),
            ("loop", 1, ("p1", "p2", "p3")),
            ("loop", 0, ("a",)),
            ("input", -1, ("__start__",)),
        ]
    threads = {t.config["configurable"]["thread_id"] for t in await all_checkpoints(saver)}
    assert threads == {f"many-{i}" for i in range(count)}
    assert len(await all_checkpoints(saver)) == 5 * count
