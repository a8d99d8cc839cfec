"""Run every corpus case on LangGraph and on stepgraph and compare the outputs.

Compared per case, API (sync / asyncio / trio) and mode: the ``invoke`` result or
error, and the chunks of ``stream_mode="updates"``, ``"values"`` and
``["updates", "values"]`` (with the error that ended the stream, if any).  stepgraph on
trio is compared with LangGraph on asyncio (LangGraph's async API is asyncio-only).

``STEPGRAPH_DIFF_TARGET=langgraph`` runs the candidate side on LangGraph too: a check of
the corpus and of the harness (every case must then pass, except on trio).
"""

from __future__ import annotations

import sys

import pytest

from .known_differences import lookup, lookup_build, xfail_marks
from .libs import LANGGRAPH_INSTALL_HINT, live_here, load_langgraph, load_target, target_name

pytest.importorskip("langgraph", reason=LANGGRAPH_INSTALL_HINT)
if not live_here():
    pytest.skip(
        "CI compares live with LangGraph on one Python (STEPGRAPH_DIFF_LIVE_PY, default "
        "3.11); here test_recorded.py compares stepgraph with the recording",
        allow_module_level=True,
    )

from .corpus import BUILD_CASES, CASES
from .harness import apis_for, canonical, run_build, run_case, segment_sizes

try:
    CANDIDATE = load_target()
except ImportError as exc:  # the engine is still being written
    pytest.skip(f"stepgraph is not importable: {exc!r}", allow_module_level=True)

REFERENCE = load_langgraph()

pytestmark = [pytest.mark.differential, pytest.mark.timeout(60)]


def _lost_task_context(records: list[dict]) -> bool:
    return any(
        (rec.get("error") or [None, ""])[1].startswith("Called get_config outside")
        for rec in records
    )


def _params() -> list:
    params = []
    for name, fn in CASES.items():
        probe = fn(REFERENCE)  # only read for its flags; every test builds its own
        for api in apis_for(probe):
            for mode in probe.modes():
                marks = []
                if api == "trio" and target_name() == "langgraph":
                    marks.append(pytest.mark.skip(reason="LangGraph's async API is asyncio-only"))
                marks += xfail_marks(lookup(name, api, mode))
                params.append(pytest.param(name, api, mode, id=f"{name}-{api}-{mode}", marks=marks))
    return params


@pytest.mark.parametrize("name", list(CASES))
def test_case_flags(name: str) -> None:
    case = CASES[name](REFERENCE)
    assert case.is_async == name.startswith("async_")
    assert set(apis_for(case)) <= {"sync", "asyncio", "trio"}


@pytest.mark.parametrize(("name", "api", "mode"), _params())
def test_same_as_langgraph(name: str, api: str, mode: str) -> None:
    fn = CASES[name]
    ref_api = "asyncio" if api == "trio" else api
    ref_case, ref_records = run_case(fn, REFERENCE, ref_api, mode)
    if (
        ref_api != "sync"
        and sys.version_info < (3, 11)
        and (
            ref_case.needs_task_context
            or _lost_task_context(ref_records)
            or mode.endswith("@sub")  # nested graphs' chunks are lost without an error
        )
    ):
        pytest.skip(
            "LangGraph on Python < 3.11 asyncio loses the task config (get_config, "
            "get_stream_writer, interrupt fail; langgraph issue #5927); "
            "test_recorded.py compares with the 3.11 recording instead"
        )
    if mode in ref_case.racy:
        pytest.skip(f"LangGraph's {mode!r} output is a race for this case")
    sizes = None
    if mode == "updates" and ref_case.parallel:
        sizes = segment_sizes(run_case(fn, REFERENCE, ref_api, "updates+values")[1])
    expected = canonical(ref_case, mode, ref_records, sizes)

    got_case, got_records = run_case(fn, CANDIDATE, api, mode)
    got = canonical(got_case, mode, got_records, sizes)
    assert got == expected, f"{name} [{api} {mode}]: {ref_case.note or fn.__doc__ or ''}"


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=xfail_marks(lookup_build(n))) for n in BUILD_CASES],
)
def test_builder_validation_same_as_langgraph(name: str) -> None:
    fn = BUILD_CASES[name]
    assert run_build(fn, CANDIDATE) == run_build(fn, REFERENCE)
