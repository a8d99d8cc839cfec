"""Human in the loop: interrupt() / Command(resume=...) and static breakpoints, on every saver.

Results, snapshots and stream chunks are compared whole against what LangGraph 1.2.22
shows for the same graphs (interrupt ids aside: they are stable 32-hex-digit strings
here too, but hashed differently).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from stepgraph.checkpoint.base import BaseCheckpointSaver
from stepgraph.graph import START, StateGraph
from stepgraph.types import Command, GraphOutput, Interrupt

from .graphs import Calls, State, appender, asker, chain, fan_out, history, thread, triples

pytestmark = pytest.mark.anyio

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def ask_graph(saver: Any, calls: Calls, questions: int = 1, **compile_kw: Any) -> Any:
    """START → a → ask → b → END, ``ask`` asking ``questions`` times."""
    builder = StateGraph(State)
    builder.add_node("a", appender("a", calls))
    builder.add_node("ask", asker("ask", calls, questions))
    builder.add_node("b", appender("b", calls))
    builder.add_edge(START, "a")
    builder.add_edge("a", "ask")
    builder.add_edge("ask", "b")
    return builder.compile(checkpointer=saver, **compile_kw)


async def collect(graph: Any, input: Any, config: Any, **kwargs: Any) -> list[Any]:
    return [chunk async for chunk in graph.astream(input, config, **kwargs)]


# --- interrupt() in a node -------------------------------------------------------------------


async def test_interrupt_in_a_node_then_resume(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = ask_graph(saver, calls)
    cfg = thread("t")

    result = await graph.ainvoke({"log": ["in"]}, cfg)
    (question,) = result["__interrupt__"]
    assert HEX32.match(question.id)
    assert result == {
        "log": ["in", "a"],
        "__interrupt__": [Interrupt(value="ask?", id=question.id)],
    }
    assert question.response_schema is None

    state = await graph.aget_state(cfg)
    assert state.values == {"log": ["in", "a"]}
    assert state.next == ("ask",)
    assert state.interrupts == (question,)
    (task,) = state.tasks
    assert (task.name, task.error, task.interrupts, task.result) == ("ask", None, (question,), None)
    assert state.metadata == {"source": "loop", "step": 1, "parents": {}}

    assert await graph.ainvoke(Command(resume="yes"), cfg) == {"log": ["in", "a", "ask:yes", "b"]}
    assert calls.as_dict() == {"a": 1, "ask": 2, "b": 1}
    assert triples(await history(graph, cfg)) == [
        ("loop", 3, ()),
        ("loop", 2, ("b",)),
        ("loop", 1, ("ask",)),
        ("loop", 0, ("a",)),
        ("input", -1, ("__start__",)),
    ]
    final = await graph.aget_state(cfg)
    assert (final.next, final.interrupts, final.tasks) == ((), (), ())


async def test_interrupt_ids_are_stable_across_result_state_and_stream(
    saver: BaseCheckpointSaver,
) -> None:
    graph = ask_graph(saver, Calls())
    streamed = await collect(graph, {"log": []}, thread("s"), stream_mode="updates")
    invoked = await graph.ainvoke({"log": []}, thread("i"))
    state = await graph.aget_state(thread("s"))
    assert streamed[-1]["__interrupt__"] == state.interrupts
    assert invoked["__interrupt__"][0].id != ""
    assert (await graph.aget_state(thread("i"))).interrupts == tuple(invoked["__interrupt__"])


async def test_two_interrupts_in_one_node_need_two_resumes(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = ask_graph(saver, calls, questions=2)
    cfg = thread("t")

    first = (await graph.ainvoke({"log": []}, cfg))["__interrupt__"]
    assert [i.value for i in first] == ["ask?"]
    second = (await graph.ainvoke(Command(resume="one"), cfg))["__interrupt__"]
    assert [i.value for i in second] == ["ask?1"]
    assert HEX32.match(second[0].id)
    assert second[0].id != first[0].id
    state = await graph.aget_state(cfg)
    assert state.next == ("ask",)
    assert state.interrupts == tuple(second)
    assert state.values == {"log": ["a"]}

    assert await graph.ainvoke(Command(resume="two"), cfg) == {"log": ["a", "ask:one:two", "b"]}
    assert calls.as_dict() == {"a": 1, "ask": 3, "b": 1}


async def test_new_input_on_a_paused_thread_starts_over(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = ask_graph(saver, calls)
    cfg = thread("t")
    await graph.ainvoke({"log": ["one"]}, cfg)

    result = await graph.ainvoke({"log": ["two"]}, cfg)
    assert result["log"] == ["one", "a", "two", "a"]
    assert [i.value for i in result["__interrupt__"]] == ["ask?"]
    assert calls.as_dict() == {"a": 2, "ask": 2}
    assert (await graph.aget_state(cfg)).next == ("ask",)


async def test_interrupt_in_streams_exactly_as_langgraph(saver: BaseCheckpointSaver) -> None:
    graph = ask_graph(saver, Calls())
    cfg = thread("t")
    chunks = await collect(graph, {"log": []}, cfg, stream_mode=["values", "updates"])
    question = Interrupt(value="ask?", id=chunks[3][1]["__interrupt__"][0].id)
    assert chunks == [
        ("values", {"log": []}),
        ("updates", {"a": {"log": ["a"]}}),
        ("values", {"log": ["a"]}),
        ("updates", {"__interrupt__": (question,)}),
        ("values", {"log": ["a"], "__interrupt__": (question,)}),
    ]
    resumed = await collect(graph, Command(resume="ok"), cfg, stream_mode=["values", "updates"])
    assert resumed == [
        ("values", {"log": ["a"]}),
        ("updates", {"ask": {"log": ["ask:ok"]}}),
        ("values", {"log": ["a", "ask:ok"]}),
        ("updates", {"b": {"log": ["b"]}}),
        ("values", {"log": ["a", "ask:ok", "b"]}),
    ]


async def test_interrupt_result_v2(saver: BaseCheckpointSaver) -> None:
    graph = ask_graph(saver, Calls())
    out = await graph.ainvoke({"log": []}, thread("t"), version="v2")
    assert isinstance(out, GraphOutput)
    assert out.value == {"log": ["a"]}
    assert [i.value for i in out.interrupts] == ["ask?"]
    done = await graph.ainvoke(Command(resume=1), thread("t"), version="v2")
    assert done == GraphOutput(value={"log": ["a", "ask:1", "b"]}, interrupts=())


async def test_interrupt_without_checkpointer_cannot_resume() -> None:
    graph = ask_graph(None, Calls())
    result = await graph.ainvoke({"log": []})
    assert [i.value for i in result["__interrupt__"]] == ["ask?"]
    assert result["log"] == ["a"]
    with pytest.raises(
        RuntimeError, match=r"^Cannot use Command\(resume=\.\.\.\) without checkpointer$"
    ):
        await graph.ainvoke(Command(resume="x"))


# --- parallel branches ----------------------------------------------------------------------

MULTIPLE = (
    "When there are multiple pending interrupts, you must specify the interrupt id when "
    "resuming. Docs: https://docs.langchain.com/oss/python/langgraph/interrupts"
    "#handling-multiple-interrupts."
)


async def test_parallel_interrupts_resume_by_id(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = fan_out(
        saver,
        calls,
        {
            "p1": asker("p1", calls, questions=2),
            "p2": asker("p2", calls),
            "p3": appender("p3", calls),
        },
    )
    cfg = thread("t")
    result = await graph.ainvoke({"log": []}, cfg)
    by_value = {i.value: i for i in result["__interrupt__"]}
    assert sorted(by_value) == ["p1?", "p2?"]
    assert result["log"] == ["a", "p3"]

    state = await graph.aget_state(cfg)
    assert state.interrupts == (by_value["p1?"], by_value["p2?"])
    assert [(t.name, t.interrupts, t.result) for t in state.tasks] == [
        ("p1", (by_value["p1?"],), None),
        ("p2", (by_value["p2?"],), None),
        ("p3", (), {"log": ["p3"]}),
    ]
    assert state.values == {"log": ["a", "p3"]}  # the finished sibling's writes show

    before = await history(graph, cfg)
    with pytest.raises(RuntimeError) as info:
        await graph.ainvoke(Command(resume="plain"), cfg)
    assert str(info.value) == MULTIPLE
    assert await history(graph, cfg) == before

    partial = await graph.ainvoke(
        Command(resume={by_value["p1?"].id: "A", by_value["p2?"].id: "B"}), cfg
    )
    assert partial["log"] == ["a", "p2:B", "p3"]
    (followup,) = partial["__interrupt__"]
    assert followup.value == "p1?1"

    done = await graph.ainvoke(Command(resume={followup.id: "C"}), cfg)
    assert done == {"log": ["a", "p1:A:C", "p2:B", "p3", "z"]}
    assert calls["a"] == calls["p3"] == calls["z"] == 1  # never re-run
    assert calls["p1"] == 3
    assert triples(await history(graph, cfg)) == [
        ("loop", 3, ()),
        ("loop", 2, ("z",)),
        ("loop", 1, ("p1", "p2", "p3")),
        ("loop", 0, ("a",)),
        ("input", -1, ("__start__",)),
    ]


async def test_finished_siblings_are_not_rerun_on_resume(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = fan_out(
        saver,
        calls,
        {"p1": asker("p1", calls), "p2": appender("p2", calls), "p3": appender("p3", calls)},
    )
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    assert calls.as_dict() == {"a": 1, "p1": 1, "p2": 1, "p3": 1}

    chunks = await collect(graph, Command(resume="go"), cfg, stream_mode="updates")
    assert calls.as_dict() == {"a": 1, "p1": 2, "p2": 1, "p3": 1, "z": 1}
    cached = [c for c in chunks if "__metadata__" in c]
    assert sorted(cached, key=str) == [
        {"p2": {"log": ["p2"]}, "__metadata__": {"cached": True}},
        {"p3": {"log": ["p3"]}, "__metadata__": {"cached": True}},
    ]
    assert [c for c in chunks if "__metadata__" not in c] == [
        {"p1": {"log": ["p1:go"]}},
        {"z": {"log": ["z"]}},
    ]
    assert (await graph.aget_state(cfg)).values == {"log": ["a", "p1:go", "p2", "p3", "z"]}


# --- subgraphs ------------------------------------------------------------------------------


def sub_asker(calls: Calls) -> Any:
    sub = StateGraph(State)
    sub.add_node("sa", appender("sa", calls))
    sub.add_node("sb", asker("sb", calls))
    sub.add_edge(START, "sa")
    sub.add_edge("sa", "sb")
    return sub.compile()


async def test_interrupt_in_a_subgraph_node(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    host = StateGraph(State)
    host.add_node("pre", appender("pre", calls))
    host.add_node("child", sub_asker(calls))
    host.add_node("post", appender("post", calls))
    host.add_edge(START, "pre")
    host.add_edge("pre", "child")
    host.add_edge("child", "post")
    graph = host.compile(checkpointer=saver)
    cfg = thread("t")

    chunks = await collect(graph, {"log": []}, cfg, stream_mode="updates", subgraphs=True)
    ns = chunks[1][0]
    assert len(ns) == 1
    assert ns[0].startswith("child:")
    question = chunks[2][1]["__interrupt__"][0]
    assert chunks == [
        ((), {"pre": {"log": ["pre"]}}),
        (ns, {"sa": {"log": ["sa"]}}),
        (ns, {"__interrupt__": (Interrupt(value="sb?", id=question.id),)}),
        ((), {"__interrupt__": (question,)}),
    ]
    # the host task's namespace is the subgraph's checkpoint namespace
    state = await graph.aget_state(cfg)
    assert ns == (state.tasks[0].state["configurable"]["checkpoint_ns"],)  # type: ignore[index]

    assert await graph.ainvoke(Command(resume="yes"), cfg) == {
        "log": ["pre", "pre", "sa", "sb:yes", "post"]
    }
    assert calls.as_dict() == {"pre": 1, "sa": 1, "sb": 2, "post": 1}


@pytest.mark.parametrize("style", ["async", "sync"])
async def test_interrupt_in_a_graph_invoked_inside_a_node(
    saver: BaseCheckpointSaver, style: str
) -> None:
    calls = Calls()
    sub = sub_asker(calls)

    async def host_async(state: State) -> dict[str, Any]:
        calls.hit("host")
        out = await sub.ainvoke({"log": ["hin"]})
        return {"log": ["host", *out["log"]]}

    def host_sync(state: State) -> dict[str, Any]:
        calls.hit("host")
        out = sub.invoke({"log": ["hin"]})
        return {"log": ["host", *out["log"]]}

    builder = StateGraph(State)
    builder.add_node("pre", appender("pre", calls))
    builder.add_node("host", host_async if style == "async" else host_sync)
    builder.add_edge(START, "pre")
    builder.add_edge("pre", "host")
    graph = builder.compile(checkpointer=saver)
    cfg = thread("t")

    result = await graph.ainvoke({"log": []}, cfg)
    (question,) = result["__interrupt__"]
    assert result == {"log": ["pre"], "__interrupt__": [Interrupt(value="sb?", id=question.id)]}
    state = await graph.aget_state(cfg)
    assert state.next == ("host",)
    assert state.interrupts == (question,)

    assert await graph.ainvoke(Command(resume="ok"), cfg) == {
        "log": ["pre", "host", "hin", "sa", "sb:ok"]
    }
    # the nested graph continued where it paused: "sa" ran once
    assert calls.as_dict() == {"pre": 1, "host": 2, "sa": 1, "sb": 2}


async def test_parallel_interrupts_in_subgraphs(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = fan_out(saver, calls, {"s1": sub_asker(calls), "s2": sub_asker(calls)})
    cfg = thread("t")
    result = await graph.ainvoke({"log": []}, cfg)
    pending = result["__interrupt__"]
    assert [i.value for i in pending] == ["sb?", "sb?"]
    assert pending[0].id != pending[1].id
    with pytest.raises(RuntimeError) as info:
        await graph.ainvoke(Command(resume="plain"), cfg)
    assert str(info.value) == MULTIPLE

    done = await graph.ainvoke(Command(resume={pending[0].id: "x", pending[1].id: "y"}), cfg)
    assert sorted(done["log"]) == sorted(["a", "a", "sa", "sb:x", "a", "sa", "sb:y", "z"])
    assert done["log"][0] == "a"
    assert done["log"][-1] == "z"
    assert calls.as_dict() == {"a": 1, "sa": 2, "sb": 4, "z": 1}


# --- static breakpoints ---------------------------------------------------------------------

BREAKPOINT_CASES = {
    # name: (compile kwargs, call kwargs, first result, next, step, resumed updates)
    "before-b": ({"interrupt_before": ["b"]}, {}, ["a"], ("b",), 1, [{"b"}, {"c"}]),
    "after-b": ({"interrupt_after": ["b"]}, {}, ["a", "b"], ("c",), 2, [{"c"}]),
    "before-*": ({"interrupt_before": "*"}, {}, [], ("a",), 0, [{"a"}, {"__interrupt__"}]),
    "after-*": ({"interrupt_after": "*"}, {}, ["a"], ("b",), 1, [{"b"}, {"__interrupt__"}]),
    "call-before-c": ({}, {"interrupt_before": ["c"]}, ["a", "b"], ("c",), 2, [{"c"}]),
    "call-after-a": ({}, {"interrupt_after": ["a"]}, ["a"], ("b",), 1, [{"b"}, {"c"}]),
}


@pytest.mark.parametrize("case", list(BREAKPOINT_CASES))
async def test_static_breakpoints(saver: BaseCheckpointSaver, case: str) -> None:
    compile_kw, call_kw, first, next_, step, resumed = BREAKPOINT_CASES[case]
    calls = Calls()
    graph = chain(saver, "a", "b", "c", calls=calls, **compile_kw)

    # invoke returns the plain state: no __interrupt__ key for a static breakpoint
    assert await graph.ainvoke({"log": []}, thread("i"), **call_kw) == {"log": first}
    # the updates stream ends with an empty interrupt tuple
    chunks = await collect(graph, {"log": []}, thread("s"), stream_mode="updates", **call_kw)
    assert chunks[-1] == {"__interrupt__": ()}
    assert [next(iter(c)) for c in chunks[:-1]] == first

    for tid in ("i", "s"):
        state = await graph.aget_state(thread(tid))
        assert state.next == next_
        assert state.interrupts == ()
        assert [(t.name, t.interrupts, t.error) for t in state.tasks] == [(next_[0], (), None)]
        assert state.metadata == {"source": "loop", "step": step, "parents": {}}

    # continue with None (stream) and with Command(resume=...) (invoke): same outcome
    again = await collect(graph, None, thread("s"), stream_mode="updates", **call_kw)
    assert [set(c) for c in again] == resumed
    out = await graph.ainvoke(Command(resume="go"), thread("i"), **call_kw)
    assert out == (await graph.aget_state(thread("i"))).values
    assert (await graph.aget_state(thread("i"))).values == (
        await graph.aget_state(thread("s"))
    ).values


async def test_breakpoint_without_checkpointer_stops_silently() -> None:
    graph = chain(None, "a", "b", interrupt_before=["b"])
    assert await graph.ainvoke({"log": []}) == {"log": ["a"]}
    assert await collect(graph, {"log": []}, None, stream_mode="updates") == [
        {"a": {"log": ["a"]}},
        {"__interrupt__": ()},
    ]


async def test_breakpoint_star_walks_the_graph_one_node_at_a_time(
    saver: BaseCheckpointSaver,
) -> None:
    graph = chain(saver, "a", "b", "c", interrupt_before="*")
    cfg = thread("t")
    seen = [await graph.ainvoke({"log": []}, cfg)]
    for _ in range(3):
        seen.append(await graph.ainvoke(None, cfg))
    assert seen == [{"log": []}, {"log": ["a"]}, {"log": ["a", "b"]}, {"log": ["a", "b", "c"]}]
    assert (await graph.aget_state(cfg)).next == ()


# --- the sync API ---------------------------------------------------------------------------


def test_sync_api_interrupt_and_resume(saver: BaseCheckpointSaver) -> None:
    calls = Calls()
    graph = fan_out(
        saver,
        calls,
        {"p1": asker("p1", calls), "p2": asker("p2", calls), "p3": appender("p3", calls)},
    )
    cfg = thread("sync")
    chunks = list(graph.stream({"log": []}, cfg, stream_mode="updates"))
    questions = [i for c in chunks if "__interrupt__" in c for i in c["__interrupt__"]]
    assert sorted(i.value for i in questions) == ["p1?", "p2?"]
    assert graph.get_state(cfg).interrupts == tuple(sorted(questions, key=lambda i: i.value))

    with pytest.raises(RuntimeError) as info:
        graph.invoke(Command(resume="plain"), cfg)
    assert str(info.value) == MULTIPLE
    done = graph.invoke(Command(resume={i.id: i.value.upper() for i in questions}), cfg)
    assert done == {"log": ["a", "p1:P1?", "p2:P2?", "p3", "z"]}
    assert calls["p3"] == 1
    assert calls["a"] == 1
