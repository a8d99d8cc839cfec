"""``StateGraph``: build a graph, validate it eagerly, ``compile()`` it to a frozen spec."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_args, get_origin

from ._inject import call_shape
from ._schema import channel_specs, is_instance_schema, schema_keys
from ._spec import END, START, BranchSpec, GraphSpec, JoinSpec, NodeSpec
from .types import RetryPolicy

if TYPE_CHECKING:
    from ._compiled import CompiledStateGraph

__all__ = ["StateGraph"]

StateT = TypeVar("StateT")
ContextT = TypeVar("ContextT")
InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")

_RESERVED_CHARS = ("|", ":")


def _node_name(action: Any) -> str:
    if getattr(action, "_is_stepgraph_compiled", False):
        return str(action.name)
    name = getattr(action, "name", None) or getattr(action, "__name__", None)
    if isinstance(name, str):
        return name
    return type(action).__name__


class StateGraph(Generic[StateT, ContextT, InputT, OutputT]):
    """A graph whose nodes read and write a shared state.

    ``state_schema`` (TypedDict, dataclass, pydantic model or attrs class) declares the
    state keys; ``Annotated[T, reducer]`` keys fold writes through ``reducer``.
    Every builder method returns the builder, so calls chain.
    """

    def __init__(
        self,
        state_schema: type[StateT],
        context_schema: type[ContextT] | None = None,
        *,
        input_schema: type[InputT] | None = None,
        output_schema: type[OutputT] | None = None,
        **deprecated: Any,
    ) -> None:
        for old, new in (
            ("input", "input_schema"),
            ("output", "output_schema"),
            ("config_schema", "context_schema"),
        ):
            if old in deprecated:
                warnings.warn(
                    f"StateGraph({old}=...) is deprecated; use {new}=...",
                    DeprecationWarning,
                    stacklevel=2,
                )
                value = deprecated.pop(old)
                if new == "input_schema":
                    input_schema = value
                elif new == "output_schema":
                    output_schema = value
                else:
                    context_schema = value
        if deprecated:
            raise TypeError(f"StateGraph() got unexpected keyword arguments: {sorted(deprecated)}")
        if state_schema is None:
            raise ValueError("StateGraph needs a state schema, e.g. StateGraph(MyState)")
        self.state_schema = state_schema
        self.context_schema = context_schema
        self.input_schema: Any = input_schema or state_schema
        self.output_schema: Any = output_schema or state_schema
        self.nodes: dict[str, NodeSpec] = {}
        self.edges: set[tuple[str, str]] = set()
        self._edge_order: list[tuple[str, str]] = []
        self.waiting_edges: set[tuple[tuple[str, ...], str]] = set()
        self.branches: dict[str, dict[str, BranchSpec]] = {}
        self._extra_schemas: list[Any] = []
        self.compiled = False

    # -- nodes -----------------------------------------------------------------

    def add_node(
        self,
        node: Any,
        action: Any = None,
        *,
        defer: bool = False,
        metadata: Mapping[str, Any] | None = None,
        input_schema: Any = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: Any = None,
        destinations: Any = None,
        timeout: float | timedelta | None = None,
        **kwargs: Any,
    ) -> StateGraph[StateT, ContextT, InputT, OutputT]:
        """Add a node: ``add_node(fn)`` (named after ``fn``) or ``add_node("name", fn)``.

        ``fn`` may be a sync or async function, a partial, a callable object or a
        compiled graph; it takes the state (plus ``config``, ``writer``, ``runtime``
        keyword parameters if it declares them) and returns a dict of updates, a
        ``Command`` or None. ``timeout`` (seconds) bounds each attempt.
        """
        for legacy in ("retry", "input"):
            if legacy in kwargs:
                value = kwargs.pop(legacy)
                if legacy == "retry":
                    retry_policy = value
                else:
                    input_schema = value
        if kwargs:
            raise TypeError(f"add_node() got unexpected keyword arguments: {sorted(kwargs)}")
        if isinstance(node, str):
            name = node
            if action is None:
                raise ValueError(
                    f"add_node({name!r}) needs an action: add_node({name!r}, function)"
                )
        else:
            if action is not None:
                raise ValueError(
                    "add_node(node, action): when `node` is not a string name, pass only the "
                    "action, e.g. add_node(my_function)"
                )
            action = node
            name = _node_name(action)
        if self.compiled:
            warnings.warn(
                "Adding a node to a graph that has already been compiled. This will not be "
                "reflected in the compiled graph.",
                RuntimeWarning,
                stacklevel=2,
            )
        if name in self.nodes:
            raise ValueError(f"Node `{name}` already present.")
        if name in (START, END):
            raise ValueError(f"Node `{name}` is reserved.")
        for ch in _RESERVED_CHARS:
            if ch in name:
                raise ValueError(
                    f"'{ch}' is a reserved character and is not allowed in the node names."
                )
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
        if timeout is not None and not timeout > 0:
            raise ValueError(
                f"add_node({name!r}, timeout={timeout!r}): timeout must be a positive number of seconds"
            )
        if not callable(action) and not getattr(action, "_is_stepgraph_compiled", False):
            raise TypeError(
                f"add_node({name!r}, ...) expects a function, a callable object or a compiled "
                f"graph, got {type(action).__name__}"
            )
        is_graph = bool(getattr(action, "_is_stepgraph_compiled", False))
        shape = None if is_graph else call_shape(action)
        if input_schema is None and shape is not None:
            ann = shape.input_annotation
            if (
                isinstance(ann, type)
                and ann is not self.state_schema
                and (is_instance_schema(ann) or _is_typeddict(ann))
            ):
                input_schema = ann
        if input_schema is not None:
            self._extra_schemas.append(input_schema)
        policies: tuple[RetryPolicy, ...]
        if retry_policy is None:
            policies = ()
        elif isinstance(retry_policy, RetryPolicy):
            policies = (retry_policy,)
        else:
            policies = tuple(retry_policy)
        self.nodes[name] = NodeSpec(
            name=name,
            fn=action,
            shape=shape,
            subgraph=action if is_graph else None,
            input_schema=input_schema,
            input_keys=schema_keys(input_schema) if input_schema is not None else None,
            retry=policies,
            defer=defer,
            metadata=dict(metadata) if metadata else None,
            timeout=timeout,
        )
        return self

    def add_sequence(
        self, nodes: Sequence[Any | tuple[str, Any]]
    ) -> StateGraph[StateT, ContextT, InputT, OutputT]:
        """Add ``nodes`` and chain them with edges, in order (no edge from START)."""
        if len(nodes) < 1:
            raise ValueError("Sequence requires at least one node.")
        previous: str | None = None
        for item in nodes:
            if isinstance(item, tuple):
                name, action = item
            else:
                name, action = _node_name(item), item
            if name in self.nodes:
                raise ValueError(
                    f"Node names must be unique: node with the name '{name}' already exists. "
                    "If you need to use two different runnables/callables with the same name "
                    "(for example, using `lambda`), please provide them as tuples "
                    "(name, runnable/callable)."
                )
            self.add_node(name, action)
            if previous is not None:
                self.add_edge(previous, name)
            previous = name
        return self

    # -- edges -----------------------------------------------------------------

    def add_edge(
        self, start_key: str | Sequence[str], end_key: str
    ) -> StateGraph[StateT, ContextT, InputT, OutputT]:
        """``add_edge("a", "b")``: b runs after each step in which a ran.
        ``add_edge(["a", "b"], "c")``: c runs once after both a and b have run."""
        if isinstance(start_key, str):
            if start_key == END:
                raise ValueError("END cannot be a start node")
            if end_key == START:
                raise ValueError("START cannot be an end node")
            if (start_key, end_key) not in self.edges:
                self._edge_order.append((start_key, end_key))
            self.edges.add((start_key, end_key))
            return self
        starts = tuple(start_key)
        for s in starts:
            if s == END:
                raise ValueError("END cannot be a start node")
            if s not in self.nodes:
                raise ValueError(f"Need to add_node `{s}` first")
        if end_key == START:
            raise ValueError("START cannot be an end node")
        if end_key != END and end_key not in self.nodes:
            raise ValueError(f"Need to add_node `{end_key}` first")
        if not starts:
            raise ValueError("add_edge([], ...) needs at least one start node")
        if len(starts) == 1:
            return self.add_edge(starts[0], end_key)
        self.waiting_edges.add((starts, end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: Mapping[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph[StateT, ContextT, InputT, OutputT]:
        """After ``source`` runs, ``path(state)`` chooses what runs next: a node name,
        ``END``, a list of names, ``Send``s, or a mix. ``path_map`` maps its return
        values to node names (dict) or lists the allowed names."""
        if not callable(path):
            raise TypeError(f"add_conditional_edges({source!r}, path): path must be callable")
        mapping: Mapping[Hashable, str] | None
        if path_map is None:
            mapping = None
        elif isinstance(path_map, Mapping):
            mapping = dict(path_map)
        else:
            mapping = {name: name for name in path_map}
        name = getattr(path, "__name__", None) or type(path).__name__
        if name == "<lambda>":
            name = "condition"
        existing = self.branches.setdefault(source, {})
        if name in existing:
            raise ValueError(f"Branch with name `{name}` already exists for node `{source}`")
        existing[name] = BranchSpec(
            source=source, path=path, shape=call_shape(path), path_map=mapping, name=name
        )
        return self

    def set_entry_point(self, key: str) -> StateGraph[StateT, ContextT, InputT, OutputT]:
        """Same as ``add_edge(START, key)``."""
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self,
        path: Callable[..., Any],
        path_map: Mapping[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph[StateT, ContextT, InputT, OutputT]:
        """Same as ``add_conditional_edges(START, path, path_map)``."""
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> StateGraph[StateT, ContextT, InputT, OutputT]:
        """Same as ``add_edge(key, END)``."""
        return self.add_edge(key, END)

    # -- compile -----------------------------------------------------------------

    def validate(
        self, interrupt: Sequence[str] | None = None
    ) -> StateGraph[StateT, ContextT, InputT, OutputT]:
        """Check the graph; raise ``ValueError`` naming the first problem found."""
        sources = {s for s, _ in self.edges}
        for starts, _ in self.waiting_edges:
            sources.update(starts)
        sources.update(self.branches)
        for s in sorted(sources):
            if s != START and s not in self.nodes:
                raise ValueError(f"Found edge starting at unknown node '{s}'")
        if START not in sources:
            raise ValueError(
                "Graph must have an entrypoint: add at least one edge from START to another node"
            )
        targets = {t for _, t in self.edges} | {t for _, t in self.waiting_edges}
        for t in sorted(targets):
            if t != END and t not in self.nodes:
                raise ValueError(f"Found edge ending at unknown node `{t}`")
        for source, branches in self.branches.items():
            for branch in branches.values():
                if branch.path_map is None:
                    continue
                for target in branch.path_map.values():
                    if target != END and target not in self.nodes:
                        raise ValueError(
                            f"At '{source}' node, '{branch.name}' branch found unknown target '{target}'"
                        )
        if interrupt:
            for name in interrupt:
                if name != "*" and name not in self.nodes:
                    raise ValueError(f"Interrupt node `{name}` not found")
        return self

    def compile(
        self,
        checkpointer: Any = None,
        *,
        cache: Any = None,
        store: Any = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        debug: bool = False,
        name: str | None = None,
    ) -> CompiledStateGraph[StateT, ContextT, InputT, OutputT]:
        """Validate and freeze the graph into a runnable :class:`CompiledStateGraph`.

        ``checkpointer`` persists state per thread (needed to resume interrupts);
        ``interrupt_before`` / ``interrupt_after`` pause around the named nodes (``"*"``
        for all).
        """
        from ._compiled import CompiledStateGraph

        before = _as_names(interrupt_before)
        after = _as_names(interrupt_after)
        self.validate([*before, *after])
        self.compiled = True
        channels = channel_specs(
            self.state_schema, self.input_schema, self.output_schema, *self._extra_schemas
        )
        edges: dict[str, list[str]] = {}
        for s, t in sorted(self.edges):
            edges.setdefault(s, []).append(t)
        joins = tuple(
            JoinSpec(frozenset(starts), target, tuple(starts))
            for starts, target in sorted(self.waiting_edges)
        )
        joins_by_source: dict[str, list[JoinSpec]] = {}
        for join in joins:
            for s in join.sources:
                joins_by_source.setdefault(s, []).append(join)
        spec = GraphSpec(
            name=name or "LangGraph",
            state_schema=self.state_schema,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            context_schema=self.context_schema,
            channels=channels,
            input_keys=schema_keys(self.input_schema),
            output_keys=schema_keys(self.output_schema),
            nodes=dict(self.nodes),
            edges={s: tuple(ts) for s, ts in edges.items()},
            branches={s: tuple(b.values()) for s, b in self.branches.items()},
            joins=joins,
            joins_by_source={s: tuple(js) for s, js in joins_by_source.items()},
            reducer_defaults={
                k: c.default
                for k, c in channels.items()
                if c.reducer is not None and c.default is not None
            },
            node_triggers={
                n: tuple(sorted({f"branch:to:{n}", *(j.channel for j in joins if j.target == n)}))
                for n in self.nodes
            },
        )
        return CompiledStateGraph(
            spec=spec,
            builder=self,
            checkpointer=checkpointer,
            store=store,
            interrupt_before=before,
            interrupt_after=after,
            debug=debug,
        )


def _as_names(value: Sequence[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _is_typeddict(tp: Any) -> bool:
    return (
        isinstance(tp, type)
        and issubclass(tp, dict)
        and hasattr(tp, "__annotations__")
        and hasattr(tp, "__total__")
    )


_ = (get_args, get_origin)
