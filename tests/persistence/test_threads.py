"""Threads, get_state, get_state_history, update_state, replay and fork — on every saver.

Expected values are what LangGraph 1.2.22 shows for the same graphs (see
test_differential.py for the side-by-side check).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from stepgraph.checkpoint.base import BaseCheckpointSaver
from stepgraph.graph import START, StateGraph
from stepgraph.types import Command, Interrupt, PregelTask, StateSnapshot

from .graphs import Calls, State, appender, asker, chain, history, thread, triples

pytestmark = pytest.mark.anyio

CHAIN_HISTORY = [
    ("loop", 2, ()),
    ("loop", 1, ("b",)),
    ("loop", 0, ("a",)),
    ("input", -1, ("__start__",)),
]


def ids(snapshots: list[StateSnapshot]) -> list[str]:
    return [s.config["configurable"]["checkpoint_id"] for s in snapshots]


def at(config: dict[str, Any], snapshot: StateSnapshot) -> dict[str, Any]:
    """``config`` pointing at ``snapshot``'s checkpoint."""
    return {
        "configurable": {
            **config["configurable"],
            "checkpoint_id": snapshot.config["configurable"]["checkpoint_id"],
        }
    }


# --- threads ---------------------------------------------------------------------------


async def test_threads_are_isolated(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a", "b")
    one, two = thread("one"), thread("two")

    assert await graph.ainvoke({"log": ["1"]}, one) == {"log": ["1", "a", "b"]}
    assert await graph.ainvoke({"log": ["2"]}, two) == {"log": ["2", "a", "b"]}
    assert await graph.ainvoke({"log": ["1+"]}, one) == {"log": ["1", "a", "b", "1+", "a", "b"]}

    assert (await graph.aget_state(two)).values == {"log": ["2", "a", "b"]}
    assert len(await history(graph, one)) == 8
    assert triples(await history(graph, two)) == CHAIN_HISTORY
    assert not {*ids(await history(graph, one))} & {*ids(await history(graph, two))}

    empty = await graph.aget_state(thread("never-used"))
    assert empty == StateSnapshot(
        values={},
        next=(),
        config=empty.config,
        metadata=None,
        created_at=None,
        parent_config=None,
        tasks=(),
        interrupts=(),
    )
    assert empty.config["configurable"]["thread_id"] == "never-used"
    assert await history(graph, thread("never-used")) == []


async def test_state_accumulates_across_runs_through_reducers(
    saver: BaseCheckpointSaver,
) -> None:
    calls = Calls()
    graph = chain(saver, "a", "b", calls=calls)
    cfg = thread("t")

    await graph.ainvoke({"log": ["first"]}, cfg)
    assert await graph.ainvoke({"log": ["second"]}, cfg) == {
        "log": ["first", "a", "b", "second", "a", "b"]
    }
    assert calls.as_dict() == {"a": 2, "b": 2}
    assert triples(await history(graph, cfg)) == [
        ("loop", 6, ()),
        ("loop", 5, ("b",)),
        ("loop", 4, ("a",)),
        ("input", 3, ("__start__",)),
        *CHAIN_HISTORY,
    ]


async def test_checkpoint_ns_and_extra_configurable_keys(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a")
    await graph.ainvoke({"log": []}, thread("t", checkpoint_ns="", user="ann"))

    plain = await graph.aget_state(thread("t"))
    explicit = await graph.aget_state(thread("t", checkpoint_ns="", user="someone-else"))
    assert plain.values == explicit.values == {"log": ["a"]}
    assert plain.config == explicit.config
    assert plain.config["configurable"]["checkpoint_ns"] == ""


# --- get_state ---------------------------------------------------------------------------


async def test_get_state_fields_after_a_run(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a", "b")
    cfg = thread("t")
    before = datetime.datetime.now(datetime.timezone.utc)
    await graph.ainvoke({"log": ["in"]}, cfg)

    state = await graph.aget_state(cfg)
    snaps = await history(graph, cfg)
    assert state == snaps[0]
    assert state.values == {"log": ["in", "a", "b"]}
    assert state.next == ()
    assert state.tasks == ()
    assert state.interrupts == ()
    assert state.metadata == {"source": "loop", "step": 2, "parents": {}}
    assert set(state.config["configurable"]) == {"thread_id", "checkpoint_ns", "checkpoint_id"}
    assert state.config["configurable"]["thread_id"] == "t"
    assert state.config["configurable"]["checkpoint_ns"] == ""
    assert state.parent_config == snaps[1].config
    assert state.created_at is not None
    created = datetime.datetime.fromisoformat(state.created_at)
    assert created.utcoffset() == datetime.timedelta(0)
    assert before - datetime.timedelta(seconds=1) <= created


async def test_get_state_shows_next_tasks_of_a_paused_thread(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a", "b", interrupt_before=["b"])
    cfg = thread("t")
    assert await graph.ainvoke({"log": []}, cfg) == {"log": ["a"]}

    state = await graph.aget_state(cfg)
    assert state.next == ("b",)
    assert state.interrupts == ()
    (task,) = state.tasks
    assert isinstance(task, PregelTask)
    assert (task.name, task.path, task.error, task.interrupts, task.state, task.result) == (
        "b",
        ("__pregel_pull", "b"),
        None,
        (),
        None,
        None,
    )
    assert state.metadata == {"source": "loop", "step": 1, "parents": {}}


async def test_get_state_at_a_past_checkpoint(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a", "b")
    cfg = thread("t")
    await graph.ainvoke({"log": ["in"]}, cfg)
    snaps = await history(graph, cfg)

    for snap in snaps:
        again = await graph.aget_state(at(cfg, snap))
        assert again.values == snap.values
        assert again.next == snap.next
        assert again.config == snap.config
        assert again.metadata == snap.metadata
        assert again.parent_config == snap.parent_config
    step1 = await graph.aget_state(at(cfg, snaps[1]))
    assert step1.values == {"log": ["in", "a"]}
    assert [t.name for t in step1.tasks] == ["b"]


# --- get_state_history --------------------------------------------------------------------


async def test_history_is_newest_first_exactly_as_langgraph(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a", "b")
    cfg = thread("t")
    await graph.ainvoke({"log": ["in"]}, cfg)

    snaps = await history(graph, cfg)
    assert triples(snaps) == CHAIN_HISTORY
    assert [s.values for s in snaps] == [
        {"log": ["in", "a", "b"]},
        {"log": ["in", "a"]},
        {"log": ["in"]},
        {"log": []},
    ]
    # each checkpoint's parent is the one before it; the first has none
    assert [s.parent_config for s in snaps] == [s.config for s in snaps[1:]] + [None]
    assert all(s.metadata["parents"] == {} for s in snaps)  # type: ignore[index]
    created = [datetime.datetime.fromisoformat(s.created_at) for s in snaps]  # type: ignore[arg-type]
    assert created == sorted(created, reverse=True)
    assert ids(snaps) == sorted(ids(snaps), reverse=True)


async def test_history_filter_before_and_limit(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a", "b")
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    snaps = await history(graph, cfg)

    assert triples(await history(graph, cfg, limit=2)) == CHAIN_HISTORY[:2]
    assert triples(await history(graph, cfg, filter={"source": "input"})) == CHAIN_HISTORY[3:]
    assert triples(await history(graph, cfg, filter={"step": 1})) == [CHAIN_HISTORY[1]]
    assert triples(await history(graph, cfg, before=snaps[1].config)) == CHAIN_HISTORY[2:]
    assert triples(await history(graph, cfg, before=snaps[1].config, limit=1)) == [CHAIN_HISTORY[2]]


async def test_run_metadata_is_saved_with_each_checkpoint(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a")
    cfg = {**thread("t"), "metadata": {"user": "ann"}}
    await graph.ainvoke({"log": []}, cfg)
    snaps = await history(graph, thread("t"))
    assert [s.metadata for s in snaps] == [
        {"user": "ann", "source": "loop", "step": 1, "parents": {}},
        {"user": "ann", "source": "loop", "step": 0, "parents": {}},
        {"user": "ann", "source": "input", "step": -1, "parents": {}},
    ]
    assert triples(await history(graph, thread("t"), filter={"user": "ann", "step": 0})) == [
        ("loop", 0, ("a",))
    ]


# --- update_state ------------------------------------------------------------------------


async def test_update_state_goes_through_reducers_as_the_last_node(
    saver: BaseCheckpointSaver,
) -> None:
    calls = Calls()
    graph = chain(saver, "a", "b", calls=calls)
    cfg = thread("t")
    await graph.ainvoke({"log": ["in"]}, cfg)

    new_config = await graph.aupdate_state(cfg, {"log": ["edit"]})
    state = await graph.aget_state(cfg)
    assert new_config == state.config
    assert set(new_config["configurable"]) == {"thread_id", "checkpoint_ns", "checkpoint_id"}
    assert state.values == {"log": ["in", "a", "b", "edit"]}
    assert state.next == ()  # as_node defaults to "b", the node that wrote last
    assert state.metadata == {"source": "update", "step": 3, "parents": {}}
    assert state.parent_config == (await history(graph, cfg))[1].config
    assert calls.as_dict() == {"a": 1, "b": 1}


async def test_update_state_as_node_schedules_what_follows_it(
    saver: BaseCheckpointSaver,
) -> None:
    calls = Calls()
    graph = chain(saver, "a", "b", calls=calls)
    cfg = thread("t")
    await graph.ainvoke({"log": ["in"]}, cfg)

    await graph.aupdate_state(cfg, {"log": ["as-a"]}, as_node="a")
    state = await graph.aget_state(cfg)
    assert state.next == ("b",)
    assert state.values == {"log": ["in", "a", "b", "as-a"]}

    assert await graph.ainvoke(None, cfg) == {"log": ["in", "a", "b", "as-a", "b"]}
    assert calls.as_dict() == {"a": 1, "b": 2}
    assert triples(await history(graph, cfg))[:3] == [
        ("loop", 4, ()),
        ("update", 3, ("b",)),
        ("loop", 2, ()),
    ]


async def test_update_state_on_a_fresh_thread_then_continue(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a", "b")
    cfg = thread("fresh")

    new_config = await graph.aupdate_state(cfg, {"log": ["seed"]})
    state = await graph.aget_state(cfg)
    assert new_config == state.config
    assert state.values == {"log": ["seed"]}
    assert state.next == ("a",)
    assert state.metadata == {"source": "update", "step": 0, "parents": {}}
    assert state.parent_config is None

    assert await graph.ainvoke(None, cfg) == {"log": ["seed", "a", "b"]}


async def test_update_state_while_paused_before_a_node(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = chain(saver, "a", "b", "c", calls=calls, interrupt_before=["b"])
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)

    await graph.aupdate_state(cfg, {"log": ["edit"]})
    state = await graph.aget_state(cfg)
    assert state.next == ("b",)
    assert state.values == {"log": ["a", "edit"]}
    assert state.metadata == {"source": "update", "step": 2, "parents": {}}

    # the edit does not pause before "b" a second time
    assert await graph.ainvoke(None, cfg) == {"log": ["a", "edit", "b", "c"]}
    assert calls.as_dict() == {"a": 1, "b": 1, "c": 1}


async def test_update_state_unknown_node_is_refused(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a")
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    before = await history(graph, cfg)
    with pytest.raises(ValueError, match=r"^Node nope does not exist$"):
        await graph.aupdate_state(cfg, {"log": ["x"]}, as_node="nope")
    assert await history(graph, cfg) == before


# --- replay and fork ---------------------------------------------------------------------


async def test_replay_from_a_past_checkpoint_branches_off_it(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = chain(saver, "a", "b", "c", calls=calls)
    cfg = thread("t")
    await graph.ainvoke({"log": ["in"]}, cfg)
    original = await history(graph, cfg)
    past = original[2]  # step 1, next ("b",)
    assert triples([past]) == [("loop", 1, ("b",))]

    assert await graph.ainvoke(None, at(cfg, past)) == {"log": ["in", "a", "b", "c"]}
    assert calls["a"] == 1
    assert calls["c"] == 2

    after = await history(graph, cfg)
    # nothing of the original branch changed
    assert after[-len(original) :] == original
    branch = after[: len(after) - len(original)]
    assert branch, "replay saved no checkpoints"
    assert branch[-1].parent_config is not None
    assert branch[-1].parent_config["configurable"]["checkpoint_id"] == ids([past])[0]
    assert [s.parent_config for s in branch] == [s.config for s in branch[1:]] + [
        branch[-1].parent_config
    ]
    latest = await graph.aget_state(cfg)
    assert latest == branch[0]
    assert latest.values == {"log": ["in", "a", "b", "c"]}
    assert latest.next == ()


async def test_fork_with_update_state_on_a_past_checkpoint(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = chain(saver, "a", "b", "c", calls=calls)
    cfg = thread("t")
    await graph.ainvoke({"log": ["in"]}, cfg)
    original = await history(graph, cfg)
    past = original[2]  # step 1: after "a", before "b"

    fork_config = await graph.aupdate_state(at(cfg, past), {"log": ["fork"]})
    fork = await graph.aget_state(fork_config)
    assert fork.parent_config is not None
    assert fork.parent_config["configurable"]["checkpoint_id"] == ids([past])[0]
    assert fork.values == {"log": ["in", "a", "fork"]}
    assert fork.next == ("b",)
    assert fork.metadata == {"source": "update", "step": 2, "parents": {}}
    assert await graph.aget_state(cfg) == fork  # the fork is now the thread's head

    assert await graph.ainvoke(None, cfg) == {"log": ["in", "a", "fork", "b", "c"]}
    assert calls.as_dict() == {"a": 1, "b": 2, "c": 2}
    after = await history(graph, cfg)
    assert after[-len(original) :] == original  # the original branch is untouched
    assert triples(after[: len(after) - len(original)]) == [
        ("loop", 4, ()),
        ("loop", 3, ("c",)),
        ("update", 2, ("b",)),
    ]
    # the old head is still readable by id
    old_head = await graph.aget_state(at(cfg, original[0]))
    assert old_head.values == {"log": ["in", "a", "b", "c"]}


# --- subgraphs ---------------------------------------------------------------------------


def _subgraph_host(saver: BaseCheckpointSaver, calls: Calls) -> Any:
    sub = StateGraph(State)
    sub.add_node("sa", appender("sa", calls))
    sub.add_node("sb", asker("sb", calls))
    sub.add_edge(START, "sa")
    sub.add_edge("sa", "sb")
    host = StateGraph(State)
    host.add_node("pre", appender("pre", calls))
    host.add_node("child", sub.compile())
    host.add_node("post", appender("post", calls))
    host.add_edge(START, "pre")
    host.add_edge("pre", "child")
    host.add_edge("child", "post")
    return host.compile(checkpointer=saver)


async def test_subgraph_state_while_the_subgraph_is_interrupted(
    saver: BaseCheckpointSaver,
) -> None:
    calls = Calls()
    graph = _subgraph_host(saver, calls)
    cfg = thread("t")
    result = await graph.ainvoke({"log": []}, cfg)
    question = Interrupt(value="sb?", id=result["__interrupt__"][0].id)
    assert result == {"log": ["pre"], "__interrupt__": [question]}

    shallow = await graph.aget_state(cfg)
    assert shallow.next == ("child",)
    assert shallow.interrupts == (question,)
    (task,) = shallow.tasks
    assert task.name == "child"
    assert task.interrupts == (question,)
    assert task.state == {"configurable": {"thread_id": "t", "checkpoint_ns": f"child:{task.id}"}}

    deep = await graph.aget_state(cfg, subgraphs=True)
    (deep_task,) = deep.tasks
    sub = deep_task.state
    assert isinstance(sub, StateSnapshot)
    assert sub.values == {"log": ["pre", "sa"]}
    assert sub.next == ("sb",)
    assert sub.interrupts == (question,)
    assert [t.name for t in sub.tasks] == ["sb"]
    assert sub.config["configurable"]["thread_id"] == "t"
    assert sub.config["configurable"]["checkpoint_ns"] == f"child:{task.id}"
    assert sub.metadata is not None
    assert (sub.metadata["source"], sub.metadata["step"]) == ("loop", 1)
    assert deep._replace(tasks=()) == shallow._replace(tasks=())

    assert await graph.ainvoke(Command(resume="yes"), cfg) == {
        "log": ["pre", "pre", "sa", "sb:yes", "post"]
    }
    assert calls.as_dict() == {"pre": 1, "sa": 1, "sb": 2, "post": 1}
    assert triples(await history(graph, cfg)) == [
        ("loop", 3, ()),
        ("loop", 2, ("post",)),
        ("loop", 1, ("child",)),
        ("loop", 0, ("pre",)),
        ("input", -1, ("__start__",)),
    ]


# --- the sync API ------------------------------------------------------------------------


def test_sync_api_threads_state_history_update(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = chain(saver, "a", "b", calls=calls)
    cfg = thread("sync")

    assert graph.invoke({"log": ["in"]}, cfg) == {"log": ["in", "a", "b"]}
    snaps = list(graph.get_state_history(cfg))
    assert triples(snaps) == CHAIN_HISTORY
    assert graph.get_state(cfg) == snaps[0]
    assert graph.get_state(at(cfg, snaps[1])).next == ("b",)

    new_config = graph.update_state(cfg, {"log": ["edit"]}, as_node="a")
    assert new_config == graph.get_state(cfg).config
    assert graph.invoke(None, cfg) == {"log": ["in", "a", "b", "edit", "b"]}
    assert calls.as_dict() == {"a": 1, "b": 2}
    assert graph.invoke({"log": ["other"]}, thread("other")) == {"log": ["other", "a", "b"]}
    assert len(list(graph.get_state_history(cfg))) == 6
