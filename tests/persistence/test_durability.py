"""Durability modes and cancellation mid-step, on every saver.

``sync``, ``async`` and ``exit`` must give the same results; ``exit`` stores only the
last checkpoint of each run. A run cancelled while one task is still running records
that task as cancelled next to its finished siblings' writes, and resuming runs only
the cancelled task.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from stepgraph.checkpoint.base import BaseCheckpointSaver
from stepgraph.graph import END, START, StateGraph
from stepgraph.types import Command

from .graphs import Calls, State, appender, asker, chain, fan_out, history, thread, triples

pytestmark = pytest.mark.anyio

DURABILITIES = ["sync", "async", "exit"]


async def collect(graph: Any, input: Any, config: Any, **kwargs: Any) -> list[Any]:
    return [chunk async for chunk in graph.astream(input, config, **kwargs)]


def hitl_graph(saver: Any, calls: Calls) -> Any:
    return fan_out(
        saver,
        calls,
        {"p1": asker("p1", calls), "p2": appender("p2", calls), "p3": appender("p3", calls)},
    )


@pytest.mark.parametrize("durability", DURABILITIES)
async def test_durability_modes_give_the_same_results(
    saver: BaseCheckpointSaver, durability: str
) -> None:
    calls = Calls()
    graph = hitl_graph(saver, calls)
    cfg = thread(f"t-{durability}")

    chunks = await collect(graph, {"log": []}, cfg, stream_mode="values", durability=durability)
    question = chunks[2]["__interrupt__"][0]
    assert question.value == "p1?"
    assert chunks == [
        {"log": []},
        {"log": ["a"]},
        {"log": ["a"], "__interrupt__": (question,)},
        {"log": ["a", "p2", "p3"]},
    ]
    state = await graph.aget_state(cfg)
    assert state.values == {"log": ["a", "p2", "p3"]}
    assert state.interrupts == (question,)
    assert [(t.name, t.result) for t in state.tasks] == [
        ("p1", None),
        ("p2", {"log": ["p2"]}),
        ("p3", {"log": ["p3"]}),
    ]

    done = await graph.ainvoke(Command(resume="ok"), cfg, durability=durability)
    assert done == {"log": ["a", "p1:ok", "p2", "p3", "z"]}
    assert calls.as_dict() == {"a": 1, "p1": 2, "p2": 1, "p3": 1, "z": 1}

    again = await graph.ainvoke({"log": ["more"]}, cfg, durability=durability)
    assert again["log"] == ["a", "p1:ok", "p2", "p3", "z", "more", "a", "p2", "p3"]

    steps = triples(await history(graph, cfg))
    if durability == "exit":
        # one checkpoint per run: where each run ended
        assert steps == [
            ("loop", 6, ("p1", "p2", "p3")),
            ("loop", 3, ()),
            ("loop", 1, ("p1", "p2", "p3")),
        ]
    else:
        assert steps == [
            ("loop", 6, ("p1", "p2", "p3")),
            ("loop", 5, ("a",)),
            ("input", 4, ("__start__",)),
            ("loop", 3, ()),
            ("loop", 2, ("z",)),
            ("loop", 1, ("p1", "p2", "p3")),
            ("loop", 0, ("a",)),
            ("input", -1, ("__start__",)),
        ]


@pytest.mark.parametrize("durability", DURABILITIES)
async def test_history_of_a_plain_run_per_durability(
    saver: BaseCheckpointSaver, durability: str
) -> None:
    graph = chain(saver, "a", "b", "c")
    cfg = thread("t")
    assert await graph.ainvoke({"log": ["1"]}, cfg, durability=durability) == {
        "log": ["1", "a", "b", "c"]
    }
    assert await graph.ainvoke({"log": ["2"]}, cfg, durability=durability) == {
        "log": ["1", "a", "b", "c", "2", "a", "b", "c"]
    }
    snaps = await history(graph, cfg)
    if durability == "exit":
        assert triples(snaps) == [("loop", 8, ()), ("loop", 3, ())]
        assert snaps[0].parent_config == snaps[1].config
        assert snaps[1].parent_config is None
        assert snaps[1].values == {"log": ["1", "a", "b", "c"]}
    else:
        assert len(snaps) == 10
        assert [s.parent_config for s in snaps] == [s.config for s in snaps[1:]] + [None]
    assert (await graph.aget_state(cfg)).values == {"log": ["1", "a", "b", "c", "2", "a", "b", "c"]}


async def test_exit_durability_saves_a_failed_run_where_it_stopped(
    saver: BaseCheckpointSaver,
) -> None:
    calls = Calls()
    fail = {"on": True}

    async def boom(state: State) -> dict[str, Any]:
        calls.hit("boom")
        if fail["on"]:
            raise KeyError("boom")
        return {"log": ["boom"]}

    builder = StateGraph(State)
    builder.add_node("a", appender("a", calls))
    builder.add_node("boom", boom)
    builder.add_edge(START, "a")
    builder.add_edge("a", "boom")
    builder.add_edge("boom", END)
    graph = builder.compile(checkpointer=saver)
    cfg = thread("t")

    with pytest.raises(KeyError, match="boom"):
        await graph.ainvoke({"log": []}, cfg, durability="exit")
    state = await graph.aget_state(cfg)
    assert triples(await history(graph, cfg)) == [("loop", 1, ("boom",))]
    assert state.values == {"log": ["a"]}
    (task,) = state.tasks
    assert task.name == "boom"
    assert task.error is not None
    assert "boom" in str(task.error)

    fail["on"] = False
    assert await graph.ainvoke(None, cfg, durability="exit") == {"log": ["a", "boom"]}
    assert calls.as_dict() == {"a": 1, "boom": 2}


# --- cancellation mid-step -----------------------------------------------------------------


def cancellable_graph(saver: Any, calls: Calls, gate: dict[str, Any]) -> Any:
    """START → fast, slow (one step) → join. ``slow`` blocks on an anyio Event while
    ``gate["block"]`` is set, after signalling ``gate["started"]``."""

    async def fast(state: State) -> dict[str, Any]:
        calls.hit("fast")
        return {"log": ["fast"]}

    async def slow(state: State) -> dict[str, Any]:
        calls.hit("slow")
        if gate["block"]:
            gate["started"]()
            await anyio.Event().wait()  # only cancellation ends this
        return {"log": ["slow"]}

    builder = StateGraph(State)
    builder.add_node("fast", fast)
    builder.add_node("slow", slow)
    builder.add_node("join", appender("join", calls))
    builder.add_edge(START, "fast")
    builder.add_edge(START, "slow")
    builder.add_edge(["fast", "slow"], "join")
    builder.add_edge("join", END)
    return builder.compile(checkpointer=saver)


async def check_cancelled_state(graph: Any, cfg: dict[str, Any]) -> None:
    state = await graph.aget_state(cfg)
    assert state.values == {"log": ["fast"]}  # the finished sibling's writes are kept
    assert state.metadata is not None
    assert state.metadata["step"] == 0
    by_name = {t.name: t for t in state.tasks}
    assert sorted(by_name) == ["fast", "slow"]
    assert by_name["fast"].error is None
    assert by_name["fast"].result == {"log": ["fast"]}
    assert by_name["slow"].result is None
    assert str(by_name["slow"].error).startswith("Cancelled")
    assert state.interrupts == ()


@pytest.mark.parametrize("durability", DURABILITIES)
async def test_cancelled_run_records_the_unfinished_task_and_resumes_it(
    saver: BaseCheckpointSaver, durability: str
) -> None:
    calls = Calls()
    started = anyio.Event()
    gate = {"block": True, "started": started.set}
    graph = cancellable_graph(saver, calls, gate)
    cfg = thread("t")

    seen = []
    with anyio.CancelScope() as scope:
        async with graph.astream(
            {"log": []}, cfg, stream_mode="updates", durability=durability
        ) as stream:
            async for chunk in stream:
                seen.append(chunk)
                if "fast" in chunk:  # streamed only once fast's writes are saved
                    await started.wait()
                    scope.cancel()
    assert scope.cancelled_caught
    assert seen == [{"fast": {"log": ["fast"]}}]
    assert calls.as_dict() == {"fast": 1, "slow": 1}
    await check_cancelled_state(graph, cfg)

    gate["block"] = False
    assert await graph.ainvoke(None, cfg, durability=durability) == {
        "log": ["fast", "slow", "join"]
    }
    assert calls.as_dict() == {"fast": 1, "slow": 2, "join": 1}
    final = await graph.aget_state(cfg)
    assert (final.next, final.tasks) == ((), ())
    steps = triples(await history(graph, cfg))
    assert steps[0] == ("loop", 2, ())
    if durability != "exit":
        assert steps == [
            ("loop", 2, ()),
            ("loop", 1, ("join",)),
            ("loop", 0, ("fast", "slow")),
            ("input", -1, ("__start__",)),
        ]


class WritesWatcher:
    """Delegates to ``saver``; sets ``saved[task_name]`` once that task's pending writes
    are stored, so a test can act right after a task's result is durable."""

    def __init__(self, saver: BaseCheckpointSaver, names: tuple[str, ...]) -> None:
        self._saver = saver
        self.saved = {name: anyio.Event() for name in names}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._saver, name)

    async def aput_writes(
        self, config: Any, writes: Any, task_id: str, task_path: str = ""
    ) -> None:
        await self._saver.aput_writes(config, writes, task_id, task_path)
        for channel, value in writes:
            if channel == "log" and value and value[0] in self.saved:
                self.saved[value[0]].set()


