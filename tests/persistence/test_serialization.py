"""Serialization through a graph run, on every saver: an unstorable value fails loudly,
naming the key and the type, and leaves what was saved untouched; pickle is never used
unless the saver's serializer opts in."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import operator
import pickle
import threading
import uuid
from typing import Annotated, Any

import pytest
from typing_extensions import TypedDict

from stepgraph.checkpoint import SerializationError, Serializer
from stepgraph.checkpoint.base import BaseCheckpointSaver
from stepgraph.graph import END, START, StateGraph
from stepgraph.types import Command, interrupt

from .graphs import history, thread

pytestmark = pytest.mark.anyio

FIX = (
    "stepgraph has no encoding for this type; store JSON-compatible data, a "
    "dataclass/attrs/pydantic model, or pass allow_pickle=True "
    "(serde=Serializer(allow_pickle=True); only for storage you trust)"
)


class Blob(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    blob: Any


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Opaque:
    """A plain class: importable, but with no encoding other than pickle."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


def blob_graph(saver: Any, make_blob: Any) -> Any:
    """START → a → b → END; ``b`` writes ``make_blob(state)`` to ``blob`` when not None."""

    async def a(state: Blob) -> dict[str, Any]:
        return {"log": ["a"]}

    async def b(state: Blob) -> dict[str, Any]:
        value = make_blob(state)
        return {"log": ["b"]} if value is None else {"log": ["b"], "blob": value}

    builder = StateGraph(Blob)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    return builder.compile(checkpointer=saver)


def bad_when_asked(state: Blob) -> Any:
    return threading.Lock() if "bad" in state["log"] else None


async def snapshot_of_thread(graph: Any, cfg: dict[str, Any]) -> tuple[Any, ...]:
    return (await graph.aget_state(cfg), await history(graph, cfg))


async def test_unstorable_node_write_names_key_and_type(saver: BaseCheckpointSaver) -> None:
    graph = blob_graph(saver, bad_when_asked)
    cfg = thread("t")
    await graph.ainvoke({"log": ["ok"]}, cfg)
    before = await history(graph, cfg)

    with pytest.raises(SerializationError) as info:
        await graph.ainvoke({"log": ["bad"]}, cfg)
    assert isinstance(info.value, TypeError)
    assert str(info.value) == f"Cannot store value of type 'lock' at key 'blob': {FIX}"

    after = await history(graph, cfg)
    assert after[-len(before) :] == before  # nothing saved earlier changed
    assert all("blob" not in s.values for s in after)
    head = await graph.aget_state(cfg)
    assert head.next == ("b",)  # the thread stops before the step that could not be saved
    assert head.values == {"log": ["ok", "a", "b", "bad", "a"]}

    # the thread stays usable
    assert await graph.ainvoke({"log": ["fine"]}, thread("t2")) == {"log": ["fine", "a", "b"]}


async def test_unstorable_value_in_a_nested_structure_names_its_path(
    saver: BaseCheckpointSaver,
) -> None:
    graph = blob_graph(saver, lambda s: {"ok": [1, 2], "deep": [{"x": threading.Lock()}]})
    with pytest.raises(SerializationError) as info:
        await graph.ainvoke({"log": []}, thread("t"))
    assert str(info.value) == (
        f"Cannot store value of type 'lock' at key 'blob' (found at blob['deep'][0]['x']): {FIX}"
    )


async def test_unstorable_input_fails_before_anything_is_saved(
    saver: BaseCheckpointSaver,
) -> None:
    graph = blob_graph(saver, lambda s: None)
    cfg = thread("t")
    await graph.ainvoke({"log": ["ok"]}, cfg)
    before = await snapshot_of_thread(graph, cfg)

    with pytest.raises(SerializationError) as info:
        await graph.ainvoke({"log": [], "blob": threading.Lock()}, cfg)
    assert str(info.value) == f"Cannot store value of type 'lock' at key 'blob': {FIX}"
    assert await snapshot_of_thread(graph, cfg) == before

    # a fresh thread gets no checkpoint at all
    with pytest.raises(SerializationError):
        await graph.ainvoke({"blob": threading.Lock()}, thread("fresh"))
    assert await history(graph, thread("fresh")) == []


async def test_unstorable_update_state_changes_nothing(saver: BaseCheckpointSaver) -> None:
    graph = blob_graph(saver, lambda s: None)
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    before = await snapshot_of_thread(graph, cfg)
    with pytest.raises(SerializationError) as info:
        await graph.aupdate_state(cfg, {"blob": Opaque(1)})
    assert str(info.value) == f"Cannot store value of type 'Opaque' at key 'blob': {FIX}"
    assert await snapshot_of_thread(graph, cfg) == before


