"""Hypothesis strategies for random graphs, and the instrumented graphs they become.

A :class:`GraphDesc` is pure data (hashable, printable in a failing example): nodes,
entry edges, plain edges, joins and routers whose options are node names and ``Send``s.
Every edge points from a lower to a higher node index, so every graph terminates.
:func:`build` turns a description into a compiled ``StateGraph`` whose nodes

* append ``"<name>@<len(log) in their snapshot>"`` (pull tasks) or
  ``"<name>(<send arg>)"`` (Send tasks) to the ``log`` list reducer, add to the
  ``total`` sum reducer, and (pull tasks only) write their own plain key;
* wait a random number of scheduler turns first (``delays``), so tasks finish in a
  different order from run to run without any real time passing;
* record entering and leaving (``finally``) in a :class:`Probe`, to prove cleanup.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import attrs
from hypothesis import strategies as st
from typing_extensions import TypedDict

from stepgraph import START, Send, StateGraph

MAX_NODES = 6
NAMES = tuple(f"n{i}" for i in range(MAX_NODES))

#: the state of every generated graph: two reducers and one plain key per node
GenState = TypedDict(  # type: ignore[misc]
    "GenState",
    {
        "log": Annotated[list[str], operator.add],
        "total": Annotated[int, operator.add],
        **{f"seen_{name}": int for name in NAMES},
    },
    total=False,
)

REDUCERS: dict[str, Any] = {"log": operator.add, "total": operator.add}


class NodeFailed(Exception):
    """Raised by nodes generated with ``fails=True``."""


@attrs.frozen
class NodeDesc:
    name: str
    sync: bool = False
    """Runs in a worker thread."""
    amount: int = 1
    """Added to ``total``."""
    defer: bool = False
    fails: bool = False


@attrs.frozen
class Route:
    """A router option: ``Send(target, arg)`` when ``send`` else the node name."""

    target: int
    send: bool = False
    arg: int = 0


@attrs.frozen
class GraphDesc:
    nodes: tuple[NodeDesc, ...]
    entry: tuple[int, ...]
    edges: tuple[tuple[int, int], ...] = ()
    joins: tuple[tuple[tuple[int, ...], int], ...] = ()
    routers: tuple[tuple[int, tuple[Route, ...]], ...] = ()

    @property
    def send_targets(self) -> frozenset[int]:
        return frozenset(r.target for _, routes in self.routers for r in routes if r.send)


@st.composite
def graphs(draw: st.DrawFn, *, failures: bool = False, allow_sync: bool = True) -> GraphDesc:
    """Random terminating graphs: chains, fan-outs, joins, routers, Sends, defer."""
    n = draw(st.integers(1, MAX_NODES))
    nodes = tuple(
        NodeDesc(
            name=NAMES[i],
            sync=allow_sync and draw(st.booleans()),
            amount=draw(st.integers(0, 5)),
            defer=i > 0 and draw(st.integers(0, 5)) == 0,
            fails=failures and draw(st.integers(0, 4)) == 0,
        )
        for i in range(n)
    )
    entry = tuple(sorted(draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=min(n, 3)))))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    edges = tuple(p for p in pairs if draw(st.integers(0, 2)) == 0)
    joins: list[tuple[tuple[int, ...], int]] = []
    for target in range(2, n):
        if draw(st.integers(0, 3)) == 0:
            sources = draw(st.sets(st.integers(0, target - 1), min_size=2, max_size=3))
            joins.append((tuple(sorted(sources)), target))
    routers: list[tuple[int, tuple[Route, ...]]] = []
    for source in range(n - 1):
        if draw(st.integers(0, 2)) != 0:
            continue
        options = draw(
            st.lists(
                st.builds(
                    Route,
                    target=st.integers(source + 1, n - 1),
                    send=st.booleans(),
                    arg=st.integers(0, 9),
                ),
                min_size=1,
                max_size=4,
            )
        )
        routers.append((source, tuple(options)))
    return GraphDesc(nodes, entry, edges, tuple(joins), tuple(routers))


#: per node name, the number of scheduler turns each successive call waits
Delays = Mapping[str, Sequence[int]]


def delays(desc: GraphDesc, *, max_turns: int = 8) -> st.SearchStrategy[dict[str, list[int]]]:
    """Random per-call delays (in scheduler turns) for every node of ``desc``."""
    return st.fixed_dictionaries(
        {
            node.name: st.lists(st.integers(0, max_turns), min_size=1, max_size=4)
            for node in desc.nodes
        }
    )


graphs_and_delays = graphs().flatmap(lambda g: st.tuples(st.just(g), delays(g)))


@attrs.define
class Probe:
    """What the nodes of one run did (shared between the loop and worker threads)."""

    entered: int = 0
    exited: int = 0
    calls: dict[str, int] = attrs.Factory(dict)
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def enter(self, name: str) -> int:
        with self.lock:
            self.entered += 1
            index = self.calls.get(name, 0)
            self.calls[name] = index + 1
            return index

    def leave(self) -> None:
        with self.lock:
            self.exited += 1


def _route_fn(routes: tuple[Route, ...], names: Sequence[str]) -> Any:
    def route(state: Any) -> list[Any]:
        # a deterministic function of the snapshot plus the node's own writes
        seed = len(state.get("log", ())) + state.get("total", 0)
        chosen: list[Any] = []
        for index, option in enumerate(routes):
            if (seed + index) % 3 == 2:
                continue
            if option.send:
                chosen.append(Send(names[option.target], option.arg))
            else:
                chosen.append(names[option.target])
        return chosen

    return route


def _output(node: NodeDesc, value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and "log" in value:  # a pull task gets the state
        tag = f"{node.name}@{len(value['log'])}"
        return {"log": [tag], "total": node.amount, f"seen_{node.name}": len(value["log"])}
    return {"log": [f"{node.name}({value})"], "total": node.amount}


def _node_fn(node: NodeDesc, probe: Probe, turns: Delays, *, sleep_unit: float | None) -> Any:
    waits = list(turns.get(node.name, (0,))) or [0]

    if node.sync:

        def sync_node(value: Any) -> dict[str, Any]:
            index = probe.enter(node.name)
            try:
                for _ in range(waits[index % len(waits)]):
                    anyio.from_thread.run_sync(lambda: None)  # a hop through the loop
                if node.fails:
                    raise NodeFailed(node.name)
                return _output(node, value)
            finally:
                probe.leave()

        return sync_node

    async def async_node(value: Any) -> dict[str, Any]:
        index = probe.enter(node.name)
        try:
            wait = waits[index % len(waits)]
            if sleep_unit is not None:
                await anyio.sleep(wait * sleep_unit)
            else:
                for _ in range(wait):
                    await anyio.lowlevel.checkpoint()
            if node.fails:
                raise NodeFailed(node.name)
            return _output(node, value)
        finally:
            probe.leave()

    return async_node


def build(
    desc: GraphDesc,
    turns: Delays | None = None,
    probe: Probe | None = None,
    *,
    sleep_unit: float | None = None,
) -> Any:
    """The compiled graph for ``desc``; ``sleep_unit`` makes delays real (mock-clock) sleeps."""
    probe = probe if probe is not None else Probe()
    turns = turns or {}
    names = [n.name for n in desc.nodes]
    builder = StateGraph(GenState)
    for node in desc.nodes:
        builder.add_node(
            node.name, _node_fn(node, probe, turns, sleep_unit=sleep_unit), defer=node.defer
        )
    for i in desc.entry:
        builder.add_edge(START, names[i])
    for i, j in desc.edges:
        builder.add_edge(names[i], names[j])
    for sources, target in desc.joins:
        builder.add_edge([names[i] for i in sources], names[target])
    for source, routes in desc.routers:
        builder.add_conditional_edges(names[source], _route_fn(routes, names))
    return builder.compile()


def fold(state: dict[str, Any], update: Any) -> dict[str, Any]:
    """``state`` after one task's ``updates``-mode value, folded through the reducers."""
    if update is None:
        return state
    parts = update if isinstance(update, list) else [update]
    new = dict(state)
    for part in parts:
        for key, value in part.items():
            if key in REDUCERS and key in new:
                new[key] = REDUCERS[key](new[key], value)
            else:
                new[key] = value
    return new


