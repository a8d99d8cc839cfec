"""The ordering contract (README, "The ordering contract"), checked over random layered
graphs with fan-out, Sends, subgraphs, sync and async nodes, random scheduler turns,
on both backends."""

from __future__ import annotations

import itertools
import operator
from typing import Annotated, Any

import anyio
import anyio.lowlevel
from hypothesis import given
from hypothesis import strategies as st
from typing_extensions import TypedDict

from stepgraph import START, Send, StateGraph
from stepgraph.config import get_stream_writer
from strategies import StreamGraphDesc, StreamNodeDesc, stream_delays, stream_graphs


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


def _label_maker() -> Any:
    counter = itertools.count()
    return lambda name: f"{name}#{next(counter)}"


def _writer_node(name: str, chunks: int, turns: list[int], sync: bool, label: Any) -> Any:
    if sync:

        def run_sync(state: Any) -> dict[str, Any]:
            me = label(name)
            write = get_stream_writer()
            for i in range(chunks):
                write({"label": me, "i": i})
            return {"log": [me]}

        return run_sync

    async def run(state: Any) -> dict[str, Any]:
        me = label(name)
        write = get_stream_writer()
        for i in range(chunks):
            for _ in range(turns[i % len(turns)]):
                await anyio.lowlevel.checkpoint()
            write({"label": me, "i": i})
        for _ in range(turns[-1]):
            await anyio.lowlevel.checkpoint()
        return {"log": [me]}

    return run


def build_stream_graph(desc: StreamGraphDesc, turns: dict[str, list[int]]) -> Any:
    label = _label_maker()
    builder = StateGraph(S)

    def node_for(node: StreamNodeDesc) -> Any:
        fn = _writer_node(node.name, node.chunks, turns[node.name], node.sync, label)
        if not node.subgraph:
            return fn
        inner_fn = _writer_node(node.name + "_in", node.chunks, turns[node.name], False, label)
        return (
            StateGraph(S)
            .add_node("first", fn)
            .add_node("second", inner_fn)
            .add_edge(START, "first")
            .add_edge("first", "second")
            .compile()
        )

    previous: list[str] = [START]
    for layer in desc.layers:
        for node in layer:
            builder.add_node(node.name, node_for(node))
        for src in previous:
            for node in layer:
                builder.add_edge(src, node.name)
        previous = [n.name for n in layer]
    if desc.sends:
        first = desc.layers[0][0]
        builder.add_node("sent", _writer_node("sent", 2, [1, 0, 2, 1], False, label))
        builder.add_conditional_edges(
            first.name, lambda s: [Send("sent", {}) for _ in range(desc.sends)]
        )
    return builder.compile()


async def _collect(graph: Any) -> list[dict[str, Any]]:
    parts = []
    async with graph.astream(
        {"log": []}, stream_mode=["updates", "custom", "values"], subgraphs=True, version="v2"
    ) as stream:
        async for part in stream:
            parts.append(part)
    return parts


def _labels_of(update: Any) -> list[str]:
    out: list[str] = []
    for value in (update or {}).values():
        if isinstance(value, dict):
            out.extend(value.get("log") or [])
    return out


def _nested(label: str, parts: list[dict[str, Any]]) -> bool:
    """Whether ``label`` was logged by a node inside a subgraph (first seen nested)."""
    for part in parts:
        if part["type"] == "updates" and label in _labels_of(part["data"]):
            return part["ns"] != ()
    return False


def check_contract(parts: list[dict[str, Any]]) -> None:
    # 5. gap-free sequence numbers
    assert [p["seq"] for p in parts] == list(range(len(parts)))
    segment = 0
    custom_at: dict[str, list[tuple[int, int, int]]] = {}  # label -> (index, i, segment)
    update_at: dict[str, tuple[int, int]] = {}
    for index, part in enumerate(parts):
        if part["type"] == "values" and part["ns"] == ():
            segment += 1
            # 3. a root values chunk follows every update of its step
            logged = set(part["data"]["log"])
            assert all(
                label in logged
                for label, (_, seg) in update_at.items()
                if seg == segment - 1 and "_in#" not in label and not _nested(label, parts)
            )
        elif part["type"] == "custom":
            custom_at.setdefault(part["data"]["label"], []).append(
                (index, part["data"]["i"], segment)
            )
        elif part["type"] == "updates":
            for label in _labels_of(part["data"]):
                update_at.setdefault(label, (index, segment))
    for label, seen in custom_at.items():
        # 1. one task's chunks keep their emission order
        assert [i for _, i, _ in seen] == sorted(i for _, i, _ in seen), label
        # 2. a task's update follows every chunk it emitted; 3. all in one step
        if label in update_at:
            index, seg = update_at[label]
            assert all(ci < index for ci, _, _ in seen), label
            assert all(cs == seg for _, _, cs in seen), label


@given(data=stream_graphs().flatmap(lambda d: stream_delays(d).map(lambda t: (d, t))))
def test_ordering_contract_holds_on_both_backends(
    data: tuple[StreamGraphDesc, dict[str, list[int]]],
) -> None:
    """Per-task order, updates-after-own-chunks and step separation hold for any graph
    and any completion order, and the final state never depends on them (rule 4)."""
    desc, turns = data
    finals = []
    for backend in ("asyncio", "trio"):
        parts = anyio.run(_collect, build_stream_graph(desc, turns), backend=backend)
        check_contract(parts)
        roots = [p for p in parts if p["type"] == "values" and p["ns"] == ()]
        finals.append(sorted(label.split("#")[0] for label in roots[-1]["data"]["log"]))
    assert finals[0] == finals[1]


@given(
    desc=stream_graphs(),
    turns=st.data(),
)
def test_deterministic_mode_gives_one_order(desc: StreamGraphDesc, turns: st.DataObject) -> None:
    """With deterministic=True the chunk sequence (labels aside) is the same for any
    completion order and either backend."""
    orders = []
    for backend in ("asyncio", "trio"):
        delays = turns.draw(stream_delays(desc))
        graph = build_stream_graph(desc, delays)

        async def collect(graph: Any = graph) -> list[Any]:
            out = []
            async with graph.astream(
                {"log": []}, stream_mode=["updates", "custom"], subgraphs=True, deterministic=True
            ) as stream:
                async for ns, mode, chunk in stream:
                    shape = (
                        tuple(n.split(":")[0] for n in ns),
                        mode,
                        chunk["label"].split("#")[0] if mode == "custom" else sorted(chunk),
                    )
                    out.append(shape)
            return out

        orders.append(anyio.run(collect, backend=backend))
    assert orders[0] == orders[1]
