"""The engine end to end: state schemas, supersteps, routing, Send/Command, joins,
defer, the recursion limit, retries and what ``invoke``/``ainvoke`` return.

Every async test runs on asyncio and on trio. Completion orders are forced with
``anyio.Event``s released by the test (often by the stream consumer itself), never with
sleeps.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Annotated, Any, Union

import anyio
import attrs
import pydantic
import pytest
import trio
import trio.testing
from typing_extensions import TypedDict

from stepgraph import (
    END,
    START,
    Command,
    GraphRecursionError,
    InvalidUpdateError,
    RetryPolicy,
    Send,
    StateGraph,
    interrupt,
)
from stepgraph.errors import EmptyInputError, ParentCommand
from stepgraph.types import Interrupt, Overwrite

pytestmark = pytest.mark.anyio

TROUBLESHOOTING = (
    "\nFor troubleshooting, visit: https://docs.langchain.com/oss/python/langgraph/errors/"
)


def conflict_message(key: str) -> str:
    return (
        f"At key '{key}': Can receive only one value per step. Use an Annotated key to handle "
        f"multiple values.{TROUBLESHOOTING}INVALID_CONCURRENT_GRAPH_UPDATE"
    )


def recursion_message(limit: int) -> str:
    return (
        f"Recursion limit of {limit} reached without hitting a stop condition. You can increase "
        f"the limit by setting the `recursion_limit` config key.{TROUBLESHOOTING}"
        "GRAPH_RECURSION_LIMIT"
    )


class State(TypedDict, total=False):
    x: int
    a: str
    b: str
    log: Annotated[list[Any], operator.add]


def logs(name: str, **extra: Any) -> Callable[[Any], dict[str, Any]]:
    """A sync node that appends its name to ``log`` (and writes ``extra``)."""

    def node(state: Any) -> dict[str, Any]:
        return {"log": [name], **extra}

    node.__name__ = name
    return node


async def collect(stream: Any) -> list[Any]:
    async with stream as chunks:
        return [chunk async for chunk in chunks]


async def drain(stream: Any, into: list[Any]) -> None:
    """Append every chunk of ``stream`` to ``into`` (kept when the run fails)."""
    async with stream as chunks:
        async for chunk in chunks:
            into.append(chunk)


# -- state schemas ------------------------------------------------------------------------


@dataclasses.dataclass
class DCState:
    x: int
    log: Annotated[list[str], operator.add] = dataclasses.field(default_factory=list)
    note: str = "default"


class PydState(pydantic.BaseModel):
    x: int
    log: Annotated[list[str], operator.add] = []
    note: str = "default"


@attrs.define
class AttrsState:
    x: int
    log: Annotated[list[str], operator.add] = attrs.Factory(list)
    note: str = "default"


class TDState(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


@pytest.mark.parametrize("schema", [TDState, DCState, PydState, AttrsState])
async def test_state_schemas_nodes_receive_dicts_or_instances(schema: Any) -> None:
    seen: list[Any] = []

    def bump(state: Any) -> dict[str, Any]:
        seen.append(state)
        x = state["x"] if isinstance(state, dict) else state.x
        return {"x": x + 1, "log": ["bump"]}

    graph = StateGraph(schema).add_node(bump).add_edge(START, "bump").compile()
    assert await graph.ainvoke({"x": 3}) == {"x": 4, "log": ["bump"]}
    (state,) = seen
    if schema is TDState:
        assert state == {"x": 3, "log": []}
    else:
        # an instance built from the channels, schema defaults filled in
        assert state == schema(x=3, log=[], note="default")
    assert await collect(graph.astream({"x": 3}, stream_mode="values")) == [
        {"x": 3, "log": []},
        {"x": 4, "log": ["bump"]},
    ]


async def test_nodes_may_return_an_instance_of_the_schema() -> None:
    def whole(state: DCState) -> DCState:
        return DCState(x=state.x * 10, log=["whole"], note="set")

    graph = StateGraph(DCState).add_node(whole).add_edge(START, "whole").compile()
    assert await graph.ainvoke({"x": 2}) == {"x": 20, "log": ["whole"], "note": "set"}


async def test_pydantic_input_is_validated_for_the_node_but_stored_raw() -> None:
    seen: list[Any] = []

    def keep(state: PydState) -> None:
        seen.append(state.x)

    graph = StateGraph(PydState).add_node(keep).add_edge(START, "keep").compile()
    assert await graph.ainvoke({"x": "7"}) == {"x": "7", "log": []}
    assert seen == [7]
    chunks: list[Any] = []
    with pytest.raises(pydantic.ValidationError):
        await drain(graph.astream({"x": "not-int"}, stream_mode="values"), chunks)
    assert chunks == []  # validation fails before anything is streamed
    assert seen == [7]


class Full(TypedDict, total=False):
    question: str
    scratch: str
    answer: str


class Question(TypedDict):
    question: str


class Answer(TypedDict):
    answer: str


async def test_input_schema_filters_input_and_output_schema_filters_only_invoke() -> None:
    seen: list[Any] = []

    def think(state: Full) -> dict[str, Any]:
        seen.append(dict(state))
        return {"scratch": "s", "answer": "A:" + state["question"]}

    graph = (
        StateGraph(Full, input_schema=Question, output_schema=Answer)
        .add_node(think)
        .add_edge(START, "think")
        .compile()
    )
    assert await graph.ainvoke({"question": "q", "scratch": "x", "answer": "y"}) == {
        "answer": "A:q"
    }
    assert seen == [{"question": "q"}]
    # streamed values and updates are not filtered by the output schema
    assert await collect(
        graph.astream({"question": "q", "scratch": "x"}, stream_mode="values")
    ) == [
        {"question": "q"},
        {"question": "q", "scratch": "s", "answer": "A:q"},
    ]
    assert await collect(graph.astream({"question": "q"}, stream_mode="updates")) == [
        {"think": {"scratch": "s", "answer": "A:q"}}
    ]


async def test_node_input_schema_from_annotation_and_keyword() -> None:
    seen: dict[str, Any] = {}

    def by_annotation(state: Question) -> dict[str, Any]:
        seen["by_annotation"] = dict(state)
        return {"answer": "x"}

    def by_keyword(state: Any) -> dict[str, Any]:
        seen["by_keyword"] = dict(state)
        return {"scratch": "y"}

    graph = (
        StateGraph(Full)
        .add_node(by_annotation)
        .add_node("by_keyword", by_keyword, input_schema=Question)
        .add_edge(START, "by_annotation")
        .add_edge(START, "by_keyword")
        .compile()
    )
    assert await graph.ainvoke({"question": "q", "scratch": "s", "answer": "a"}) == {
        "question": "q",
        "scratch": "y",
        "answer": "x",
    }
    assert seen == {"by_annotation": {"question": "q"}, "by_keyword": {"question": "q"}}


class Private(TypedDict):
    secret: str


async def test_node_input_schema_keys_outside_the_state_become_channels() -> None:
    def writer_node(state: Full) -> dict[str, Any]:
        return {"secret": "s3"}

    def reader(state: Private) -> dict[str, Any]:
        return {"answer": state["secret"]}

    graph = (
        StateGraph(Full)
        .add_node(writer_node)
        .add_node(reader)
        .add_edge(START, "writer_node")
        .add_edge("writer_node", "reader")
        .compile()
    )
    result = await graph.ainvoke({"question": "q"})
    assert result == {"question": "q", "answer": "s3"}


# -- supersteps ---------------------------------------------------------------------------


async def test_parallel_tasks_read_the_snapshot_taken_at_step_start() -> None:
    a_returned = anyio.Event()
    seen: dict[str, Any] = {}

    async def na(state: State) -> dict[str, Any]:
        seen["na"] = dict(state)
        a_returned.set()
        return {"a": "A", "x": 1}

    async def nb(state: State) -> dict[str, Any]:
        await a_returned.wait()
        seen["nb"] = dict(state)
        return {"b": "B"}

    async def after(state: State) -> None:
        seen["after"] = dict(state)

    graph = (
        StateGraph(State)
        .add_node(na)
        .add_node(nb)
        .add_node(after)
        .add_edge(START, "na")
        .add_edge(START, "nb")
        .add_edge(["na", "nb"], "after")
        .compile()
    )
    await graph.ainvoke({"x": 0})
    assert seen["na"] == seen["nb"] == {"x": 0, "log": []}
    assert seen["after"] == {"x": 1, "a": "A", "b": "B", "log": []}


def gated(name: str, gates: dict[str, anyio.Event]) -> Callable[[Any], Any]:
    async def node(state: Any) -> dict[str, Any]:
        await gates[name].wait()
        return {"log": [name]}

    return node


async def test_reducer_order_is_node_name_order_whatever_the_completion_order() -> None:
    order = ["zeta", "mid", "alpha"]
    for completion in (order, order[::-1], ["mid", "zeta", "alpha"]):
        gates = {name: anyio.Event() for name in order}
        builder = StateGraph(State)
        for name in order:  # insertion order zeta, mid, alpha
            builder.add_node(name, gated(name, gates)).add_edge(START, name)
        graph = builder.compile()
        updates: list[str] = []
        final: Any = None
        gates[completion[0]].set()
        async with graph.astream({}, stream_mode=["updates", "values"]) as stream:
            async for mode, chunk in stream:
                if mode == "updates":
                    (name,) = chunk
                    updates.append(name)
                    # the consumer has seen `name` finish: let the next one finish
                    if len(updates) < len(completion):
                        gates[completion[len(updates)]].set()
                else:
                    final = chunk
        assert updates == completion  # updates stream in completion order...
        assert final == {"log": ["alpha", "mid", "zeta"]}  # ...writes apply in name order


async def test_send_writes_apply_in_send_order_after_pull_tasks() -> None:
    count = 12
    gates = {str(i): anyio.Event() for i in range(count)}
    gates["p"] = anyio.Event()

    async def worker(arg: int) -> dict[str, Any]:
        await gates[str(arg)].wait()
        return {"log": [arg]}

    async def p(state: State) -> dict[str, Any]:
        await gates["p"].wait()
        return {"log": ["p"]}

    def fan(state: State) -> list[Any]:
        return [Send("worker", i) for i in range(count)] + ["p"]

    graph = (
        StateGraph(State)
        .add_node("src", logs("src"))
        .add_node("worker", worker)
        .add_node("p", p)
        .add_edge(START, "src")
        .add_conditional_edges("src", fan)
        .compile()
    )
    # completion order: 11, 10, ..., 1, then p, then Send 0 last
    release = [*(str(i) for i in reversed(range(1, count))), "p", "0"]
    gates[release[0]].set()
    seen = 0
    final: Any = None
    async with graph.astream({}, stream_mode=["updates", "values"]) as stream:
        async for mode, chunk in stream:
            if mode == "updates" and "src" not in chunk:
                seen += 1
                if seen < len(release):
                    gates[release[seen]].set()
            elif mode == "values":
                final = chunk
    assert final == {"log": ["src", "p", *range(count)]}


async def test_conflicting_writes_to_a_plain_key_fail_after_updates_streamed() -> None:
    graph = (
        StateGraph(State)
        .add_node("p", logs("p", a="1"))
        .add_node("q", logs("q", a="2"))
        .add_edge(START, "p")
        .add_edge(START, "q")
        .compile()
    )
    chunks: list[Any] = []
    with pytest.raises(InvalidUpdateError) as info:
        await drain(graph.astream({}, stream_mode="updates"), chunks)
    assert str(info.value) == conflict_message("a")
    assert sorted(chunks, key=str) == [
        {"p": {"log": ["p"], "a": "1"}},
        {"q": {"log": ["q"], "a": "2"}},
    ]
    with pytest.raises(InvalidUpdateError) as info:
        await graph.ainvoke({})
    assert str(info.value) == conflict_message("a")


async def test_one_task_writing_a_plain_key_twice_conflicts() -> None:
    def twice(state: State) -> Command[str]:
        return Command(update=[("a", "1"), ("a", "2")])

    graph = StateGraph(State).add_node(twice).add_edge(START, "twice").compile()
    with pytest.raises(InvalidUpdateError) as info:
        await graph.ainvoke({})
    assert str(info.value) == conflict_message("a")


async def test_overwrite_bypasses_the_reducer_in_a_run() -> None:
    def reset(state: State) -> dict[str, Any]:
        return {"log": Overwrite(["reset"])}

    graph = (
        StateGraph(State)
        .add_node("first", logs("first"))
        .add_node(reset)
        .add_edge(START, "first")
        .add_edge("first", "reset")
        .compile()
    )
    assert await graph.ainvoke({"log": ["in"]}) == {"log": ["reset"]}


async def test_input_goes_through_reducers() -> None:
    calls: list[tuple[Any, Any]] = []

    def record(left: list[Any], right: list[Any]) -> list[Any]:
        calls.append((list(left), list(right)))
        return left + right

    graph = (
        StateGraph(_recording_state(record)).add_node("n", logs("x")).add_edge(START, "n").compile()
    )
    assert await graph.ainvoke({"log": ["in"]}) == {"log": ["in", "x"]}
    assert calls == [([], ["in"]), (["in"], ["x"])]


def _recording_state(reducer: Any) -> Any:
    return TypedDict("RecState", {"log": Annotated[list, reducer]})  # type: ignore[operator]


async def test_reducer_without_default_stores_first_write_verbatim() -> None:
    class U(TypedDict, total=False):
        u: Annotated[Union[int, str], operator.add]  # noqa: UP007

    graph = (
        StateGraph(U)
        .add_node("one", lambda s: {"u": "a"})
        .add_node("two", lambda s: {"u": "b"})
        .add_edge(START, "one")
        .add_edge("one", "two")
        .compile()
    )
    chunks = await collect(graph.astream({}, stream_mode="values"))
    assert chunks == [{"u": "a"}, {"u": "ab"}]


# -- routing ----------------------------------------------------------------------------


async def test_router_sees_its_own_nodes_writes_but_not_its_siblings() -> None:
    seen: list[Any] = []

    def router(state: State) -> list[str]:
        seen.append(dict(state))
        return ["x1", "y1"]

    graph = (
        StateGraph(State)
        .add_node("na", logs("na", a="A"))
        .add_node("nb", logs("nb", b="B"))
        .add_node("x1", logs("x1"))
        .add_node("y1", logs("y1"))
        .add_edge(START, "na")
        .add_edge(START, "nb")
        .add_conditional_edges("na", router)
        .compile()
    )
    assert await graph.ainvoke({}) == {"a": "A", "b": "B", "log": ["na", "nb", "x1", "y1"]}
    assert seen == [{"log": ["na"], "a": "A"}]


async def test_conditional_edges_with_path_map_async_router_and_end() -> None:
    async def route(state: State) -> str:
        return "big" if state["x"] > 10 else "small"

    graph = (
        StateGraph(State)
        .add_node("check", logs("check"))
        .add_node("handle_big", logs("handle_big"))
        .add_edge(START, "check")
        .add_conditional_edges("check", route, {"big": "handle_big", "small": END})
        .compile()
    )
    assert await graph.ainvoke({"x": 11}) == {"x": 11, "log": ["check", "handle_big"]}
    assert await graph.ainvoke({"x": 1}) == {"x": 1, "log": ["check"]}


async def test_router_key_missing_from_path_map_raises_key_error() -> None:
    graph = (
        StateGraph(State)
        .add_node("n", logs("n"))
        .add_node("t", logs("t"))
        .add_edge(START, "n")
        .add_conditional_edges("n", lambda s: "zzz", {"k": "t"})
        .compile()
    )
    with pytest.raises(KeyError) as info:
        await graph.ainvoke({})
    assert info.value.args == ("zzz",)


async def test_unknown_destinations_without_path_map_are_ignored() -> None:
    graph = (
        StateGraph(State)
        .add_node("n", logs("n"))
        .add_node("t", logs("t"))
        .add_edge(START, "n")
        .add_conditional_edges("n", lambda s: ["zzz", "t", END, Send("nope", 1)])
        .compile()
    )
    assert await graph.ainvoke({}) == {"log": ["n", "t"]}


async def test_send_to_end_is_an_invalid_update() -> None:
    graph = (
        StateGraph(State)
        .add_node("n", logs("n"))
        .add_edge(START, "n")
        .add_conditional_edges("n", lambda s: Send(END, 1))
        .compile()
    )
    with pytest.raises(InvalidUpdateError) as info:
        await graph.ainvoke({})
    assert str(info.value) == "Cannot send a packet to the END node"


async def test_send_fan_out_passes_the_argument_not_the_state() -> None:
    seen: list[Any] = []

    def worker(arg: Any) -> dict[str, Any]:
        seen.append(arg)
        return {"log": [f"w{arg['i']}"]}

    graph = (
        StateGraph(State)
        .add_node("src", logs("src"))
        .add_node(worker)
        .add_edge(START, "src")
        .add_conditional_edges("src", lambda s: [Send("worker", {"i": i}) for i in range(3)])
        .compile()
    )
    assert await graph.ainvoke({"x": 5}) == {"x": 5, "log": ["src", "w0", "w1", "w2"]}
    assert sorted(seen, key=lambda a: a["i"]) == [{"i": 0}, {"i": 1}, {"i": 2}]


async def test_tasks_mode_shows_send_triggers_and_scheduling_order() -> None:
    graph = (
        StateGraph(State)
        .add_node("src", logs("src"))
        .add_node("w", lambda arg: {"log": [arg]})
        .add_node("p", logs("p"))
        .add_edge(START, "src")
        .add_conditional_edges("src", lambda s: ["p", Send("w", 1), Send("w", 2)])
        .compile()
    )
    chunks = await collect(graph.astream({}, stream_mode="tasks"))
    starts = [(c["name"], c["triggers"], c["input"]) for c in chunks if "triggers" in c]
    # Sends first in send order, then pulled nodes by name
    assert starts == [
        ("src", ("branch:to:src",), {"log": []}),
        ("w", ("__pregel_push",), 1),
        ("w", ("__pregel_push",), 2),
        ("p", ("branch:to:p",), {"log": ["src"]}),
    ]


# -- Command -----------------------------------------------------------------------------


async def test_command_goto_is_additive_to_static_edges() -> None:
    def a(state: State) -> Command[str]:
        return Command(update={"log": ["cmd"]}, goto="c")

    graph = (
        StateGraph(State)
        .add_node(a)
        .add_node("b", logs("b"))
        .add_node("c", logs("c"))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .compile()
    )
    assert await collect(graph.astream({}, stream_mode="updates")) in (
        [{"a": {"log": ["cmd"]}}, {"b": {"log": ["b"]}}, {"c": {"log": ["c"]}}],
        [{"a": {"log": ["cmd"]}}, {"c": {"log": ["c"]}}, {"b": {"log": ["b"]}}],
    )
    assert await graph.ainvoke({}) == {"log": ["cmd", "b", "c"]}


async def test_list_of_commands_and_repeated_keys_in_updates() -> None:
    def a(state: State) -> list[Command[str]]:
        return [Command(update={"log": ["c1"]}), Command(update={"log": ["c2"]}, goto="c")]

    graph = StateGraph(State).add_node(a).add_node("c", logs("c")).add_edge(START, "a").compile()
    assert await collect(graph.astream({}, stream_mode="updates")) == [
        {"a": [{"log": ["c1"]}, {"log": ["c2"]}]},
        {"c": {"log": ["c"]}},
    ]


async def test_routing_only_command_reports_none_and_no_values_chunk() -> None:
    def a(state: State) -> Command[str]:
        return Command(goto="c")

    graph = StateGraph(State).add_node(a).add_node("c", logs("c")).add_edge(START, "a").compile()
    # (the empty input wrote nothing either: no first values chunk, as in LangGraph)
    assert await collect(graph.astream({}, stream_mode=["updates", "values"])) == [
        ("updates", {"a": None}),
        ("updates", {"c": {"log": ["c"]}}),
        ("values", {"log": ["c"]}),
    ]


async def test_command_goto_send() -> None:
    def a(state: State) -> Command[str]:
        return Command(goto=[Send("w", 1), Send("w", 2)])

    graph = (
        StateGraph(State)
        .add_node(a)
        .add_node("w", lambda arg: {"log": [arg]})
        .add_edge(START, "a")
        .compile()
    )
    assert await graph.ainvoke({}) == {"log": [1, 2]}


async def test_command_parent_routes_in_the_parent_graph() -> None:
    def child(state: State) -> Command[str]:
        return Command(graph=Command.PARENT, goto="after", update={"log": ["from child"]})

    sub = StateGraph(State).add_node(child).add_edge(START, "child").compile()
    graph = (
        StateGraph(State)
        .add_node("sub", sub)
        .add_node("after", logs("after"))
        .add_edge(START, "sub")
        .compile()
    )
    # the update is reported under the parent node hosting the subgraph
    assert await collect(graph.astream({}, stream_mode="updates")) == [
        {"sub": {"log": ["from child"]}},
        {"after": {"log": ["after"]}},
    ]
    assert await graph.ainvoke({}) == {"log": ["from child", "after"]}
    with pytest.raises(ParentCommand) as info:
        await sub.ainvoke({})
    assert info.value.command == Command(
        graph=Command.PARENT, goto="after", update={"log": ["from child"]}
    )


async def test_command_as_input_without_checkpointer_runs_from_start() -> None:
    graph = StateGraph(State).add_node("n", logs("n")).add_edge(START, "n").compile()
    assert await graph.ainvoke(Command(update={"x": 1})) == {"x": 1, "log": ["n"]}


# -- joins and defer ----------------------------------------------------------------------


def _two_paths(join: bool) -> Any:
    builder = (
        StateGraph(State)
        .add_node("a", logs("a"))
        .add_node("b1", logs("b1"))
        .add_node("b2", logs("b2"))
        .add_node("c", logs("c"))
        .add_edge(START, "a")
        .add_edge(START, "b1")
        .add_edge("b1", "b2")
    )
    if join:
        builder.add_edge(["a", "b2"], "c")
    else:
        builder.add_edge("a", "c").add_edge("b2", "c")
    return builder.compile()


async def test_two_plain_edges_from_different_steps_run_the_target_twice() -> None:
    assert await _two_paths(join=False).ainvoke({}) == {"log": ["a", "b1", "b2", "c", "c"]}


async def test_join_runs_the_target_once_after_the_last_source() -> None:
    assert await _two_paths(join=True).ainvoke({}) == {"log": ["a", "b1", "b2", "c"]}


async def test_two_plain_edges_from_the_same_step_run_the_target_once() -> None:
    graph = (
        StateGraph(State)
        .add_node("a", logs("a"))
        .add_node("b", logs("b"))
        .add_node("c", logs("c"))
        .add_edge(START, "a")
        .add_edge(START, "b")
        .add_edge("a", "c")
        .add_edge("b", "c")
        .compile()
    )
    assert await graph.ainvoke({}) == {"log": ["a", "b", "c"]}


async def test_deferred_node_runs_when_nothing_else_is_left() -> None:
    graph = (
        StateGraph(State)
        .add_node("a", logs("a"))
        .add_node("b1", logs("b1"))
        .add_node("b2", logs("b2"))
        .add_node("b3", logs("b3"))
        .add_node("end", logs("end"), defer=True)
        .add_edge(START, "a")
        .add_edge(START, "b1")
        .add_edge("b1", "b2")
        .add_edge("b2", "b3")
        .add_edge("a", "end")
        .add_edge("b3", "end")
        .compile()
    )
    assert await graph.ainvoke({}) == {"log": ["a", "b1", "b2", "b3", "end"]}


def _defer_beside_send(d_sends: bool) -> Any:
    builder = (
        StateGraph(State)
        .add_node("a", logs("a"))
        .add_node("b", lambda arg: {"log": [f"b({arg})"]})
        .add_node("d", logs("d"), defer=True)
        .add_edge(START, "a")
        .add_edge("a", "d")
        .add_conditional_edges("a", lambda s: [Send("b", 1)])
    )
    if d_sends:
        builder.add_conditional_edges("d", lambda s: [Send("b", 2)])
    return builder.compile()


async def test_deferred_node_runs_once_beside_send_tasks() -> None:
    # as LangGraph: only Sends are pending after step 1, so d runs in step 2 beside them
    graph = _defer_beside_send(d_sends=False)
    assert await graph.ainvoke({}) == {"log": ["a", "d", "b(1)"]}
    tasks = await collect(graph.astream({}, stream_mode="tasks"))
    assert [c["name"] for c in tasks if "triggers" in c] == ["a", "b", "d"]


async def test_deferred_node_that_sends_runs_once() -> None:
    graph = _defer_beside_send(d_sends=True)
    assert await graph.ainvoke({}, {"recursion_limit": 20}) == {"log": ["a", "d", "b(1)", "b(2)"]}


async def test_conditional_loop_ends_when_router_returns_end() -> None:
    def count(state: State) -> dict[str, Any]:
        return {"x": state.get("x", 0) + 1, "log": [state.get("x", 0)]}

    graph = (
        StateGraph(State)
        .add_node(count)
        .add_edge(START, "count")
        .add_conditional_edges("count", lambda s: END if s["x"] >= 5 else "count")
        .compile()
    )
    assert await graph.ainvoke({}) == {"x": 5, "log": [0, 1, 2, 3, 4]}


# -- recursion limit ----------------------------------------------------------------------


def _chain3() -> Any:
    return (
        StateGraph(State)
        .add_sequence([("a", logs("a")), ("b", logs("b")), ("c", logs("c"))])
        .add_edge(START, "a")
        .compile()
    )


@pytest.mark.parametrize(("limit", "steps"), [(1, 1), (2, 2), (3, 3)])
async def test_recursion_limit_n_allows_exactly_n_steps_then_fails(limit: int, steps: int) -> None:
    chunks: list[Any] = []
    with pytest.raises(GraphRecursionError) as info:
        await drain(
            _chain3().astream({}, {"recursion_limit": limit}, stream_mode="updates"), chunks
        )
    assert isinstance(info.value, RecursionError)
    assert str(info.value) == recursion_message(limit)
    assert [next(iter(c)) for c in chunks] == ["a", "b", "c"][:steps]


async def test_recursion_limit_one_more_than_the_steps_succeeds() -> None:
    assert await _chain3().ainvoke({}, {"recursion_limit": 4}) == {"log": ["a", "b", "c"]}


async def test_default_recursion_limit_is_10007() -> None:
    steps = 0

    async def loop(state: State) -> None:
        nonlocal steps
        steps += 1

    def again(state: State) -> str:
        return "loop"

    graph = (
        StateGraph(State)
        .add_node(loop)
        .add_edge(START, "loop")
        .add_conditional_edges("loop", again)
        .compile()
    )
    with pytest.raises(GraphRecursionError) as info:
        await graph.ainvoke({})
    assert str(info.value) == recursion_message(10007)
    assert steps == 10007


@pytest.mark.parametrize("limit", [0, -1])
async def test_recursion_limit_below_one_is_a_value_error(limit: int) -> None:
    with pytest.raises(ValueError) as info:
        await _chain3().ainvoke({}, {"recursion_limit": limit})
    assert str(info.value) == "recursion_limit must be at least 1"
    assert not isinstance(info.value, GraphRecursionError)


# -- retries ------------------------------------------------------------------------------

NO_WAIT = {"initial_interval": 0.0, "jitter": False}


class Flaky:
    """Fails ``failures`` times with ``error``, then succeeds."""

    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.attempts = 0

    def __call__(self, state: State) -> dict[str, Any]:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.error(f"attempt {self.attempts}")
        return {"x": self.attempts}


async def test_retry_policy_retries_then_succeeds_as_one_task() -> None:
    flaky = Flaky(2)
    graph = (
        StateGraph(State)
        .add_node("f", flaky, retry_policy=RetryPolicy(**NO_WAIT))
        .add_edge(START, "f")
        .compile()
    )
    chunks = await collect(graph.astream({}, stream_mode=["updates", "tasks"]))
    assert flaky.attempts == 3
    # one start event, one result event, one update
    assert [(mode, sorted(c)) for mode, c in chunks] == [
        ("tasks", ["id", "input", "name", "triggers"]),
        ("updates", ["f"]),
        ("tasks", ["error", "id", "interrupts", "name", "result"]),
    ]
    assert chunks[1] == ("updates", {"f": {"x": 3}})


async def test_retry_policy_gives_up_after_max_attempts_with_the_last_error() -> None:
    flaky = Flaky(5)
    graph = (
        StateGraph(State)
        .add_node("f", flaky, retry_policy=RetryPolicy(max_attempts=3, **NO_WAIT))
        .add_edge(START, "f")
        .compile()
    )
    with pytest.raises(ConnectionError) as info:
        await graph.ainvoke({})
    assert str(info.value) == "attempt 3"
    assert flaky.attempts == 3


@pytest.mark.parametrize(
    ("retry_on", "error", "attempts"),
    [
        (KeyError, KeyError, 3),
        ((KeyError, ZeroDivisionError), ZeroDivisionError, 3),
        (lambda exc: isinstance(exc, KeyError), KeyError, 3),
        (KeyError, ConnectionError, 1),
        (lambda exc: False, ConnectionError, 1),
    ],
)
async def test_retry_on_chooses_what_is_retried(
    retry_on: Any, error: type[Exception], attempts: int
) -> None:
    flaky = Flaky(2, error)
    graph = (
        StateGraph(State)
        .add_node("f", flaky, retry_policy=RetryPolicy(retry_on=retry_on, **NO_WAIT))
        .add_edge(START, "f")
        .compile()
    )
    if attempts == 3:
        assert await graph.ainvoke({}) == {"x": 3, "log": []}
    else:
        with pytest.raises(error):
            await graph.ainvoke({})
    assert flaky.attempts == attempts


@pytest.mark.parametrize(
    ("error", "retried"),
    [(ValueError, False), (KeyError, False), (OSError, False), (ConnectionError, True)],
)
async def test_default_retry_on(error: type[Exception], retried: bool) -> None:
    flaky = Flaky(1, error)
    graph = (
        StateGraph(State)
        .add_node("f", flaky, retry_policy=RetryPolicy(**NO_WAIT))
        .add_edge(START, "f")
        .compile()
    )
    if retried:
        assert await graph.ainvoke({}) == {"x": 2, "log": []}
    else:
        with pytest.raises(error):
            await graph.ainvoke({})
    assert flaky.attempts == (2 if retried else 1)


async def test_first_matching_policy_of_a_sequence_applies() -> None:
    flaky = Flaky(3, KeyError)
    graph = (
        StateGraph(State)
        .add_node(
            "f",
            flaky,
            retry_policy=[
                RetryPolicy(retry_on=ValueError, max_attempts=10, **NO_WAIT),
                RetryPolicy(retry_on=KeyError, max_attempts=2, **NO_WAIT),
            ],
        )
        .add_edge(START, "f")
        .compile()
    )
    with pytest.raises(KeyError):
        await graph.ainvoke({})
    assert flaky.attempts == 2


async def test_retried_attempts_writes_are_discarded_and_custom_events_kept() -> None:
    attempts = 0

    def node(state: State, writer: Any) -> Command[str]:
        nonlocal attempts
        attempts += 1
        writer(f"attempt {attempts}")
        if attempts == 1:
            raise ConnectionError("once")
        return Command(update={"log": [attempts]})

    graph = (
        StateGraph(State)
        .add_node("n", node, retry_policy=RetryPolicy(**NO_WAIT))
        .add_edge(START, "n")
        .compile()
    )
    chunks = await collect(graph.astream({}, stream_mode=["custom", "updates"]))
    assert chunks == [
        ("custom", "attempt 1"),
        ("custom", "attempt 2"),
        ("updates", {"n": {"log": [2]}}),
    ]


def test_retry_backoff_waits_on_the_clock_trio_mock_clock() -> None:
    flaky = Flaky(3)
    graph = (
        StateGraph(State)
        .add_node(
            "f",
            flaky,
            retry_policy=RetryPolicy(
                initial_interval=1.0, backoff_factor=3.0, max_interval=5.0, jitter=False
            ),
        )
        .add_edge(START, "f")
        .compile()
    )

    async def main() -> tuple[float, Any]:
        start = trio.current_time()
        with pytest.raises(ConnectionError):
            await graph.ainvoke({})  # max_attempts=3: 3 failures exhaust it
        return trio.current_time() - start, flaky.attempts

    clock = trio.testing.MockClock(autojump_threshold=0)
    elapsed, attempts = anyio.run(main, backend="trio", backend_options={"clock": clock})
    assert attempts == 3
    assert elapsed == pytest.approx(1.0 + 3.0)  # min(5, 1*3**0) + min(5, 1*3**1)

    flaky2 = Flaky(4)
    capped = (
        StateGraph(State)
        .add_node(
            "f",
            flaky2,
            retry_policy=RetryPolicy(
                initial_interval=1.0,
                backoff_factor=3.0,
                max_interval=5.0,
                max_attempts=5,
                jitter=False,
            ),
        )
        .add_edge(START, "f")
        .compile()
    )

    async def main2() -> tuple[float, Any]:
        start = trio.current_time()
        result = await capped.ainvoke({})
        return trio.current_time() - start, result

    clock = trio.testing.MockClock(autojump_threshold=0)
    elapsed, result = anyio.run(main2, backend="trio", backend_options={"clock": clock})
    assert result == {"x": 5, "log": []}
    assert elapsed == pytest.approx(1.0 + 3.0 + 5.0 + 5.0)  # capped at max_interval


def test_retry_delay_formula() -> None:
    policy = RetryPolicy(initial_interval=0.5, backoff_factor=2.0, max_interval=3.0, jitter=False)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    jittered = RetryPolicy(initial_interval=0.5, jitter=True)
    for _ in range(20):
        assert 0.5 <= jittered.delay(1) <= 1.5  # absolute jitter of up to one second


# -- node return values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"), [(5, "5"), ([1], "[1]"), ((1, 2), "(1, 2)"), ("str", "str")]
)
async def test_invalid_node_return_value_message(value: Any, shown: str) -> None:
    graph = StateGraph(State).add_node("n", lambda s: value).add_edge(START, "n").compile()
    with pytest.raises(InvalidUpdateError) as info:
        await graph.ainvoke({})
    assert (
        str(info.value)
        == f"Expected dict, got {shown}{TROUBLESHOOTING}INVALID_GRAPH_NODE_RETURN_VALUE"
    )


async def test_none_and_empty_dict_and_unknown_keys_are_no_ops() -> None:
    graph = (
        StateGraph(State)
        .add_node("none", lambda s: None)
        .add_node("empty", lambda s: {})
        .add_node("unknown", lambda s: {"not_a_key": 1})
        .add_edge(START, "none")
        .add_edge(START, "empty")
        .add_edge(START, "unknown")
        .compile()
    )
    chunks = await collect(graph.astream({"x": 1}, stream_mode=["updates", "values"]))
    assert chunks[0] == ("values", {"x": 1, "log": []})
    assert sorted(map(str, chunks[1:])) == sorted(
        map(
            str,
            [
                ("updates", {"none": None}),
                ("updates", {"empty": None}),
                ("updates", {"unknown": None}),
            ],
        )
    )  # and no values chunk for a step that wrote nothing


# -- invoke / ainvoke return conventions ---------------------------------------------------------


class XY(TypedDict, total=False):
    x: int
    y: int


def _xy_graph() -> Any:
    return (
        StateGraph(XY)
        .add_node("n", lambda s: {"y": 2})
        .add_node("m", lambda s: {"x": 5})
        .add_edge(START, "n")
        .add_edge("n", "m")
        .compile()
    )


async def test_ainvoke_returns_last_values() -> None:
    assert await _xy_graph().ainvoke({"x": 1}) == {"x": 5, "y": 2}


async def test_output_keys_str_and_list() -> None:
    graph = _xy_graph()
    assert await graph.ainvoke({"x": 1}, output_keys="y") == 2
    assert await graph.ainvoke({"x": 1}, output_keys=["y"]) == {"y": 2}
    assert await graph.ainvoke({}, output_keys="x") == 5
    assert await collect(graph.astream({}, stream_mode="values", output_keys="y")) == [2]
    assert await collect(graph.astream({}, stream_mode="updates", output_keys=["y"])) == [
        {"n": {"y": 2}},
        {"m": None},
    ]


async def test_non_values_stream_mode_returns_the_chunk_list() -> None:
    graph = _xy_graph()
    assert await graph.ainvoke({"x": 1}, stream_mode="updates") == [
        {"n": {"y": 2}},
        {"m": {"x": 5}},
    ]
    assert await graph.ainvoke({"x": 1}, stream_mode=["updates"]) == [
        ("updates", {"n": {"y": 2}}),
        ("updates", {"m": {"x": 5}}),
    ]


async def test_invoke_returns_none_when_nothing_was_ever_written() -> None:
    graph = StateGraph(XY).add_node("n", lambda s: None).add_edge(START, "n").compile()
    assert await graph.ainvoke({}) is None
    assert await graph.ainvoke({"x": 1}) == {"x": 1}


async def test_invoke_with_interrupt_returns_interrupt_list() -> None:
    def ask(state: State) -> dict[str, Any]:
        return {"x": interrupt({"q": "?"})}

    graph = (
        StateGraph(State)
        .add_node(ask)
        .add_node("w", logs("w"))
        .add_edge(START, "ask")
        .add_edge(START, "w")
        .compile()
    )
    result = await graph.ainvoke({"x": 1})
    interrupts = result.pop("__interrupt__")
    assert result == {"x": 1, "log": ["w"]}
    assert isinstance(interrupts, list)
    (only,) = interrupts
    assert isinstance(only, Interrupt)
    assert only.value == {"q": "?"}
    assert len(only.id) == 32
    assert all(c in "0123456789abcdef" for c in only.id)


async def test_invoke_none_without_checkpointer_is_empty_input() -> None:
    with pytest.raises(EmptyInputError) as info:
        await _xy_graph().ainvoke(None)
    assert str(info.value) == "Received no input for __start__"
    assert isinstance(info.value, ValueError)


def test_sync_invoke_conventions() -> None:
    graph = _xy_graph()
    assert graph.invoke({"x": 1}) == {"x": 5, "y": 2}
    assert graph.invoke({"x": 1}, output_keys="y") == 2
    assert graph.invoke({"x": 1}, stream_mode="updates") == [{"n": {"y": 2}}, {"m": {"x": 5}}]
    with pytest.raises(EmptyInputError) as info:
        graph.invoke(None)
    assert str(info.value) == "Received no input for __start__"
    assert list(graph.stream({"x": 1})) == [{"n": {"y": 2}}, {"m": {"x": 5}}]  # default: updates
