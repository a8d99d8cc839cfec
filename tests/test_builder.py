"""``StateGraph``: validation messages (word for word LangGraph's) and when they are
raised, chaining, the forms of ``add_node``, ``add_sequence`` and the entry/finish
shortcuts."""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any

import pytest
from typing_extensions import TypedDict

from stepgraph import END, START, CompiledStateGraph, StateGraph


class State(TypedDict, total=False):
    x: int
    log: Annotated[list[str], operator.add]


def a(state: State) -> dict[str, Any]:
    return {"log": ["a"]}


def b(state: State) -> dict[str, Any]:
    return {"log": ["b"]}


def _graph() -> StateGraph[Any, Any, Any, Any]:
    return StateGraph(State).add_node("a", a).add_node("b", b)


# -- add time: add_node -----------------------------------------------------------------


def test_duplicate_node_is_rejected_at_add_time() -> None:
    builder = StateGraph(State).add_node("a", a)
    with pytest.raises(ValueError) as info:
        builder.add_node("a", b)
    assert str(info.value) == "Node `a` already present."
    with pytest.raises(ValueError) as info:
        builder.add_node(a)  # same name from the function
    assert str(info.value) == "Node `a` already present."


@pytest.mark.parametrize("name", [START, END])
def test_reserved_node_names_are_rejected_at_add_time(name: str) -> None:
    with pytest.raises(ValueError) as info:
        StateGraph(State).add_node(name, a)
    assert str(info.value) == f"Node `{name}` is reserved."


@pytest.mark.parametrize(("name", "char"), [("a|b", "|"), ("a:b", ":"), ("|", "|"), (":x", ":")])
def test_reserved_characters_are_rejected_at_add_time(name: str, char: str) -> None:
    with pytest.raises(ValueError) as info:
        StateGraph(State).add_node(name, a)
    assert (
        str(info.value) == f"'{char}' is a reserved character and is not allowed in the node names."
    )


# -- add time: edges ------------------------------------------------------------------


def test_end_as_start_node_is_rejected_at_add_time() -> None:
    with pytest.raises(ValueError) as info:
        _graph().add_edge(END, "a")
    assert str(info.value) == "END cannot be a start node"
    with pytest.raises(ValueError) as info:
        _graph().add_edge([END, "a"], "b")
    assert str(info.value) == "END cannot be a start node"


def test_start_as_end_node_is_rejected_at_add_time() -> None:
    with pytest.raises(ValueError) as info:
        _graph().add_edge("a", START)
    assert str(info.value) == "START cannot be an end node"


@pytest.mark.parametrize(
    ("starts", "end", "missing"),
    [(["a", "nope"], "b", "nope"), (["a", "b"], "nope", "nope"), ([START, "a"], "b", START)],
)
def test_join_with_unknown_nodes_is_rejected_at_add_time(
    starts: list[str], end: str, missing: str
) -> None:
    with pytest.raises(ValueError) as info:
        _graph().add_edge(starts, end)
    assert str(info.value) == f"Need to add_node `{missing}` first"


def test_join_may_end_at_end() -> None:
    graph = _graph().add_edge(START, "a").add_edge(START, "b").add_edge(["a", "b"], END).compile()
    assert graph.invoke({}) == {"log": ["a", "b"]}


def test_conditional_edges_from_end_are_reported_at_compile_time() -> None:
    builder = _graph().add_edge(START, "a").add_conditional_edges(END, lambda s: "a")
    with pytest.raises(ValueError) as info:
        builder.compile()
    assert str(info.value) == "Found edge starting at unknown node '__end__'"


def test_duplicate_branch_name_is_rejected_at_add_time() -> None:
    def route(state: State) -> str:
        return "b"

    builder = _graph().add_conditional_edges("a", route)
    with pytest.raises(ValueError) as info:
        builder.add_conditional_edges("a", route)
    assert str(info.value) == "Branch with name `route` already exists for node `a`"


# -- compile time ---------------------------------------------------------------------


def test_missing_entrypoint_is_reported_at_compile_time() -> None:
    builder = _graph().add_edge("a", "b")  # no error yet
    with pytest.raises(ValueError) as info:
        builder.compile()
    assert str(info.value) == (
        "Graph must have an entrypoint: add at least one edge from START to another node"
    )


def test_unknown_edge_source_is_reported_at_compile_time() -> None:
    builder = _graph().add_edge(START, "a").add_edge("nope", "a")  # accepted for now
    with pytest.raises(ValueError) as info:
        builder.compile()
    assert str(info.value) == "Found edge starting at unknown node 'nope'"


