"""The public surface: each public module's ``__all__`` is pinned, every name imports,
re-exports are the same objects, and the error hierarchy matches what callers catch."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

PUBLIC: dict[str, list[str]] = {
    "stepgraph": [
        "END",
        "START",
        "Command",
        "CompiledStateGraph",
        "GraphRecursionError",
        "Interrupt",
        "InvalidUpdateError",
        "MessagesState",
        "RetryPolicy",
        "RunnableConfig",
        "Runtime",
        "Send",
        "StateGraph",
        "StepgraphError",
        "StreamWriter",
        "add_messages",
        "get_config",
        "get_runtime",
        "get_stream_writer",
        "interrupt",
    ],
    "stepgraph.graph": [
        "END",
        "START",
        "CompiledStateGraph",
        "MessagesState",
        "StateGraph",
        "add_messages",
    ],
    "stepgraph.types": [
        "All",
        "CachePolicy",
        "Command",
        "Durability",
        "GraphOutput",
        "Interrupt",
        "Overwrite",
        "PregelTask",
        "RetryPolicy",
        "Send",
        "StateSnapshot",
        "StreamMode",
        "StreamPart",
        "StreamWriter",
        "default_retry_on",
        "interrupt",
    ],
    "stepgraph.config": ["RunnableConfig", "get_config", "get_stream_writer"],
    "stepgraph.errors": [
        "EmptyChannelError",
        "EmptyInputError",
        "ErrorCode",
        "GraphInterrupt",
        "GraphRecursionError",
        "InvalidUpdateError",
        "NodeInterrupt",
        "NodeTimeoutError",
        "ParentCommand",
        "SlowRouterWarning",
        "StepgraphError",
        "create_error_message",
    ],
    "stepgraph.runtime": ["Runtime", "get_runtime"],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__all__ == PUBLIC[module_name]


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_every_name_in_all_is_importable(module_name: str) -> None:
    module = importlib.import_module(module_name)
    namespace: dict[str, object] = {}
    exec(f"from {module_name} import *", namespace)
    for name in module.__all__:
        assert hasattr(module, name), name
        assert namespace[name] is getattr(module, name)


def _home(name: str) -> ModuleType:
    """The submodule that owns ``name`` according to the design's surface table."""
    for module_name in ("stepgraph.graph", "stepgraph.types", "stepgraph.config"):
        if name in PUBLIC[module_name]:
            return importlib.import_module(module_name)
    for module_name in ("stepgraph.errors", "stepgraph.runtime"):
        if name in PUBLIC[module_name]:
            return importlib.import_module(module_name)
    raise AssertionError(f"{name} has no public home module")


@pytest.mark.parametrize("name", PUBLIC["stepgraph"])
def test_top_level_names_are_the_submodule_objects(name: str) -> None:
    import stepgraph

    assert getattr(stepgraph, name) is getattr(_home(name), name)


def test_langgraph_module_path_graph_state() -> None:
    from stepgraph.graph import CompiledStateGraph, StateGraph, state

    assert state.StateGraph is StateGraph
    assert state.CompiledStateGraph is CompiledStateGraph


def test_start_and_end_are_langgraphs_strings() -> None:
    from stepgraph import END, START

    assert START == "__start__"
    assert END == "__end__"


def test_error_hierarchy() -> None:
    from stepgraph import errors

    assert issubclass(errors.GraphRecursionError, RecursionError)
    assert issubclass(errors.GraphRecursionError, errors.StepgraphError)
    assert issubclass(errors.InvalidUpdateError, ValueError)
    assert issubclass(errors.InvalidUpdateError, errors.StepgraphError)
    assert issubclass(errors.EmptyInputError, ValueError)
    assert issubclass(errors.EmptyInputError, errors.StepgraphError)
    assert issubclass(errors.NodeTimeoutError, TimeoutError)
    assert issubclass(errors.NodeTimeoutError, errors.StepgraphError)
    assert issubclass(errors.EmptyChannelError, LookupError)
    assert issubclass(errors.NodeInterrupt, errors.GraphInterrupt)
    assert issubclass(errors.StepgraphError, Exception)
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, errors.StepgraphError), name


def test_graph_recursion_error_message() -> None:
    from stepgraph.errors import GraphRecursionError

    err = GraphRecursionError(3)
    assert err.limit == 3
    assert str(err) == (
        "Recursion limit of 3 reached without hitting a stop condition. You can increase the "
        "limit by setting the `recursion_limit` config key.\nFor troubleshooting, visit: "
        "https://docs.langchain.com/oss/python/langgraph/errors/GRAPH_RECURSION_LIMIT"
    )


def test_node_timeout_error_message() -> None:
    from stepgraph.errors import NodeTimeoutError

    err = NodeTimeoutError("slow", 0.05)
    assert (err.node, err.timeout) == ("slow", 0.05)
    assert str(err) == (
        "Node 'slow' did not finish within its timeout of 0.05 seconds. Raise the limit with "
        "add_node('slow', ..., timeout=<seconds>) or make the node faster."
    )