async def test_cancelled_ainvoke_in_a_task_group(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    started = anyio.Event()
    gate = {"block": True, "started": started.set}
    watcher = WritesWatcher(saver, ("fast",))
    graph = cancellable_graph(watcher, calls, gate)
    cfg = thread("t")

    async with anyio.create_task_group() as tg:
        tg.start_soon(graph.ainvoke, {"log": []}, cfg)
        await started.wait()
        await watcher.saved["fast"].wait()
        tg.cancel_scope.cancel()
    await check_cancelled_state(graph, cfg)

    gate["block"] = False
    assert await graph.ainvoke(None, cfg) == {"log": ["fast", "slow", "join"]}
    assert calls.as_dict() == {"fast": 1, "slow": 2, "join": 1}


def test_sync_stream_closed_mid_step_then_resumed(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    started = threading.Event()
    gate = {"block": True, "started": started.set}
    graph = cancellable_graph(saver, calls, gate)
    cfg = thread("sync")

    stream = graph.stream({"log": []}, cfg, stream_mode="updates")
    for chunk in stream:
        assert chunk == {"fast": {"log": ["fast"]}}
        assert started.wait(30)
        break
    stream.close()  # type: ignore[attr-defined]

    state = graph.get_state(cfg)
    by_name = {t.name: t for t in state.tasks}
    assert state.values == {"log": ["fast"]}
    assert str(by_name["slow"].error).startswith("Cancelled")
    assert by_name["fast"].result == {"log": ["fast"]}

    gate["block"] = False
    assert graph.invoke(None, cfg) == {"log": ["fast", "slow", "join"]}
    assert calls.as_dict() == {"fast": 1, "slow": 2, "join": 1}


# --- durability "async": each checkpoint is saved while the next step runs ---------------


class HeldPut:
    """Delegates to ``saver``; its ``aput`` of the checkpoint for ``step`` (source 'loop')
    signals ``entered`` and then waits for ``release`` (or raises ``fail``); ``active``
    counts saver calls in progress."""

    def __init__(self, saver: BaseCheckpointSaver, step: int, fail: Exception | None = None):
        self._saver = saver
        self._step = step
        self._fail = fail
        self.entered, self.release, self.finished = anyio.Event(), anyio.Event(), anyio.Event()
        self.active = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._saver, name)

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, *args: Any) -> Any:
        self.active += 1
        try:
            if metadata["source"] == "loop" and metadata["step"] == self._step:
                self.entered.set()
                await self.release.wait()
                if self._fail is not None:
                    raise self._fail
            result = await self._saver.aput(config, checkpoint, metadata, *args)
            if metadata["step"] == self._step:
                self.finished.set()
            return result
        finally:
            self.active -= 1

    async def aput_writes(self, *args: Any) -> None:
        self.active += 1
        try:
            await self._saver.aput_writes(*args)
        finally:
            self.active -= 1


