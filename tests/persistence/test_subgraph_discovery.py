"""Which graph runs under a node (``_subgraphs.node_graph``): what ``get_state`` uses to
read the state of a graph invoked inside a node function. Pure; no event loop."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from stepgraph._spec import NodeSpec
from stepgraph._subgraphs import graph_at, node_graph
from stepgraph.graph import START, StateGraph

from .graphs import State


def compiled(**kw: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("only", lambda s: {})
    builder.add_edge(START, "only")
    return builder.compile(**kw)


SUB = compiled()


class Holder:
    graph = SUB


class Agent:
    def __init__(self, graph: Any) -> None:
        self.graph = graph

    def run(self, state: State) -> Any:
        return self.graph.invoke(state)

    def __call__(self, state: State) -> Any:
        return self.graph.invoke(state)


def via_global(state: State) -> Any:
    return SUB.invoke(state)


def via_attribute_chain(state: State) -> Any:
    return Holder.graph.invoke(state)


def via_inner_lambda(state: State) -> Any:
    return (lambda s: SUB.invoke(s))(state)


def names_a_graph_only_as_an_attribute(state: Any) -> Any:
    # "SUB" is loaded as an attribute of the state here, never as the global graph
    return state.SUB


def with_closure() -> Any:
    nested = SUB

    async def node(state: State) -> Any:
        return await nested.ainvoke(state)

    return node


def node(fn: Any) -> NodeSpec:
    return NodeSpec("n", fn, None)


@pytest.mark.parametrize(
    "fn",
    [
        via_global,
        via_attribute_chain,
        via_inner_lambda,
        with_closure(),
        Agent(SUB).run,
        Agent(SUB),
        functools.partial(via_global),
    ],
    ids=["global", "attribute", "lambda", "closure", "method", "callable", "partial"],
)
def test_graph_the_node_function_loads_is_found(fn: Any) -> None:
    """A graph the function's code loads (through globals, closure cells, attribute
    chains or its bound object) is the node's nested graph."""
    assert node_graph(node(fn)) is SUB


def test_a_name_that_is_only_an_attribute_finds_nothing() -> None:
    """An attribute load that happens to share a global graph's name is not that graph."""
    assert node_graph(node(names_a_graph_only_as_an_attribute)) is None


def test_a_graph_without_checkpoints_is_not_a_nested_state() -> None:
    """A subgraph compiled with checkpointer=False keeps no state to read (as LangGraph)."""
    builder = StateGraph(State)
    builder.add_node("child", compiled(checkpointer=False))
    builder.add_edge(START, "child")
    assert node_graph(builder.compile().spec.nodes["child"]) is None


def test_graph_at_walks_the_namespace_path() -> None:
    """'child:<id>|grand:<id>' names the grandchild; '' the graph itself; a numbered
    segment (the n-th nested run of one task) names no node."""
    grand = compiled()
    child_builder = StateGraph(State)
    child_builder.add_node("grand", grand)
    child_builder.add_edge(START, "grand")
    host_builder = StateGraph(State)
    child = child_builder.compile()
    host_builder.add_node("child", child)
    host_builder.add_edge(START, "child")
    host = host_builder.compile()
    assert graph_at(host, "") is host
    assert graph_at(host, "child:1|grand:2") is grand
    assert graph_at(host, "child:1|3") is child  # the task's fourth nested run
    with pytest.raises(ValueError, match=r"^checkpoint_ns 'child:1\|only:2' names no subgraph"):
        graph_at(host, "child:1|only:2")
