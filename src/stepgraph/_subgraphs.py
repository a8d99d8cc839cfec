"""Which compiled graph runs under a node, so that ``get_state`` / ``update_state`` can
read and edit what nested runs checkpoint under the node's task namespace.

A subgraph node names its graph. A graph *invoked inside* a node function is found, as
LangGraph finds it, among the values the function's code loads from outside (closure
cells, globals, attribute chains from those); unlike LangGraph, also through a bound
method's object (``self.graph``).
"""

from __future__ import annotations

import dis
import functools
import inspect
from collections.abc import Iterator
from types import CodeType, FunctionType, MethodType
from typing import TYPE_CHECKING, Any

from ._spec import GraphSpec, NodeSpec

if TYPE_CHECKING:
    from ._compiled import CompiledStateGraph

__all__ = ["graph_at", "nested_nodes", "node_graph"]

_MISSING = object()


def node_graph(node: NodeSpec | None) -> CompiledStateGraph[Any, Any, Any, Any] | None:
    """The graph whose checkpoints live under ``node``'s tasks, if stepgraph can tell."""
    from ._compiled import CompiledStateGraph

    if node is None:
        return None
    if node.subgraph is not None:
        found: Any = node.subgraph
        return found if found.checkpointer is not False else None
    if node.fn is None:
        return None
    for value in _reachable(node.fn):
        # a graph compiled with checkpointer=False keeps no state to show
        if isinstance(value, CompiledStateGraph) and value.checkpointer is not False:
            return value
    return None


def nested_nodes(spec: GraphSpec) -> frozenset[str]:
    """Names of ``spec``'s nodes that run a graph with state of its own."""
    return frozenset(name for name, node in spec.nodes.items() if node_graph(node) is not None)


def graph_at(
    graph: CompiledStateGraph[Any, Any, Any, Any], checkpoint_ns: str
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The (nested) graph that saves under ``checkpoint_ns`` ('' for ``graph`` itself,
    'child:<task id>|grand:<task id>' two levels down)."""
    current = graph
    if not checkpoint_ns:
        return current
    for segment in checkpoint_ns.split("|"):
        if segment.isdigit():  # "host:<id>|1": the host task's second nested run
            continue
        name = segment.split(":", 1)[0]
        sub = node_graph(current.spec.nodes.get(name))
        if sub is None:
            raise ValueError(
                f"checkpoint_ns {checkpoint_ns!r} names no subgraph: graph "
                f"{current.name!r} has no node {name!r} that runs a graph. Pass the "
                "config of a subgraph task, e.g. get_state(config).tasks[i].state"
            )
        current = sub
    return current


def _reachable(fn: Any) -> Iterator[Any]:
    """Values ``fn`` loads from outside itself: captured cells, globals, its bound
    object, and each attribute along a chain it loads from those (``H.g``,
    ``self.graph``); partials, wrappers and callable objects are looked through."""
    seen: set[int] = set()
    stack: list[tuple[Any, Any]] = [(fn, None)]
    while stack:
        f, owner = stack.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        if isinstance(f, functools.partial):
            yield from (*f.args, *f.keywords.values())
            stack.append((f.func, None))
            continue
        if isinstance(f, MethodType):
            owner, f = f.__self__, f.__func__
        try:
            f = inspect.unwrap(f)
        except ValueError:  # a __wrapped__ loop: nothing to look through
            continue
        if isinstance(f, FunctionType):
            yield from _loads(f, owner)
            continue
        call = inspect.getattr_static(type(f), "__call__", None)
        if isinstance(call, FunctionType):  # a callable object: its __call__, bound to it
            stack.append((call, f))


def _loads(f: FunctionType, owner: Any) -> Iterator[Any]:
    code = f.__code__
    cells: dict[str, Any] = {}
    for name, cell in zip(code.co_freevars, f.__closure__ or (), strict=False):
        try:
            cells[name] = cell.cell_contents
        except ValueError:  # an empty cell (a recursive def not bound yet)
            continue
    this = code.co_varnames[0] if owner is not None and code.co_argcount else None
    codes = [code]  # inner defs, lambdas and comprehensions too
    for c in codes:
        codes.extend(k for k in c.co_consts if isinstance(k, CodeType))
        value: Any = _MISSING
        for ins in dis.get_instructions(c):
            if ins.opname == "LOAD_GLOBAL":
                value = f.__globals__.get(ins.argval, _MISSING)
            elif ins.opname == "LOAD_DEREF":
                value = cells.get(ins.argval, _MISSING)
            elif ins.opname == "LOAD_FAST" and c is code and ins.argval == this:
                value = owner
            elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and value is not _MISSING:
                value = inspect.getattr_static(value, ins.argval, _MISSING)
            else:
                value = _MISSING  # anything else ends the chain
            if value is not _MISSING:
                yield value
