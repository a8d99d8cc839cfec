"""Frozen records handed from the builder to the run: the compiled graph's blueprint."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import attrs

from ._inject import CallShape
from ._schema import ChannelSpec
from .types import RetryPolicy

__all__ = ["END", "START", "BranchSpec", "GraphSpec", "JoinSpec", "NodeSpec"]

START = "__start__"
END = "__end__"


@attrs.define(eq=False)
class RouterHistory:
    """What runs of a sync router have shown (the only mutable part of a spec)."""

    slow: bool = False
    """A call on the event loop took longer than ``_execute.SLOW_ROUTER`` seconds: the
    router runs in worker threads from then on."""


@attrs.frozen
class BranchSpec:
    """A conditional edge: ``path(state)`` picks the next nodes (names or ``Send``s)."""

    source: str
    path: Callable[..., Any]
    shape: CallShape
    path_map: Mapping[Hashable, str] | None
    name: str
    history: RouterHistory = attrs.field(factory=RouterHistory, eq=False, repr=False)


@attrs.frozen
class JoinSpec:
    """``add_edge([a, b], c)``: ``c`` runs once after every source has run."""

    sources: frozenset[str]
    target: str
    order: tuple[str, ...] = ()
    """The sources as given to ``add_edge`` (they name the join channel)."""

    @property
    def channel(self) -> str:
        return f"join:{'+'.join(self.order or sorted(self.sources))}:{self.target}"


@attrs.frozen
class NodeSpec:
    """One node: what to call and how."""

    name: str
    fn: Any
    shape: CallShape | None
    """None when the node is a compiled graph (``subgraph``)."""
    subgraph: Any = None
    input_schema: Any = None
    input_keys: tuple[str, ...] | None = None
    """State keys the node receives; None means every state key."""
    retry: tuple[RetryPolicy, ...] = ()
    defer: bool = False
    metadata: Mapping[str, Any] | None = None
    timeout: float | None = None


@attrs.frozen
class GraphSpec:
    """Everything a run needs to know about a graph; never changes after ``compile``."""

    name: str
    state_schema: Any
    input_schema: Any
    output_schema: Any
    context_schema: Any
    channels: Mapping[str, ChannelSpec]
    input_keys: tuple[str, ...]
    output_keys: tuple[str, ...]
    nodes: Mapping[str, NodeSpec]
    edges: Mapping[str, tuple[str, ...]]
    """Plain edges, source → targets (including ``START``)."""
    branches: Mapping[str, tuple[BranchSpec, ...]]
    joins: tuple[JoinSpec, ...]
    joins_by_source: Mapping[str, tuple[JoinSpec, ...]]
    reducer_defaults: Mapping[str, Callable[[], Any]]
    """Keys that exist from the first step on, with their initial value factory."""
    node_triggers: Mapping[str, tuple[str, ...]] = attrs.Factory(dict)
    """Every channel that can start a node, sorted: what its tasks report as their
    ``triggers`` (LangGraph reports them all, not only the ones that fired)."""
    reducers: Mapping[str, Callable[[Any, Any], Any] | None] = attrs.field(
        init=False, eq=False, repr=False
    )
    """State key → its reducer (None for a plain key): derived from ``channels``."""
    input_key_set: frozenset[str] = attrs.field(init=False, eq=False, repr=False)
    """``input_keys`` that are state keys, as a set."""
    solo_pending: dict[Any, Any] = attrs.field(init=False, eq=False, repr=False, factory=dict)
    """Memo of the run side (``_apply.next_pending``): node (or node and the node names
    it routed to) → what runs after it when it ran alone and nothing was deferred or
    waiting at a join."""

    @input_key_set.default
    def _input_key_set(self) -> frozenset[str]:
        return frozenset(k for k in self.input_keys if k in self.channels)

    @reducers.default
    def _reducers(self) -> Mapping[str, Callable[[Any, Any], Any] | None]:
        return {key: channel.reducer for key, channel in self.channels.items()}
