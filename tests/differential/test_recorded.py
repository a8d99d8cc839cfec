"""Compare stepgraph with LangGraph outputs recorded in ``expected_langgraph.json``.

Needs no LangGraph: regenerate the file with ``record.py`` under a Python that has
langgraph 1.2.22.  Entries that were not identical over repeated recordings
(``"deterministic": false``) are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .corpus import BUILD_CASES, CASES
from .harness import canonical, run_build, run_case, segment_sizes
from .known_differences import lookup, lookup_build, xfail_marks
from .libs import live_here, load_target, target_name

EXPECTED_PATH = Path(__file__).with_name("expected_langgraph.json")
RECORDING = json.loads(EXPECTED_PATH.read_text(encoding="utf-8"))
EXPECTED = RECORDING["cases"]
EXPECTED_BUILD = RECORDING.get("build", {})

try:
    CANDIDATE = load_target()
except ImportError as exc:  # the engine is still being written
    pytest.skip(f"stepgraph is not importable: {exc!r}", allow_module_level=True)

pytestmark = [pytest.mark.timeout(60)]


def _live_comparison_runs() -> bool:
    """test_differential.py compares with LangGraph itself on this Python (in CI, on one
    Python only): then the recording adds nothing but time."""
    import importlib.util
    import os

    return (
        bool(os.environ.get("CI"))
        and live_here()
        and (importlib.util.find_spec("langgraph") is not None)
    )


if _live_comparison_runs():
    pytest.skip(
        "CI: test_differential.py compares with LangGraph live on this Python",
        allow_module_level=True,
    )


def _params() -> list:
    params = []
    for name in CASES:
        for api in ("sync", "asyncio", "trio"):
            recorded_api = "asyncio" if api == "trio" else api
            recorded = EXPECTED.get(name, {}).get(recorded_api)
            if recorded is None:
                continue  # async cases have no sync recording
            for mode, entry in recorded.items():
                marks = []
                if entry is None:
                    marks.append(pytest.mark.skip(reason="not recorded: run record.py"))
                elif not entry["deterministic"]:
                    marks.append(
                        pytest.mark.skip(reason="LangGraph's output was not deterministic")
                    )
                elif api == "trio" and target_name() == "langgraph":
                    marks.append(pytest.mark.skip(reason="LangGraph's async API is asyncio-only"))
                marks += xfail_marks(lookup(name, api, mode))
                params.append(pytest.param(name, api, mode, id=f"{name}-{api}-{mode}", marks=marks))
    return params


def test_every_case_is_recorded() -> None:
    assert sorted(EXPECTED) == sorted(CASES), "run tests/differential/record.py"
    assert sorted(EXPECTED_BUILD) == sorted(BUILD_CASES), "run tests/differential/record.py"


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=xfail_marks(lookup_build(n))) for n in BUILD_CASES],
)
def test_builder_validation_matches_recording(name: str) -> None:
    if name not in EXPECTED_BUILD:
        pytest.skip("not recorded: run record.py")
    assert run_build(BUILD_CASES[name], CANDIDATE) == EXPECTED_BUILD[name]


@pytest.mark.parametrize(("name", "api", "mode"), _params())
def test_matches_recording(name: str, api: str, mode: str) -> None:
    recorded = EXPECTED[name]["asyncio" if api == "trio" else api]
    expected = recorded[mode]["records"]
    case, records = run_case(CASES[name], CANDIDATE, api, mode)
    if mode in case.racy:
        pytest.skip(f"LangGraph's {mode!r} output is a race for this case")
    sizes = None
    if mode == "updates" and case.parallel:
        sizes = segment_sizes(recorded["updates+values"]["records"])
    got = canonical(case, mode, records, sizes)
    assert got == expected, f"{name} [{api} {mode}]: {CASES[name].__doc__ or ''}"