def test_unknown_conditional_edge_source_is_reported_at_compile_time() -> None:
    builder = _graph().add_edge(START, "a").add_conditional_edges("nope", lambda s: "a")
    with pytest.raises(ValueError) as info:
        builder.compile()
    assert str(info.value) == "Found edge starting at unknown node 'nope'"


def test_unknown_source_is_reported_before_missing_entrypoint() -> None:
    builder = _graph().add_edge("nope", "a")
    with pytest.raises(ValueError) as info:
        builder.compile()
    assert str(info.value) == "Found edge starting at unknown node 'nope'"


def test_unknown_edge_target_is_reported_at_compile_time() -> None:
    builder = _graph().add_edge(START, "nope")  # accepted for now
    with pytest.raises(ValueError) as info:
        builder.compile()
    assert str(info.value) == "Found edge ending at unknown node `nope`"


def _route(state: State) -> str:
    return "x"


@pytest.mark.parametrize("path_map", [{"x": "zzz"}, ["zzz"]])
def test_unknown_path_map_target_is_reported_at_compile_time(path_map: Any) -> None:
    builder = _graph().add_edge(START, "a").add_conditional_edges("a", _route, path_map)
    with pytest.raises(ValueError) as info:
        builder.compile()
    assert str(info.value) == "At 'a' node, '_route' branch found unknown target 'zzz'"


def test_lambda_branch_is_named_condition_in_messages() -> None:
    builder = _graph().add_edge(START, "a").add_conditional_edges("a", lambda s: 1, ["zzz"])
    with pytest.raises(ValueError) as info:
        builder.compile()
    assert str(info.value) == "At 'a' node, 'condition' branch found unknown target 'zzz'"


@pytest.mark.parametrize("where", ["interrupt_before", "interrupt_after"])
def test_unknown_interrupt_node_is_reported_at_compile_time(where: str) -> None:
    builder = _graph().add_edge(START, "a")
    with pytest.raises(ValueError) as info:
        builder.compile(**{where: ["a", "nope"]})
    assert str(info.value) == "Interrupt node `nope` not found"
    assert isinstance(builder.compile(**{where: "*"}), CompiledStateGraph)


def test_a_valid_graph_compiles_and_end_targets_are_fine() -> None:
    graph = _graph().add_edge(START, "a").add_edge("a", "b").add_edge("b", END).compile()
    assert isinstance(graph, CompiledStateGraph)
    assert graph.invoke({"x": 1}) == {"x": 1, "log": ["a", "b"]}


# -- chaining and the forms of add_node ---------------------------------------------------


def test_every_builder_method_returns_the_builder() -> None:
    builder = StateGraph(State)

    def route(state: State) -> str:
        return END

    def c(state: State) -> dict[str, Any]:
        return {"log": ["c"]}

    assert builder.add_node("a", a) is builder
    assert builder.add_node(b) is builder
    assert builder.add_sequence([("s1", a), ("s2", b)]) is builder
    assert builder.add_node("c", c) is builder
    assert builder.add_edge(START, "a") is builder
    assert builder.add_edge(["a", "b"], "c") is builder
    assert builder.add_conditional_edges("c", route) is builder
    assert builder.set_entry_point("b") is builder
    assert builder.set_finish_point("s2") is builder
    assert builder.set_conditional_entry_point(lambda s: "s1") is builder
    assert builder.validate() is builder


