"""Subgraph state and nested checkpoints, on every saver: a nested graph (a subgraph node,
or a graph invoked inside a node function) checkpoints under its host task's namespace;
``get_state`` / ``get_state_history`` / ``update_state`` read and edit it there, as in
LangGraph 1.2.22 (compared with the real thing; differences are stated per test).
"""

from __future__ import annotations

from typing import Any

import pytest

from stepgraph.checkpoint.base import BaseCheckpointSaver
from stepgraph.graph import START, StateGraph
from stepgraph.types import Command, StateSnapshot, interrupt

from .graphs import Calls, State, appender, asker, history, thread
from .test_fixed_bugs import subgraph_host

pytestmark = pytest.mark.anyio


def sub_graph(calls: Calls) -> Any:
    """START → sa → sb (asks once)."""
    sub = StateGraph(State)
    sub.add_node("sa", appender("sa", calls))
    sub.add_node("sb", asker("sb", calls))
    sub.add_edge(START, "sa")
    sub.add_edge("sa", "sb")
    return sub.compile()


def nested_three_levels(saver: Any, calls: Calls) -> Any:
    """host: child (subgraph) → c1, grand (subgraph) → g1, g2 (asks once)."""
    grand = StateGraph(State)
    grand.add_node("g1", appender("g1", calls))
    grand.add_node("g2", asker("g2", calls))
    grand.add_edge(START, "g1")
    grand.add_edge("g1", "g2")
    child = StateGraph(State)
    child.add_node("c1", appender("c1", calls))
    child.add_node("grand", grand.compile())
    child.add_edge(START, "c1")
    child.add_edge("c1", "grand")
    host = StateGraph(State)
    host.add_node("child", child.compile())
    host.add_edge(START, "child")
    return host.compile(checkpointer=saver)


async def test_subgraph_checkpoints_name_their_parent_checkpoint(
    saver: BaseCheckpointSaver,
) -> None:
    """A subgraph checkpoint's metadata is {'source', 'step', 'parents': {'': <the host
    checkpoint id>}}: none of the host task's langgraph_* keys leak into it."""
    graph = subgraph_host(saver, Calls())
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    host = await graph.aget_state(cfg)
    sub = (await graph.aget_state(cfg, subgraphs=True)).tasks[0].state
    assert isinstance(sub, StateSnapshot)
    assert sub.metadata == {
        "source": "loop",
        "step": 1,
        "parents": {"": host.config["configurable"]["checkpoint_id"]},
    }


async def test_nested_checkpoints_keep_run_metadata(saver: BaseCheckpointSaver) -> None:
    """The run's own metadata reaches every nested checkpoint (as in LangGraph)."""
    graph = subgraph_host(saver, Calls())
    cfg = {**thread("t"), "metadata": {"user": "ann"}}
    await graph.ainvoke({"log": []}, cfg)
    host = await graph.aget_state(cfg)
    sub_cfg = host.tasks[0].state
    assert isinstance(sub_cfg, dict)
    assert [s.metadata for s in await history(graph, sub_cfg)][-1] == {
        "user": "ann",
        "source": "input",
        "step": -1,
        "parents": {"": host.config["configurable"]["checkpoint_id"]},
    }


async def test_subgraph_state_of_a_graph_invoked_in_a_node(
    saver: BaseCheckpointSaver,
) -> None:
    """get_state(subgraphs=True) shows the paused nested graph's snapshot in the host
    task's ``state`` (its checkpoints live under 'host:<task id>')."""
    calls = Calls()
    nested = sub_graph(calls)

    async def host(state: State) -> dict[str, Any]:
        return {"log": ["host", *(await nested.ainvoke({"log": ["hin"]}))["log"]]}

    builder = StateGraph(State)
    builder.add_node("host", host)
    builder.add_edge(START, "host")
    graph = builder.compile(checkpointer=saver)
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    (task,) = (await graph.aget_state(cfg, subgraphs=True)).tasks
    assert isinstance(task.state, StateSnapshot)
    assert task.state.values == {"log": ["hin", "sa"]}
    assert task.state.next == ("sb",)