async def test_unstorable_resume_value_changes_nothing(saver: BaseCheckpointSaver) -> None:
    async def ask(state: Blob) -> dict[str, Any]:
        return {"log": [f"ask:{interrupt('q')}"]}

    builder = StateGraph(Blob)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    graph = builder.compile(checkpointer=saver)
    cfg = thread("t")
    await graph.ainvoke({"log": []}, cfg)
    before = await snapshot_of_thread(graph, cfg)

    with pytest.raises(SerializationError) as info:
        await graph.ainvoke(Command(resume=threading.Lock()), cfg)
    assert str(info.value).startswith("Cannot store value of type 'lock' at key '__resume__'")
    assert await snapshot_of_thread(graph, cfg) == before
    assert await graph.ainvoke(Command(resume="fine"), cfg) == {"log": ["ask:fine"]}


async def test_unstorable_interrupt_value_fails_the_run(saver: BaseCheckpointSaver) -> None:
    async def ask(state: Blob) -> dict[str, Any]:
        return {"log": [f"ask:{interrupt(threading.Lock())}"]}

    builder = StateGraph(Blob)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    graph = builder.compile(checkpointer=saver)
    with pytest.raises(SerializationError) as info:
        await graph.ainvoke({"log": []}, thread("t"))
    assert str(info.value).startswith("Cannot store value of type 'lock' at key '__interrupt__'")


# --- no pickle by default ----------------------------------------------------------------------

RICH = {
    "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
    "day": datetime.date(2024, 5, 6),
    "id": uuid.UUID(int=7),
    "amount": decimal.Decimal("1.10"),
    "tags": {"b", "a"},
    "pair": (1, "two"),
    "point": Point(1, 2),
    "raw": b"\x00\x01",
    "big": 2**80,
    "nested": {1: [Point(3, 4), None, 1.5]},
}


def no_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pickle used")

    for name in ("dumps", "loads", "dump", "load"):
        monkeypatch.setattr(pickle, name, refuse)


async def test_rich_state_round_trips_without_pickle(
    saver: BaseCheckpointSaver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert saver.serde.allow_pickle is False
    no_pickle(monkeypatch)
    graph = blob_graph(saver, lambda s: RICH)
    cfg = thread("t")
    assert await graph.ainvoke({"log": []}, cfg) == {"log": ["a", "b"], "blob": RICH}
    state = await graph.aget_state(cfg)
    assert state.values["blob"] == RICH
    assert type(state.values["blob"]["pair"]) is tuple
    assert type(state.values["blob"]["tags"]) is set
    assert [s.values.get("blob") for s in await history(graph, cfg)] == [RICH, None, None, None]


async def test_pickle_is_opt_in_and_never_loaded_by_default(
    make_saver: Any, saver_kind: str
) -> None:
    writer = make_saver(serde=Serializer(allow_pickle=True))
    graph = blob_graph(writer, lambda s: Opaque(5))
    cfg = thread("t")
    assert (await graph.ainvoke({"log": []}, cfg))["blob"] == Opaque(5)
    assert (await graph.aget_state(cfg)).values["blob"] == Opaque(5)

    if saver_kind == "memory":
        writer.serde = Serializer()  # the same store, read without pickle
        reader = writer
    else:
        reader = make_saver()
    assert reader.serde.allow_pickle is False
    with pytest.raises(SerializationError) as info:
        await blob_graph(reader, lambda s: None).aget_state(cfg)
    assert str(info.value) == (
        "Cannot read back the stored value at key 'blob': it was stored with pickle, and "
        "pickle payloads (which run arbitrary code when loaded) are only loaded by a "
        "Serializer created with allow_pickle=True; if you trust this storage, create the "
        "checkpointer with serde=Serializer(allow_pickle=True)"
    )


async def test_b11_unstorable_input_names_the_state_key(saver: BaseCheckpointSaver) -> None:
    """B11: an unstorable value in the input gets the same message as a node writing it:
    "Cannot store value of type 'lock' at key 'blob': ...", naming the state key (not the
    internal '__start__' channel)."""
    graph = blob_graph(saver, lambda s: None)
    with pytest.raises(SerializationError) as info:
        await graph.ainvoke({"log": [], "blob": threading.Lock()}, thread("t"))
    assert str(info.value) == f"Cannot store value of type 'lock' at key 'blob': {FIX}"