# -- streaming graphs: nodes that emit custom chunks, some of them subgraphs ----------------


@attrs.frozen
class StreamNodeDesc:
    name: str
    chunks: int
    """How many custom chunks each run of the node writes."""
    subgraph: bool = False
    """The node is a compiled two-node graph (its inner nodes write the chunks)."""
    sync: bool = False


@attrs.frozen
class StreamGraphDesc:
    """Layer 0 fans out from START to every node of layer 1 … (a DAG of layers);
    ``sends`` extra Send tasks go from the first layer to its first node."""

    layers: tuple[tuple[StreamNodeDesc, ...], ...]
    sends: int = 0


@st.composite
def stream_graphs(draw: st.DrawFn) -> StreamGraphDesc:
    """Layered graphs (fan-out, fan-in) whose nodes stream custom chunks; some nodes
    are subgraphs, some run in worker threads, some layers add Send tasks."""
    count = 0
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        layer = []
        for _ in range(draw(st.integers(1, 3))):
            layer.append(
                StreamNodeDesc(
                    name=f"s{count}",
                    chunks=draw(st.integers(0, 3)),
                    subgraph=draw(st.booleans()),
                    sync=draw(st.booleans()),
                )
            )
            count += 1
        layers.append(tuple(layer))
    return StreamGraphDesc(layers=tuple(layers), sends=draw(st.integers(0, 3)))


def stream_delays(desc: StreamGraphDesc) -> st.SearchStrategy[dict[str, list[int]]]:
    """Scheduler turns each node waits before each of its chunks (no real time)."""
    names = [n.name for layer in desc.layers for n in layer]
    return st.fixed_dictionaries(
        {name: st.lists(st.integers(0, 5), min_size=4, max_size=4) for name in names}
    )