def gated_chain(saver: Any, calls: Calls, b_started: anyio.Event, b_gate: anyio.Event) -> Any:
    """START → a → b → c → END; ``b`` signals ``b_started``, then waits for ``b_gate``."""

    async def b(state: State) -> dict[str, Any]:
        calls.hit("b")
        b_started.set()
        await b_gate.wait()
        return {"log": ["b"]}

    builder = StateGraph(State)
    builder.add_node("a", appender("a", calls))
    builder.add_node("b", b)
    builder.add_node("c", appender("c", calls))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder.compile(checkpointer=saver)


@pytest.mark.parametrize("durability", ["async", None])
async def test_async_saves_a_step_while_the_next_one_runs(
    saver: BaseCheckpointSaver, durability: str | None
) -> None:
    """The checkpoint after 'a' (step 1) is still being saved when 'b' starts; the run
    returns only once every save is done, and leaves what a "sync" run leaves."""
    held = HeldPut(saver, step=1)
    b_started, b_gate = anyio.Event(), anyio.Event()
    graph = gated_chain(held, Calls(), b_started, b_gate)
    results: list[Any] = []

    async def run() -> None:
        results.append(await graph.ainvoke({"log": []}, thread("async"), durability=durability))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await held.entered.wait()
        await b_started.wait()  # a "sync" run would wait for the save and never get here
        assert not held.finished.is_set()
        b_gate.set()
        held.release.set()
    assert results == [{"log": ["a", "b", "c"]}]
    assert held.active == 0

    b_gate_sync = anyio.Event()
    b_gate_sync.set()
    reference = gated_chain(saver, Calls(), anyio.Event(), b_gate_sync)
    await reference.ainvoke({"log": []}, thread("sync"), durability="sync")
    assert [plain(s) for s in await history(graph, thread("async"))] == [
        plain(s) for s in await history(reference, thread("sync"))
    ]


