"""The README's examples run as written (so they cannot rot)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index: int) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", BLOCKS[index]],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_first_screen_example_runs() -> None:
    """The example the README's first command runs streams on trio, asyncio and sync."""
    result = subprocess.run(
        [sys.executable, "-W", "error", str(ROOT / "examples" / "joke_stream.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "--- trio"
    assert "custom {'progress': 'thinking about ice cream and cats'}" in out
    assert out[-1] == (
        "invoke -> {'topic': 'ice cream and cats', 'joke': 'This is a joke about ice cream and cats'}"
    )
