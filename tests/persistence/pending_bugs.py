"""OPEN engine bugs (B8, B9, B14, B15 and the differential scenarios in
``differential.PENDING``): these tests FAIL today. The file is not collected (no
``test_`` prefix); run it with ``pytest tests/persistence/pending_bugs.py`` and move a
test into its topic file once it passes.

Every test states the expected behaviour (LangGraph 1.2.22's, unless noted) and what
stepgraph does instead. Move a test into its topic file once it passes.
"""

from __future__ import annotations

from typing import Any

import pytest

from stepgraph.checkpoint.base import BaseCheckpointSaver
from stepgraph.graph import START, StateGraph
from stepgraph.types import Command, StateSnapshot

from .differential import (
    PENDING,
    SCENARIOS,
    langgraph_api,
    langgraph_saver,
    normalize,
    stepgraph_api,
)
from .graphs import Calls, State, appender, asker, fan_out, history, thread
from .test_fixed_bugs import subgraph_host

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


async def test_b8_subgraph_checkpoints_name_their_parent_checkpoint(
    saver: BaseCheckpointSaver,
) -> None:
    """Expected: a subgraph checkpoint's metadata is {'source', 'step', 'parents': {'':
    <the host checkpoint id>}}. Actual: parents == {} and the host task's langgraph_step /
    langgraph_node / langgraph_triggers / langgraph_path / langgraph_checkpoint_ns leak
    into it."""
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


# --- B9: get_state(subgraphs=True) and graphs invoked inside a node ------------------------


async def test_b9_subgraph_state_of_a_graph_invoked_in_a_node(
    saver: BaseCheckpointSaver,
) -> None:
    """Expected (LangGraph): get_state(subgraphs=True) shows the paused nested graph's
    snapshot in the host task's ``state`` (its checkpoints live under 'host:<task id>').
    Actual: state is None."""
    calls = Calls()
    sub = StateGraph(State)
    sub.add_node("sa", appender("sa", calls))
    sub.add_node("sb", asker("sb", calls))
    sub.add_edge(START, "sa")
    sub.add_edge("sa", "sb")
    nested = sub.compile()

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


# --- B10: the checkpoints stream (research §3.6) ---------------------------------------------


# --- B13: the __start__ task of an input checkpoint ------------------------------------------


@pytest.mark.differential
@pytest.mark.parametrize("name", sorted(PENDING))
def test_differential_pending(name: str, saver: Any) -> None:
    pytest.importorskip("langgraph")

    def trace(api: Any, store: Any) -> Any:
        try:
            return normalize(SCENARIOS[name](api, store))
        except Exception as exc:
            return f"raised {type(exc).__name__}: {exc}"

    assert trace(stepgraph_api(), saver) == trace(langgraph_api(), langgraph_saver())


async def test_b14_get_and_update_state_through_a_subgraph_config(
    saver: BaseCheckpointSaver,
) -> None:
    """Expected (LangGraph): the config in ``tasks[i].state`` ({'thread_id',
    'checkpoint_ns': 'child:<task id>'}) reads and edits the paused subgraph: get_state
    gives its snapshot (next ('sb',)), get_state_history its three checkpoints, and
    update_state applies there, so the resumed run sees the edit. Actual: get_state and
    get_state_history raise KeyError('sb') (the host graph plans the subgraph's
    checkpoint), update_state raises InvalidUpdateError('Node sa does not exist')."""
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
    assert (await graph.aget_state(sub_cfg)).values == {"log": ["pre", "sa", "edit"]}
    assert await graph.ainvoke(Command(resume="r"), cfg) == {
        "log": ["pre", "pre", "sa", "edit", "sb:r"]
    }


# --- B15: get_state(subgraphs=True) stops after one level ------------------------------------


async def test_b15_subgraph_state_recurses_into_nested_subgraphs(
    saver: BaseCheckpointSaver,
) -> None:
    """Expected (LangGraph): with a subgraph inside a subgraph paused at an interrupt,
    get_state(subgraphs=True) gives StateSnapshots at every level, each config naming
    the full namespace path. Actual: the grandchild's ``state`` is still the config
    dict, and its checkpoint_ns is 'grand:<id>' without the 'child:<id>|' prefix under
    which the run saved it."""
    calls = Calls()
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
    graph = host.compile(checkpointer=saver)
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