def plain(snapshot: Any) -> tuple[Any, ...]:
    """A snapshot without ids and timestamps."""
    return (
        snapshot.values,
        snapshot.next,
        snapshot.metadata,
        [(t.name, t.error, t.interrupts, t.result) for t in snapshot.tasks],
    )


async def test_cancelled_async_run_finishes_its_save_and_leaves_no_task(
    saver: BaseCheckpointSaver,
) -> None:
    """Cancelled while step 1's checkpoint is being saved and 'b' runs: the save still
    completes before the cancelled call returns, nothing of the run outlives it, and
    the thread resumes at 'b'."""
    held = HeldPut(saver, step=1)
    b_started, b_gate = anyio.Event(), anyio.Event()
    calls = Calls()
    graph = gated_chain(held, calls, b_started, b_gate)
    cfg = thread("t")

    async with anyio.create_task_group() as tg:
        scope = anyio.CancelScope()

        async def run() -> None:
            with scope:
                await graph.ainvoke({"log": []}, cfg, durability="async")

        tg.start_soon(run)
        await held.entered.wait()
        await b_started.wait()
        scope.cancel()
        held.release.set()  # the shielded save is what the cancelled run waits for
    assert scope.cancelled_caught
    assert held.finished.is_set()
    assert held.active == 0

    state = await graph.aget_state(cfg)
    assert (state.values, state.next, state.metadata["step"]) == ({"log": ["a"]}, ("b",), 1)  # type: ignore[index]
    assert str(state.tasks[0].error).startswith("Cancelled")
    b_gate.set()
    assert await graph.ainvoke(None, cfg) == {"log": ["a", "b", "c"]}
    assert calls.as_dict() == {"a": 1, "b": 2, "c": 1}


async def test_a_failed_background_save_fails_the_run(saver: BaseCheckpointSaver) -> None:
    """The saver's error itself (not an exception group) ends the run, at the next step's
    end at the latest; nothing after the failed checkpoint is stored."""
    held = HeldPut(saver, step=1, fail=OSError("disk full"))
    held.release.set()
    b_gate = anyio.Event()
    b_gate.set()
    graph = gated_chain(held, Calls(), anyio.Event(), b_gate)
    cfg = thread("t")
    with pytest.raises(OSError, match=r"^disk full$"):
        await graph.ainvoke({"log": []}, cfg, durability="async")
    assert held.active == 0
    assert triples(await history(graph, cfg)) == [
        ("loop", 0, ("a",)),
        ("input", -1, ("__start__",)),
    ]
