"""OPEN engine bugs (the differential scenarios in
``differential.PENDING``): these tests FAIL today. The file is not collected (no
``test_`` prefix); run it with ``pytest tests/persistence/pending_bugs.py`` and move a
test into its topic file once it passes.

Every test states the expected behaviour (LangGraph 1.2.22's, unless noted) and what
stepgraph does instead. Move a test into its topic file once it passes.
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

pytestmark = pytest.mark.anyio


# --- differential scenarios that still differ -------------------------------------------


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
