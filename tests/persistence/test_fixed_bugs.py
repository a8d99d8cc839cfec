"""Regression tests for engine bugs the persistence suite found (B1-B7, B10, B13: fixed).

Every test states the expected behaviour (LangGraph 1.2.22's, unless noted).
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from stepgraph.checkpoint.base import BaseCheckpointSaver
from stepgraph.graph import END, START, StateGraph
from stepgraph.types import Command

from .differential import (
    SCENARIOS,
    langgraph_api,
    langgraph_saver,
    normalize,
    stepgraph_api,
)
from .graphs import Calls, State, appender, asker, chain, fan_out, history, thread, triples
from .test_durability import WritesWatcher, cancellable_graph

pytestmark = pytest.mark.anyio


def three_way(saver: Any, calls: Calls) -> Any:
    """a → p1 (asks twice), p2 (asks once), p3 → z."""
    return fan_out(
        saver,
        calls,
        {
            "p1": asker("p1", calls, questions=2),
            "p2": asker("p2", calls),
            "p3": appender("p3", calls),
        },
    )


# --- B1: a resumed task that finished still reads as interrupted ---------------------------


async def test_b1_resumed_task_that_finished_is_no_longer_interrupted(
    saver: BaseCheckpointSaver,
) -> None:
    """Expected: after resuming p1 and p2 by id, p2 finishes; get_state shows only p1's
    follow-up question and p2's result; one interrupt remains, so a plain value resumes
    it; p2 ran twice in all. Actual: p2 keeps its old ``__interrupt__`` write, so it still
    shows interrupt 'p2?' (result None, its writes missing from values), the plain resume
    raises "multiple pending interrupts", and p2 runs a third time on the next resume."""
    calls = Calls()
    graph = three_way(saver, calls)
    cfg = thread("t")
    first = await graph.ainvoke({"log": []}, cfg)
    ids = {i.value: i.id for i in first["__interrupt__"]}
    partial = await graph.ainvoke(Command(resume={ids["p1?"]: "A", ids["p2?"]: "B"}), cfg)
    (followup,) = partial["__interrupt__"]

    state = await graph.aget_state(cfg)
    assert state.interrupts == (followup,)
    assert [(t.name, t.interrupts, t.result) for t in state.tasks] == [
        ("p1", (followup,), None),
        ("p2", (), {"log": ["p2:B"]}),
        ("p3", (), {"log": ["p3"]}),
    ]
    assert state.values == {"log": ["a", "p2:B", "p3"]}

    done = await graph.ainvoke(Command(resume="C"), cfg)
    assert done == {"log": ["a", "p1:A:C", "p2:B", "p3", "z"]}
    assert calls.as_dict() == {"a": 1, "p1": 3, "p2": 2, "p3": 1, "z": 1}


async def test_b1_history_shows_the_result_of_a_task_resumed_to_completion(
    saver: BaseCheckpointSaver,
) -> None:
    """Expected: in history, the checkpoint of the step where ``ask`` was interrupted shows
    ask's final result (the step's record), as LangGraph does. Actual: result None."""
    builder = StateGraph(State)
    calls = Calls()
    builder.add_node("ask", asker("ask", calls))
    builder.add_edge(START, "ask")
    graph = builder.compile(checkpointer=saver)
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    await graph.ainvoke(Command(resume="yes"), cfg)
    step0 = (await history(graph, cfg))[1]
    assert triples([step0]) == [("loop", 0, ("ask",))]
    (task,) = step0.tasks
    assert task.result == {"log": ["ask:yes"]}


# --- B2: get_state's next lists tasks that already finished -------------------------------


async def test_b2_next_leaves_out_finished_siblings(saver: BaseCheckpointSaver) -> None:
    """Expected (LangGraph's live snapshot): next == ('p1', 'p2') while p3 finished.
    Actual: ('p1', 'p2', 'p3')."""
    graph = three_way(saver, Calls())
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    state = await graph.aget_state(cfg)
    assert state.next == ("p1", "p2")
    # a snapshot of a past checkpoint is a record of the step: every task is listed
    past = await graph.aget_state(
        {"configurable": {**cfg["configurable"], **state.config["configurable"]}}
    )
    assert past.next == ("p1", "p2", "p3")


async def test_b2_next_after_a_cancelled_step(saver: BaseCheckpointSaver) -> None:
    """Expected: after cancelling while ``slow`` runs and ``fast`` finished, next ==
    ('slow',). Actual: ('fast', 'slow')."""
    calls = Calls()
    started = anyio.Event()
    gate = {"block": True, "started": started.set}
    graph = cancellable_graph(saver, calls, gate)
    cfg = thread("t")
    with anyio.CancelScope() as scope:
        async with graph.astream({"log": []}, cfg, stream_mode="updates") as stream:
            async for chunk in stream:
                if "fast" in chunk:
                    await started.wait()
                    scope.cancel()
    assert (await graph.aget_state(cfg)).next == ("slow",)


async def test_b2_live_state_mid_step_shows_finished_siblings(
    saver: BaseCheckpointSaver,
) -> None:
    """Expected: while ``slow`` still runs, get_state shows ``fast``'s saved writes in
    values and next == ('slow',). Actual: values {'log': []}, next ('fast', 'slow')."""
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
        state = await graph.aget_state(cfg)
        tg.cancel_scope.cancel()
    assert state.values == {"log": ["fast"]}
    assert state.next == ("slow",)


# --- B3: replaying from a past checkpoint reuses the old run's writes ---------------------


async def test_b3_replay_reexecutes_the_steps_after_the_checkpoint(
    saver: BaseCheckpointSaver,
) -> None:
    """Expected: invoke(None, past) re-executes every node after ``past`` (b and c) and
    streams fresh updates. Actual: b is not run; its update comes from the writes the
    original run saved against that checkpoint, marked ``'cached': True``."""
    calls = Calls()
    graph = chain(saver, "a", "b", "c", calls=calls)
    cfg = thread("t")
    await graph.ainvoke({"log": ["in"]}, cfg)
    past = (await history(graph, cfg))[2]
    calls.counts.clear()
    past_cfg = {"configurable": {**cfg["configurable"], **past.config["configurable"]}}
    chunks = [c async for c in graph.astream(None, past_cfg, stream_mode="updates")]
    assert chunks == [{"b": {"log": ["b"]}}, {"c": {"log": ["c"]}}]
    assert calls.as_dict() == {"b": 1, "c": 1}


# --- B4: update_state(as_node=...) keeps the other pending tasks --------------------------


async def test_b4_update_as_node_supersedes_pending_tasks(saver: BaseCheckpointSaver) -> None:
    """Expected: an update as ``b`` on the step-0 checkpoint (next ('a',)) is a superstep
    of its own: next == ('c',). Actual: ('a', 'c')."""
    graph = chain(saver, "a", "b", "c")
    cfg = thread("t")
    await graph.ainvoke({"log": ["in"]}, cfg)
    step0 = (await history(graph, cfg))[-2]
    assert triples([step0]) == [("loop", 0, ("a",))]
    new = await graph.aupdate_state(
        {"configurable": {**cfg["configurable"], **step0.config["configurable"]}},
        {"log": ["f"]},
        as_node="b",
    )
    assert (await graph.aget_state(new)).next == ("c",)


async def test_b4_update_as_one_interrupted_node_ends_the_step(
    saver: BaseCheckpointSaver,
) -> None:
    """Expected: with p1 and p2 interrupted, update_state(as_node='p1') ends the step:
    next == ('z',), interrupts == (), and invoke(None) finishes with z. Actual: next ==
    ('p2', 'z'); invoke(None) runs p2 (which interrupts again) and z in one step."""
    calls = Calls()
    graph = fan_out(saver, calls, {"p1": asker("p1", calls), "p2": asker("p2", calls)})
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    await graph.aupdate_state(cfg, {"log": ["u1"]}, as_node="p1")
    state = await graph.aget_state(cfg)
    assert (state.next, state.interrupts) == (("z",), ())
    assert await graph.ainvoke(None, cfg) == {"log": ["a", "u1", "z"]}


# --- B5: durability='exit' saves nothing at a static breakpoint ---------------------------


@pytest.mark.parametrize("where", ["before", "after"])
async def test_b5_exit_durability_saves_the_breakpoint(
    saver: BaseCheckpointSaver, where: str
) -> None:
    """Expected: the run that stops at the breakpoint stores its last checkpoint, so the
    thread can continue. Actual: nothing is stored (history []), and invoke(None) raises
    EmptyInputError."""
    kw = {"interrupt_before": ["b"]} if where == "before" else {"interrupt_after": ["a"]}
    graph = chain(saver, "a", "b", "c", **kw)
    cfg = thread("t")
    assert await graph.ainvoke({"log": []}, cfg, durability="exit") == {"log": ["a"]}
    assert triples(await history(graph, cfg)) == [("loop", 1, ("b",))]
    assert await graph.ainvoke(None, cfg, durability="exit") == {"log": ["a", "b", "c"]}
    assert triples(await history(graph, cfg)) == [("loop", 3, ()), ("loop", 1, ("b",))]


# --- B6: a thread whose head is its input checkpoint cannot be resumed --------------------


class CrashOnSecondPut:
    """Delegates to ``saver`` but fails the second ``aput`` (a crash right after the
    input checkpoint was stored)."""

    def __init__(self, saver: BaseCheckpointSaver) -> None:
        self._saver = saver
        self.puts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._saver, name)

    async def aput(self, *args: Any, **kwargs: Any) -> Any:
        self.puts += 1
        if self.puts == 2:
            raise ConnectionError("the process died here")
        return await self._saver.aput(*args, **kwargs)


async def test_b6_resume_from_an_input_only_checkpoint(saver: BaseCheckpointSaver) -> None:
    """Expected: invoke(None, cfg) processes the saved input (LangGraph: {'log': ['in',
    'a']}). Actual: EmptyInputError('Received no input for __start__') — a process killed
    between the input checkpoint and the step-0 checkpoint leaves a thread that
    invoke(None) cannot resume."""
    crashing = CrashOnSecondPut(saver)
    with pytest.raises(ConnectionError):
        await chain(crashing, "a").ainvoke({"log": ["in"]}, thread("t"))
    graph = chain(saver, "a")
    assert triples(await history(graph, thread("t"))) == [("input", -1, ("__start__",))]
    chunks = [c async for c in graph.astream(None, thread("t"), stream_mode="values")]
    assert chunks == [{"log": []}, {"log": ["in"]}, {"log": ["in", "a"]}]
    # the input is processed on top of its checkpoint, which is not saved a second time
    assert triples(await history(graph, thread("t"))) == [
        ("loop", 1, ()),
        ("loop", 0, ("a",)),
        ("input", -1, ("__start__",)),
    ]


# --- B7: invoke(None) on a finished thread --------------------------------------------------


async def test_b7_invoke_none_on_a_finished_thread_returns_its_state(
    saver: BaseCheckpointSaver,
) -> None:
    """Expected (LangGraph): invoke(None, cfg) on a finished thread returns its state and
    the values stream yields it once. Actual: EmptyInputError."""
    graph = chain(saver, "a", "b")
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    assert await graph.ainvoke(None, cfg) == {"log": ["a", "b"]}
    assert [c async for c in graph.astream(None, cfg, stream_mode="values")] == [
        {"log": ["a", "b"]}
    ]


# --- B8: subgraph checkpoint metadata --------------------------------------------------------


def subgraph_host(saver: Any, calls: Calls) -> Any:
    sub = StateGraph(State)
    sub.add_node("sa", appender("sa", calls))
    sub.add_node("sb", asker("sb", calls))
    sub.add_edge(START, "sa")
    sub.add_edge("sa", "sb")
    host = StateGraph(State)
    host.add_node("pre", appender("pre", calls))
    host.add_node("child", sub.compile())
    host.add_edge(START, "pre")
    host.add_edge("pre", "child")
    return host.compile(checkpointer=saver)


async def test_b10_checkpoints_stream_payloads(saver: BaseCheckpointSaver) -> None:
    """Expected (§3.6): each payload's ``tasks`` lists the next tasks as {'id', 'name',
    'interrupts': (), 'state': None} with the ids get_state shows; ``config`` carries the
    caller's configurable keys; a resumed run first re-emits the checkpoint it resumes
    from (with the interrupt on its task). Actual: tasks is always [], config holds only
    thread_id / checkpoint_ns / checkpoint_id, and nothing is re-emitted."""
    calls = Calls()
    builder = StateGraph(State)
    builder.add_node("a", appender("a", calls))
    builder.add_node("ask", asker("ask", calls))
    builder.add_edge(START, "a")
    builder.add_edge("a", "ask")
    builder.add_edge("ask", END)
    graph = builder.compile(checkpointer=saver)
    cfg = thread("t", user="ann")
    first = [c async for c in graph.astream({"log": []}, cfg, stream_mode="checkpoints")]
    assert [c["config"]["configurable"].get("user") for c in first] == ["ann"] * 3
    assert [[t["name"] for t in c["tasks"]] for c in first] == [["__start__"], ["a"], ["ask"]]
    state = await graph.aget_state(cfg)
    assert first[-1]["tasks"] == [
        {"id": state.tasks[0].id, "name": "ask", "interrupts": (), "state": None}
    ]
    resumed = [c async for c in graph.astream(Command(resume=1), cfg, stream_mode="checkpoints")]
    assert (
        resumed[0]["config"]["configurable"]["checkpoint_id"]
        == (state.config["configurable"]["checkpoint_id"])
    )
    assert [i["value"] for i in resumed[0]["tasks"][0]["interrupts"]] == ["ask?"]
    assert [c["metadata"]["step"] for c in resumed] == [1, 2]


# --- B11: unstorable input names an internal channel -----------------------------------------


async def test_b13_input_checkpoint_start_task(saver: BaseCheckpointSaver) -> None:
    """Expected (LangGraph): the input checkpoint's ``__start__`` task has its own task
    id and its result is the input. Actual: its id is the checkpoint's id and its result
    is None."""
    graph = chain(saver, "a")
    cfg = thread("t")
    await graph.ainvoke({"log": ["in"]}, cfg)
    first = (await history(graph, cfg))[-1]
    (task,) = first.tasks
    assert task.name == "__start__"
    assert task.result == {"log": ["in"]}
    assert task.id != first.config["configurable"]["checkpoint_id"]


# --- the same, side by side with LangGraph ---------------------------------------------------


@pytest.mark.differential
def test_differential_start_task(saver: Any) -> None:
    pytest.importorskip("langgraph")
    name = "chain_state_and_updates"
    expected = normalize(SCENARIOS[name](langgraph_api(), langgraph_saver()), start_task=True)
    assert normalize(SCENARIOS[name](stepgraph_api(), saver), start_task=True) == expected


# --- B14: state access through a subgraph's config -------------------------------------------