class Adder:
    """A callable object; the node is named after its class."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __call__(self, state: State) -> dict[str, Any]:
        return {"log": [f"obj:{self.tag}"]}

    def method(self, state: State) -> dict[str, Any]:
        return {"log": [f"method:{self.tag}"]}


def tagged(state: State, tag: str) -> dict[str, Any]:
    return {"log": [f"partial:{tag}"]}


def test_add_node_forms_and_their_names() -> None:
    inner = StateGraph(State).add_node("i", a).add_edge(START, "i").compile(name="inner")
    unnamed = StateGraph(State).add_node("j", b).add_edge(START, "j").compile()
    obj = Adder("o")
    builder = (
        StateGraph(State)
        .add_node(a)
        .add_node("named", b)
        .add_node(inner)
        .add_node(unnamed)
        .add_node(functools.partial(tagged, tag="p"))
        .add_node(obj)
        .add_node(obj.method)
    )
    assert list(builder.nodes) == [
        "a",
        "named",
        "inner",
        "LangGraph",
        "partial",
        "Adder",
        "method",
    ]


def test_every_add_node_form_runs() -> None:
    inner = StateGraph(State).add_node("i", a).add_edge(START, "i").compile(name="inner")
    obj = Adder("o")
    graph = (
        StateGraph(State)
        .add_node("fn", a)
        .add_node("sub", inner)
        .add_node("part", functools.partial(tagged, tag="p"))
        .add_node("obj", obj)
        .add_node("meth", obj.method)
        .add_node("lam", lambda state: {"log": ["lambda"]})
        .add_edge(START, "fn")
        .add_edge(START, "sub")
        .add_edge(START, "part")
        .add_edge(START, "obj")
        .add_edge(START, "meth")
        .add_edge(START, "lam")
        .compile()
    )
    # write order: task path = node name order
    assert graph.invoke({"x": 0}) == {
        "x": 0,
        "log": ["a", "lambda", "method:o", "obj:o", "partial:p", "a"],
    }


def test_add_node_with_a_non_string_name_and_an_action_is_rejected() -> None:
    with pytest.raises(ValueError) as info:
        StateGraph(State).add_node(a, b)
    assert str(info.value) == (
        "add_node(node, action): when `node` is not a string name, pass only the action, "
        "e.g. add_node(my_function)"
    )


def test_add_node_rejects_non_callables() -> None:
    with pytest.raises(TypeError) as info:
        StateGraph(State).add_node("n", 5)
    assert str(info.value) == (
        "add_node('n', ...) expects a function, a callable object or a compiled graph, got int"
    )


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_add_node_rejects_non_positive_timeouts(timeout: float) -> None:
    with pytest.raises(ValueError) as info:
        StateGraph(State).add_node("n", a, timeout=timeout)
    assert str(info.value) == (
        f"add_node('n', timeout={timeout!r}): timeout must be a positive number of seconds"
    )


def test_adding_a_node_after_compile_warns() -> None:
    builder = _graph().add_edge(START, "a")
    builder.compile()
    with pytest.warns(RuntimeWarning, match="already been compiled"):
        builder.add_node("late", a)


# -- add_sequence -----------------------------------------------------------------------


def test_add_sequence_adds_nodes_and_chains_them_without_a_start_edge() -> None:
    obj = Adder("o")
    builder = StateGraph(State).add_sequence([a, ("second", b), obj])
    assert list(builder.nodes) == ["a", "second", "Adder"]
    assert builder.edges == {("a", "second"), ("second", "Adder")}
    with pytest.raises(ValueError) as info:
        builder.compile()
    assert str(info.value) == (
        "Graph must have an entrypoint: add at least one edge from START to another node"
    )
    graph = builder.add_edge(START, "a").compile()
    assert graph.invoke({"x": 1}) == {"x": 1, "log": ["a", "b", "obj:o"]}


def test_add_sequence_of_nothing_is_rejected() -> None:
    with pytest.raises(ValueError) as info:
        StateGraph(State).add_sequence([])
    assert str(info.value) == "Sequence requires at least one node."


@pytest.mark.parametrize("existing", [False, True])
def test_add_sequence_duplicate_names_are_rejected(existing: bool) -> None:
    builder = StateGraph(State)
    if existing:
        builder.add_node(a)
        steps: list[Any] = [a]
    else:
        steps = [a, a]
    with pytest.raises(ValueError) as info:
        builder.add_sequence(steps)
    assert str(info.value) == (
        "Node names must be unique: node with the name 'a' already exists. If you need to use "
        "two different runnables/callables with the same name (for example, using `lambda`), "
        "please provide them as tuples (name, runnable/callable)."
    )


# -- entry and finish points ------------------------------------------------------------


def test_set_entry_point_and_finish_point_are_edges_from_start_and_to_end() -> None:
    builder = StateGraph(State).add_node(a).set_entry_point("a").set_finish_point("a")
    assert builder.edges == {(START, "a"), ("a", END)}
    assert builder.compile().invoke({"x": 1}) == {"x": 1, "log": ["a"]}


def test_set_conditional_entry_point_routes_from_start() -> None:
    seen: list[dict[str, Any]] = []

    def pick(state: State) -> str:
        seen.append(dict(state))
        return "left" if state["x"] < 0 else "right"

    graph = (
        StateGraph(State)
        .add_node("l", a)
        .add_node("r", b)
        .set_conditional_entry_point(pick, {"left": "l", "right": "r"})
        .compile()
    )
    assert set(graph.builder.branches) == {START}
    assert graph.invoke({"x": -1}) == {"x": -1, "log": ["a"]}
    assert graph.invoke({"x": 1}) == {"x": 1, "log": ["b"]}
    # the entry router sees the input already applied (reducer defaults included)
    assert seen == [{"x": -1, "log": []}, {"x": 1, "log": []}]