class Agent:
    """A node that is a bound method reaching its graph through ``self``."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph

    async def run(self, state: State) -> dict[str, Any]:
        return {"log": (await self.graph.ainvoke({"log": ["in"]}))["log"]}


async def test_graph_reached_through_a_bound_method_is_found(
    saver: BaseCheckpointSaver,
) -> None:
    """A graph the node reaches as an attribute of its object (``self.graph``) is found
    too: its paused state reads, edits and resumes through the task's config. (LangGraph
    does not look through ``self`` and shows ``state=None`` here.)"""
    calls = Calls()
    builder = StateGraph(State)
    builder.add_node("agent", Agent(sub_graph(calls)).run)
    builder.add_edge(START, "agent")
    graph = builder.compile(checkpointer=saver)
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    (task,) = (await graph.aget_state(cfg)).tasks
    assert isinstance(task.state, dict)
    assert task.state["configurable"]["checkpoint_ns"] == f"agent:{task.id}"
    sub = await graph.aget_state(task.state)
    assert (sub.values, sub.next) == ({"log": ["in", "sa"]}, ("sb",))
    await graph.aupdate_state(task.state, {"log": ["edit"]})
    assert await graph.ainvoke(Command(resume="ok"), cfg) == {"log": ["in", "sa", "edit", "sb:ok"]}


async def test_get_and_update_state_through_a_subgraph_config(
    saver: BaseCheckpointSaver,
) -> None:
    """The config in ``tasks[i].state`` ({'thread_id', 'checkpoint_ns': 'child:<task
    id>'}) reads and edits the paused subgraph: get_state gives its snapshot (next
    ('sb',)), get_state_history its three checkpoints, and update_state applies there,
    so the resumed run sees the edit."""
    calls = Calls()
    graph = subgraph_host(saver, calls)
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    sub_cfg = (await graph.aget_state(cfg)).tasks[0].state
    assert isinstance(sub_cfg, dict)

    sub = await graph.aget_state(sub_cfg)
    assert (sub.values, sub.next) == ({"log": ["pre", "sa"]}, ("sb",))
    assert [(s.metadata["step"], s.next) for s in await history(graph, sub_cfg)] == [  # type: ignore[index]
        (1, ("sb",)),
        (0, ("sa",)),
        (-1, ("__start__",)),
    ]
    await graph.aupdate_state(sub_cfg, {"log": ["edit"]})
    edited = await graph.aget_state(sub_cfg)
    assert edited.values == {"log": ["pre", "sa", "edit"]}
    assert edited.metadata == {"source": "update", "step": 2, "parents": sub.metadata["parents"]}
    assert await graph.ainvoke(Command(resume="r"), cfg) == {
        "log": ["pre", "pre", "sa", "edit", "sb:r"]
    }


async def test_update_as_the_last_subgraph_node_finishes_the_subgraph(
    saver: BaseCheckpointSaver,
) -> None:
    """update_state(sub_config, ..., as_node='sb') stands for sb's run: the subgraph has
    nothing left, and resuming the host continues with the subgraph's edited state
    without running sb (as LangGraph)."""
    calls = Calls()
    graph = subgraph_host(saver, calls)
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    sub_cfg = (await graph.aget_state(cfg)).tasks[0].state
    await graph.aupdate_state(sub_cfg, {"log": ["done"]}, as_node="sb")
    assert (await graph.aget_state(sub_cfg)).next == ()
    assert await graph.ainvoke(Command(resume="unused"), cfg) == {
        "log": ["pre", "pre", "sa", "done"]
    }
    assert calls.as_dict() == {"pre": 1, "sa": 1, "sb": 1}


async def test_answer_by_id_reaches_an_edited_subgraph(saver: BaseCheckpointSaver) -> None:
    """Resuming by interrupt id after the subgraph was edited: the answer goes to the
    task the edit left pending. (Differs from LangGraph on purpose: there the edit
    changes the interrupt's id, so the answer is dropped and sb asks again.)"""
    graph = subgraph_host(saver, Calls())
    cfg = thread("t")
    first = await graph.ainvoke({"log": []}, cfg)
    (pending,) = first["__interrupt__"]
    sub_cfg = (await graph.aget_state(cfg)).tasks[0].state
    await graph.aupdate_state(sub_cfg, {"log": ["edit"]})
    assert await graph.ainvoke(Command(resume={pending.id: "r"}), cfg) == {
        "log": ["pre", "pre", "sa", "edit", "sb:r"]
    }


async def test_subgraph_state_recurses_into_nested_subgraphs(
    saver: BaseCheckpointSaver,
) -> None:
    """With a subgraph inside a subgraph paused at an interrupt, get_state(subgraphs=True)
    gives StateSnapshots at every level, each config naming the full namespace path."""
    graph = nested_three_levels(saver, Calls())
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)

    top = (await graph.aget_state(cfg, subgraphs=True)).tasks[0].state
    assert isinstance(top, StateSnapshot)
    nested = top.tasks[0].state
    assert isinstance(nested, StateSnapshot)
    assert (nested.values, nested.next) == ({"log": ["c1", "g1"]}, ("g2",))
    # nested namespaces are the path from the root: "child:<id>|grand:<id>"
    top_ns = top.config["configurable"]["checkpoint_ns"]
    assert nested.config["configurable"]["checkpoint_ns"].startswith(f"{top_ns}|grand:")
    assert await graph.ainvoke(Command(resume="R"), cfg) == {"log": ["c1", "c1", "g1", "g2:R"]}


async def test_nested_subgraph_config_reads_and_edits_the_grandchild(
    saver: BaseCheckpointSaver,
) -> None:
    """The grandchild's config ('child:<id>|grand:<id>') reads and edits it directly; its
    checkpoints name both enclosing checkpoints as parents."""
    graph = nested_three_levels(saver, Calls())
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    host = await graph.aget_state(cfg, subgraphs=True)
    top = host.tasks[0].state
    assert isinstance(top, StateSnapshot)
    grand_cfg = (await graph.aget_state(top.config)).tasks[0].state
    assert isinstance(grand_cfg, dict)
    grand = await graph.aget_state(grand_cfg)
    assert (grand.values, grand.next) == ({"log": ["c1", "g1"]}, ("g2",))
    assert grand.metadata["parents"] == {
        "": host.config["configurable"]["checkpoint_id"],
        top.config["configurable"]["checkpoint_ns"]: top.config["configurable"]["checkpoint_id"],
    }
    await graph.aupdate_state(grand_cfg, {"log": ["E"]})
    assert await graph.ainvoke(Command(resume="R"), cfg) == {"log": ["c1", "c1", "g1", "E", "g2:R"]}


@pytest.mark.parametrize("ns", ["nosuch:1", "pre:1", "child:1|nosuch:2"])
async def test_a_namespace_naming_no_subgraph_is_rejected(
    saver: BaseCheckpointSaver, ns: str
) -> None:
    """A checkpoint_ns whose path names no subgraph node is an error (LangGraph returns
    an empty snapshot for reads), and update_state saves nothing."""
    graph = subgraph_host(saver, Calls())
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    before = await history(graph, cfg)
    bad = thread("t", checkpoint_ns=ns)
    name = ns.rsplit("|", 1)[-1].split(":")[0]
    owner = "LangGraph"  # the default name of a compiled graph, nested or not
    message = (
        f"checkpoint_ns {ns!r} names no subgraph: graph {owner!r} has no node {name!r} "
        "that runs a graph. Pass the config of a subgraph task, e.g. "
        "get_state(config).tasks[i].state"
    )
    for call in (
        lambda: graph.aget_state(bad),
        lambda: history(graph, bad),
        lambda: graph.aupdate_state(bad, {"log": ["x"]}),
    ):
        with pytest.raises(ValueError) as info:
            await call()
        assert str(info.value) == message
    assert await history(graph, cfg) == before


async def test_update_of_a_subgraph_that_never_ran_is_rejected(
    saver: BaseCheckpointSaver,
) -> None:
    """update_state under a subgraph namespace with no checkpoint raises and saves
    nothing (LangGraph starts a new, orphan checkpoint there)."""
    graph = subgraph_host(saver, Calls())
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    ghost = thread("t", checkpoint_ns="child:00000000-0000-0000-0000-000000000000")
    assert (await graph.aget_state(ghost)).values == {}
    with pytest.raises(ValueError) as info:
        await graph.aupdate_state(ghost, {"log": ["x"]})
    assert str(info.value) == (
        "No checkpoint under checkpoint_ns 'child:00000000-0000-0000-0000-000000000000' in "
        "thread 't': a subgraph's state exists once it ran; pass a config from "
        "get_state(config).tasks[i].state"
    )
    assert await history(graph, ghost) == []


@pytest.mark.parametrize("breakpoint", [{"interrupt_before": ["sb"]}, {"interrupt_after": ["sa"]}])
async def test_a_subgraph_breakpoint_pauses_the_host(
    saver: BaseCheckpointSaver, breakpoint: dict[str, Any]
) -> None:
    """A subgraph compiled with a static breakpoint pauses its host there (the host task
    stays pending, the subgraph's snapshot shows sb next); invoke(None) continues the
    subgraph from its checkpoint, runs sb once and then the host's next node."""
    calls = Calls()
    sub = StateGraph(State)
    sub.add_node("sa", appender("sa", calls))
    sub.add_node("sb", appender("sb", calls))
    sub.add_edge(START, "sa")
    sub.add_edge("sa", "sb")
    host = StateGraph(State)
    host.add_node("child", sub.compile(**breakpoint))
    host.add_node("post", appender("post", calls))
    host.add_edge(START, "child")
    host.add_edge("child", "post")
    graph = host.compile(checkpointer=saver)
    cfg = thread("t")
    assert await graph.ainvoke({"log": []}, cfg) == {"log": []}
    state = await graph.aget_state(cfg, subgraphs=True)
    assert state.next == ("child",)
    nested = state.tasks[0].state
    assert isinstance(nested, StateSnapshot)
    assert (nested.values, nested.next) == ({"log": ["sa"]}, ("sb",))
    assert await graph.ainvoke(None, cfg) == {"log": ["sa", "sb", "post"]}
    assert calls.as_dict() == {"sa": 1, "sb": 1, "post": 1}


async def test_checkpoints_stream_names_where_a_subgraph_keeps_its_state(
    saver: BaseCheckpointSaver,
) -> None:
    """In ``checkpoints`` mode a subgraph task's ``state`` is the config that reads the
    subgraph ({'thread_id', 'checkpoint_ns': 'child:<task id>'}; None for other tasks),
    and the subgraph's own checkpoints name the host checkpoint as their parent."""
    graph = subgraph_host(saver, Calls())
    cfg = thread("t")
    chunks = [
        c async for c in graph.astream({"log": []}, cfg, stream_mode="checkpoints", subgraphs=True)
    ]
    host = [p for ns, p in chunks if ns == ()]
    nested = [(ns, p) for ns, p in chunks if ns != ()]
    paused = host[-1]
    (task,) = paused["tasks"]
    assert (paused["next"], task["name"]) == (["child"], "child")
    assert task["state"] == {
        "configurable": {"thread_id": "t", "checkpoint_ns": f"child:{task['id']}"}
    }
    assert all(t["state"] is None for p in host[:-1] for t in p["tasks"])
    host_id = paused["config"]["configurable"]["checkpoint_id"]
    assert [(ns, p["metadata"]["parents"]) for ns, p in nested] == [
        ((f"child:{task['id']}",), {"": host_id})
    ] * 3


async def test_each_nested_run_of_a_task_keeps_its_own_checkpoints(
    saver: BaseCheckpointSaver,
) -> None:
    """A node that invokes a graph twice gets two independent runs, saved under
    'host:<id>' and 'host:<id>|1' (as LangGraph); when the host task resumes, each
    finished run reports its own result without running again."""
    calls = Calls()
    sub = StateGraph(State)
    sub.add_node("sa", appender("sa", calls))
    sub.add_edge(START, "sa")
    nested = sub.compile()

    async def host(state: State) -> dict[str, Any]:
        first = (await nested.ainvoke({"log": ["1"]}))["log"]
        second = (await nested.ainvoke({"log": ["2"]}))["log"]
        return {"log": [*first, *second, interrupt("q")]}

    builder = StateGraph(State)
    builder.add_node("host", host)
    builder.add_edge(START, "host")
    graph = builder.compile(checkpointer=saver)
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    (task,) = (await graph.aget_state(cfg)).tasks
    second_ns = f"host:{task.id}|1"
    assert (await graph.aget_state(thread("t", checkpoint_ns=second_ns))).values == {
        "log": ["2", "sa"]
    }
    assert await graph.ainvoke(Command(resume="A"), cfg) == {"log": ["1", "sa", "2", "sa", "A"]}
    assert calls.as_dict() == {"sa": 2}


async def test_a_graph_found_but_not_run_does_not_misread_the_nested_state(
    saver: BaseCheckpointSaver,
) -> None:
    """When the node's code names another graph before the one it runs, the nested state
    cannot be read with the first one's nodes: get_state(subgraphs=True) leaves the
    task's ``state`` as the config instead of failing."""
    calls = Calls()
    unused = StateGraph(State)
    unused.add_node("other", appender("other", calls))
    unused.add_edge(START, "other")
    other = unused.compile()
    nested = sub_graph(calls)

    async def host(state: State) -> dict[str, Any]:
        graph = other if state["log"] == ["never"] else nested
        return {"log": (await graph.ainvoke({"log": []}))["log"]}

    builder = StateGraph(State)
    builder.add_node("host", host)
    builder.add_edge(START, "host")
    graph = builder.compile(checkpointer=saver)
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    (task,) = (await graph.aget_state(cfg, subgraphs=True)).tasks
    assert task.state == {"configurable": {"thread_id": "t", "checkpoint_ns": f"host:{task.id}"}}
