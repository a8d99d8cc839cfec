"""Which compiled graph runs under a node, so that ``get_state`` / ``update_state`` can
read and edit what nested runs checkpoint under the node's task namespace.

A subgraph node names its graph. A graph *invoked inside* a node function is found the
way LangGraph finds it: among the values the function can reach from outside (closure
cells, the globals it names, attributes it loads from those, a bound method's object).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from types import CodeType, FunctionType, ModuleType
from typing import TYPE_CHECKING, Any

from ._spec import NodeSpec

if TYPE_CHECKING:
    from ._compiled import CompiledStateGraph

__all__ = ["graph_at", "node_graph"]

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


def graph_at(
    graph: CompiledStateGraph[Any, Any, Any, Any], checkpoint_ns: str
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The (nested) graph that saves under ``checkpoint_ns`` ('' for ``graph`` itself,
    'child:<task id>|grand:<task id>' two levels down)."""
    current = graph
    if not checkpoint_ns:
        return current
    for segment in checkpoint_ns.split("|"):
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
    """Values ``fn`` can reach: itself and its bound object, captured cells, named
    globals, and attributes named in its code loaded from any of those."""
    seen: set[int] = set()
    found: list[Any] = []
    names: set[str] = set()
    stack = [fn]
    while stack:
        f = stack.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        if isinstance(f, functools.partial):
            stack.append(f.func)
            found.extend((*f.args, *f.keywords.values()))
            continue
        owner = getattr(f, "__self__", None)
        if owner is not None and not isinstance(owner, ModuleType):
            found.append(owner)
        f = inspect.unwrap(getattr(f, "__func__", f))
        if not isinstance(f, FunctionType):
            call = inspect.getattr_static(type(f), "__call__", None)
            if isinstance(call, FunctionType):
                found.append(f)
                stack.append(call)
            continue
        for cell in f.__closure__ or ():
            try:
                found.append(cell.cell_contents)
            except ValueError:  # an empty cell (a recursive def not bound yet)
                continue
        codes = [f.__code__]  # inner defs, lambdas and comprehensions too
        for c in codes:
            codes.extend(k for k in c.co_consts if isinstance(k, CodeType))
        own = sorted({n for c in codes for n in c.co_names})
        found.extend(f.__globals__[n] for n in own if n in f.__globals__)
        names.update(own)
    yield from found
    for value in found:  # one attribute further: self.graph, module.graph
        for name in sorted(names):
            attr = inspect.getattr_static(value, name, _MISSING)
            if attr is not _MISSING:
                yield attr
