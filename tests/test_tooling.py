"""The test machinery itself: both anyio backends and the Hypothesis profiles really apply."""

from __future__ import annotations

import asyncio
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _running_library() -> str:
    """Which event loop is running this coroutine, asked of the loops themselves."""
    import trio

    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        asyncio.get_running_loop()  # raises if neither loop is running
        return "asyncio"
    return "trio"


@pytest.mark.anyio
async def test_anyio_backend_param_is_the_running_loop(anyio_backend: str) -> None:
    assert _running_library() == anyio_backend


def test_every_anyio_test_runs_on_asyncio_and_trio(tmp_path: Path) -> None:
    # One pytest subprocess per conftest would double the cost; distinct dirs share one.
    for suite in ("tests", "property_tests"):
        (tmp_path / suite).mkdir()
        shutil.copy(ROOT / suite / "conftest.py", tmp_path / suite / "conftest.py")
        (tmp_path / suite / f"test_probe_{suite}.py").write_text(
            "import asyncio\nimport pytest\n"
            + inspect.getsource(_running_library)
            + "@pytest.mark.anyio\n"
            "async def test_probe(anyio_backend):\n"
            f"    print('RAN {suite}', anyio_backend, _running_library())\n"
        )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:trio", "-p", "no:cacheprovider",
         "-p", "no:langsmith", "-s", "-q", "-W", "error", "tests", "property_tests"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(re.findall(r"RAN \w+ \w+ \w+", result.stdout)) == [
        "RAN property_tests asyncio asyncio",
        "RAN property_tests trio trio",
        "RAN tests asyncio asyncio",
        "RAN tests trio trio",
    ], result.stdout


def test_hypothesis_profile_follows_env() -> None:
    code = f"""
import os, runpy
from hypothesis import settings
for name in ("", "dev", "ci", "nightly"):
    os.environ["HYPOTHESIS_PROFILE"] = name
    if not name:
        del os.environ["HYPOTHESIS_PROFILE"]
    runpy.run_path({str(ROOT / "property_tests" / "conftest.py")!r})
    s = settings()
    print(name or "-", s.max_examples, s.deadline is not None, s.print_blob, s.derandomize)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "- 50 True False False",
        "dev 50 True False False",
        "ci 100 False True False",
        "nightly 1000 False True False",
    ]


def test_readme_performance_table_is_generated_from_the_results(tmp_path: Path) -> None:
    """``benchmarks/report.py --readme`` rewrites only the text between its markers, from
    the results JSON (the README's numbers are never typed by hand)."""
    import json

    root = Path(__file__).resolve().parents[1]
    results = json.loads((root / "benchmarks" / "RESULTS.json").read_text())
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        import report  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(root / "benchmarks"))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.README_BEGIN}\nstale\n{report.README_END}\noutro\n")
    report.update_readme(readme, results)
    text = readme.read_text()
    assert "stale" not in text
    assert text.startswith(f"intro\n{report.README_BEGIN}\n")
    assert text.endswith(f"{report.README_END}\noutro\n")
    assert f"at git {results['meta']['git']}" in text
    assert "| ≥10× LangGraph | sequential_1000 (asyncio) |" in text
    # and the committed README shows the published run (RESULTS.json, committed)
    committed = (root / "README.md").read_text()
    assert report.readme_section(results) in committed
