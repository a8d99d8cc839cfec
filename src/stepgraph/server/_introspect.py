"""What Studio asks about a graph: its nodes and edges, its JSON schemas, its subgraphs."""

from __future__ import annotations

import typing
from typing import Any

__all__ = ["graph_json", "schemas_json", "subgraphs_json"]

_START, _END = "__start__", "__end__"


def _builder(graph: Any) -> Any:
    return getattr(graph, "builder", None)


def graph_json(graph: Any) -> dict[str, Any]:
    """``{"nodes": [{id, type, data}], "edges": [{source, target, conditional?}]}``."""
    builder = _builder(graph)
    names = list(getattr(graph, "nodes", {}) or {})
    nodes: list[dict[str, Any]] = [{"id": _START, "type": "schema", "data": _START}]
    for name in names:
        nodes.append({"id": name, "type": "runnable", "data": {"id": [name], "name": name}})
    nodes.append({"id": _END, "type": "schema", "data": _END})
    edges: list[dict[str, Any]] = []
    if builder is not None:
        for source, target in sorted(getattr(builder, "edges", ()) or ()):
            edges.append({"source": source, "target": target})
        for sources, target in sorted(getattr(builder, "waiting_edges", ()) or ()):
            for source in sources:
                edges.append({"source": source, "target": target})
        for source, branches in (getattr(builder, "branches", {}) or {}).items():
            for branch in branches.values():
                targets = getattr(branch, "path_map", None)
                ends = list(dict.fromkeys(targets.values())) if targets else [*names, _END]
                for target in ends:
                    if target != source:
                        edges.append({"source": source, "target": target, "conditional": True})
    return {"nodes": nodes, "edges": edges}


def _json_schema(schema: Any) -> Any:
    if schema is None:
        return None
    try:
        from pydantic import TypeAdapter

        out: Any = TypeAdapter(schema).json_schema()
        return out
    except Exception:  # pydantic missing, or a type it cannot describe
        pass
    try:
        hints = typing.get_type_hints(schema)
    except Exception:
        hints = dict(getattr(schema, "__annotations__", {}) or {})
    return {
        "title": getattr(schema, "__name__", "State"),
        "type": "object",
        "properties": {key: {} for key in hints},
    }


def schemas_json(graph_id: str, graph: Any) -> dict[str, Any]:
    builder = _builder(graph)
    state = getattr(builder, "state_schema", None)
    context = getattr(builder, "context_schema", None)
    return {
        "graph_id": graph_id,
        "input_schema": _json_schema(getattr(builder, "input_schema", None) or state),
        "output_schema": _json_schema(getattr(builder, "output_schema", None) or state),
        "state_schema": _json_schema(state),
        "config_schema": None,
        "context_schema": _json_schema(context),
    }


def subgraphs_json(graph: Any, namespace: str | None) -> dict[str, Any]:
    """``{node name: schemas}`` for nodes that are compiled graphs."""
    out: dict[str, Any] = {}
    for name, node in (getattr(graph, "nodes", {}) or {}).items():
        sub = getattr(node, "subgraph", None)
        if sub is None or (namespace is not None and name != namespace):
            continue
        out[name] = schemas_json(name, sub)
    return out
