"""stepgraph (on every saver) against the real LangGraph (its InMemorySaver): the same
persistence scenarios must leave the same observable trace — results, snapshots,
history, stream chunks — up to the spelling of ids. Needs langgraph installed.

Scenarios that still differ are listed in ``differential.PENDING`` (each is a failing
test in pending_bugs.py until the engine is fixed).
"""

from __future__ import annotations

from typing import Any

import pytest

from .differential import (
    PENDING,
    SCENARIOS,
    langgraph_api,
    langgraph_saver,
    normalize,
    stepgraph_api,
)

pytest.importorskip("langgraph")

pytestmark = pytest.mark.differential

PASSING = [name for name in SCENARIOS if name not in PENDING]


def trace(api: Any, saver: Any, name: str, **kwargs: Any) -> Any:
    try:
        return normalize(SCENARIOS[name](api, saver), **kwargs)
    except Exception as exc:  # a raised error is part of the observable behaviour
        return f"raised {type(exc).__name__}: {exc}"


@pytest.mark.parametrize("name", PASSING)
def test_same_trace_as_langgraph(name: str, saver: Any) -> None:
    expected = trace(langgraph_api(), langgraph_saver(), name)
    assert trace(stepgraph_api(), saver, name) == expected
