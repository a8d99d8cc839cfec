"""OPEN engine bugs (B11, B12 and the differential scenarios in
``differential.PENDING``): these tests FAIL today. The file is not collected (no
``test_`` prefix); run it with ``pytest tests/persistence/pending_bugs.py`` and move a
test into its topic file once it passes.

Every test states the expected behaviour (LangGraph 1.2.22's, unless noted) and what
stepgraph does instead. Move a test into its topic file once it passes.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from stepgraph.checkpoint import SerializationError
from stepgraph.checkpoint.base import BaseCheckpointSaver

from .differential import (
    PENDING,
    SCENARIOS,
    langgraph_api,
    langgraph_saver,
    normalize,
    stepgraph_api,
)
from .graphs import Calls, appender, asker, chain, fan_out, history, thread
from .test_serialization import FIX, blob_graph

pytestmark = pytest.mark.anyio


def three_way(saver: Any, calls: Calls) -> Any:
    """a → p1 (asks twice), p2 (asks once), p3 → z."""
    return fan_out(
        saver,
        calls,
        {
            "p1": asker("p1", calls, questions=2),
            "p2": asker("p2", calls),
            "p3": appender("p3", calls),
        },
    )


# --- B1: a resumed task that finished still reads as interrupted ---------------------------


# --- B10: the checkpoints stream (research §3.6) ---------------------------------------------


async def test_b11_unstorable_input_names_the_state_key(saver: BaseCheckpointSaver) -> None:
    """Expected: the same message as for a node writing the value: "Cannot store value of
    type 'lock' at key 'blob': ...". Actual: "... at key '__start__' (found at
    __start__['blob']): ..." (an internal channel name)."""
    graph = blob_graph(saver, lambda s: None)
    with pytest.raises(SerializationError) as info:
        await graph.ainvoke({"log": [], "blob": threading.Lock()}, thread("t"))
    assert str(info.value) == f"Cannot store value of type 'lock' at key 'blob': {FIX}"


# --- B12: an input of the wrong type is saved before it is rejected --------------------------


async def test_b12_bad_input_type_changes_nothing(saver: BaseCheckpointSaver) -> None:
    """Expected (the suite's bad-input rule; LangGraph itself also saves first): a
    non-dict input raises and leaves the thread as it was. Actual: an input checkpoint
    holding 'oops' is saved first, so the paused thread loses its pending task 'b' and
    invoke(None) then raises EmptyInputError (see B6)."""
    graph = chain(saver, "a", "b", interrupt_before=["b"])
    cfg = thread("paused")
    await graph.ainvoke({"log": []}, cfg)
    before = await history(graph, cfg)
    with pytest.raises(ValueError, match=r"^Expected dict as graph input, got 'oops'"):
        await graph.ainvoke("oops", cfg)
    assert await history(graph, cfg) == before
    assert await graph.ainvoke(None, cfg) == {"log": ["a", "b"]}


# --- B13: the __start__ task of an input checkpoint ------------------------------------------


@pytest.mark.differential
@pytest.mark.parametrize("name", sorted(PENDING))
def test_differential_pending(name: str, saver: Any) -> None:
    pytest.importorskip("langgraph")

    def trace(api: Any, store: Any) -> Any:
        try:
            return normalize(SCENARIOS[name](api, store))
        except Exception as exc:
            return f"raised {type(exc).__name__}: {exc}"

    assert trace(stepgraph_api(), saver) == trace(langgraph_api(), langgraph_saver())
