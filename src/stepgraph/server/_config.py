"""``langgraph.json``: which graphs to serve, where their code lives, what environment.

Accepted as ``langgraph dev`` accepts it: ``graphs`` values are ``"path/to/file.py:attr"``
or ``"package.module:attr"`` (or ``{"path": ..., "description": ...}``); a value with a
``/`` or ending in ``.py`` is a file, resolved against the config file's folder; the
attribute is a compiled graph, a ``StateGraph``, or a factory (a function, optionally
taking the run config, returning either, possibly async or a context manager).
``dependencies`` folders go on ``sys.path``; ``env`` is a dict or a ``.env`` file path.
Other keys (``store``, ``auth``, ``http``, ``python_version``…) are accepted and ignored.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from stepgraph.graph import CompiledStateGraph, StateGraph

__all__ = [
    "ASSISTANT_NAMESPACE",
    "ConfigError",
    "GraphEntry",
    "ServerConfig",
    "assistant_id_for",
    "load_config",
]

#: The reference server's namespace for system assistant ids (not ``uuid.NAMESPACE_URL``).
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def assistant_id_for(graph_id: str) -> str:
    """The system assistant id of ``graph_id``: the same on every server and restart."""
    return str(uuid.uuid5(ASSISTANT_NAMESPACE, graph_id))


class ConfigError(Exception):
    """``langgraph.json`` or a graph it names cannot be loaded; the message says why."""


@attrs.define
class GraphEntry:
    """One served graph: where it comes from and how to get a runnable copy."""

    graph_id: str
    source: str
    description: str | None
    base_dir: Path
    obj: Any = None
    """The loaded attribute (graph, builder or factory)."""
    _static: CompiledStateGraph[Any, Any, Any, Any] | None = None
    _store: Any = None

    @property
    def assistant_id(self) -> str:
        return assistant_id_for(self.graph_id)

    @property
    def is_factory(self) -> bool:
        return self._static is None

    def load(self, checkpointer: Any, store: Any = None) -> None:
        """Import the attribute; compile or copy a static graph with ``checkpointer``
        (and the server's ``store``, which nodes see as ``runtime.store``)."""
        self.obj = _import_attr(self.source, self.base_dir, self.graph_id)
        self._store = store
        static = _as_compiled(self.obj, checkpointer, store)
        if static is None and not callable(self.obj):
            raise ConfigError(
                f"Graph {self.graph_id!r} ({self.source}) is a {type(self.obj).__name__}, not a "
                "compiled graph, a StateGraph or a function returning one"
            )
        self._static = static

    @contextlib.asynccontextmanager
    async def graph(
        self, config: Mapping[str, Any], checkpointer: Any
    ) -> AsyncIterator[CompiledStateGraph[Any, Any, Any, Any]]:
        """A graph to run with ``config``: the static one, or what the factory makes."""
        if self._static is not None:
            yield self._static
            return
        made = await _call_factory(self.obj, dict(config))
        async with contextlib.AsyncExitStack() as stack:
            if hasattr(made, "__aenter__"):
                made = await stack.enter_async_context(made)
            elif hasattr(made, "__enter__") and not hasattr(made, "astream"):
                made = stack.enter_context(made)
            compiled = _as_compiled(made, checkpointer, self._store)
            if compiled is None:
                raise ConfigError(
                    f"The factory of graph {self.graph_id!r} returned a "
                    f"{type(made).__name__}, not a compiled graph or a StateGraph"
                )
            yield compiled


def _as_compiled(
    obj: Any, checkpointer: Any, store: Any = None
) -> CompiledStateGraph[Any, Any, Any, Any] | None:
    if isinstance(obj, StateGraph):
        return obj.compile(checkpointer=checkpointer, store=store)
    if isinstance(obj, CompiledStateGraph):
        # A shallow copy shares the frozen spec; only the saver and store change.
        graph = copy.copy(obj)
        graph.checkpointer = checkpointer
        if store is not None and graph.store is None:
            graph.store = store
        return graph
    return None


async def _call_factory(factory: Any, config: dict[str, Any]) -> Any:
    try:
        params = [
            p
            for p in inspect.signature(factory).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    result = factory(config) if params else factory()
    if inspect.isawaitable(result):
        result = await result
    return result


def _import_attr(source: str, base_dir: Path, graph_id: str) -> Any:
    module_ref, sep, attr = source.rpartition(":")
    if not sep or not module_ref or not attr:
        raise ConfigError(
            f"Graph {graph_id!r}: {source!r} is not 'path/to/file.py:attribute' or "
            "'package.module:attribute'"
        )
    if "/" in module_ref or "\\" in module_ref or module_ref.endswith(".py"):
        path = (base_dir / module_ref).resolve()
        if not path.is_file():
            raise ConfigError(f"Graph {graph_id!r}: file {str(path)!r} does not exist")
        # One module per file, however many graphs it serves.
        name = f"stepgraph_server_graphs_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
        if name in sys.modules:
            return _attr(sys.modules[name], module_ref, attr, graph_id)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"Graph {graph_id!r}: cannot import {str(path)!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    else:
        module = importlib.import_module(module_ref)
    return _attr(module, module_ref, attr, graph_id)


def _attr(module: Any, module_ref: str, attr: str, graph_id: str) -> Any:
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"Graph {graph_id!r}: {module_ref!r} has no attribute {attr!r}") from None


@attrs.frozen
class ServerConfig:
    """A parsed ``langgraph.json``."""

    path: Path
    graphs: tuple[GraphEntry, ...]
    dependencies: tuple[Path, ...]
    env: Mapping[str, str]


def _parse_env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def load_config(path: str | os.PathLike[str]) -> ServerConfig:
    """Read ``langgraph.json``, put its dependencies on ``sys.path`` and load its ``env``
    into ``os.environ`` (without overriding variables already set). Graph code is
    imported later, by :meth:`GraphEntry.load`."""
    from . import _json

    file = Path(path).resolve()
    try:
        data = _json.loads(file.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"No config file at {str(file)!r} (pass --config)") from None
    except ValueError as exc:
        raise ConfigError(f"{str(file)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{str(file)!r} must hold a JSON object")
    base = file.parent
    deps = tuple((base / d).resolve() for d in data.get("dependencies") or () if isinstance(d, str))
    for dep in reversed(deps):
        if dep.is_dir() and str(dep) not in sys.path:
            sys.path.insert(0, str(dep))
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    env_spec = data.get("env") or {}
    env: dict[str, str]
    if isinstance(env_spec, str):
        env_path = (base / env_spec).resolve()
        if not env_path.is_file():
            raise ConfigError(f"env file {str(env_path)!r} does not exist")
        env = _parse_env_file(env_path)
    elif isinstance(env_spec, dict):
        env = {str(k): str(v) for k, v in env_spec.items()}
    else:
        raise ConfigError("'env' must be an object or the path of a .env file")
    for key, value in env.items():
        os.environ.setdefault(key, value)
    graphs_spec = data.get("graphs")
    if not isinstance(graphs_spec, dict) or not graphs_spec:
        raise ConfigError(f"{str(file)!r} has no 'graphs' (an object: graph id -> 'file.py:attr')")
    graphs: list[GraphEntry] = []
    for graph_id, spec in graphs_spec.items():
        description: str | None = None
        source: Any = spec
        if isinstance(spec, dict):
            described = spec.get("description")
            description = str(described) if described is not None else None
            source = spec.get("path")
        if not isinstance(source, str):
            raise ConfigError(f"Graph {graph_id!r}: expected 'file.py:attr', got {source!r}")
        graphs.append(GraphEntry(str(graph_id), source, description, base))
    return ServerConfig(file, tuple(graphs), deps, env)
