"""``examples/README.md`` runs as written: its server command serves the example, and
its Python and cURL snippets print what the README says they print (``…`` stands for
ids). Only the port differs: the test server listens on a free one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "examples" / "README.md"
JOKE = ROOT / "examples" / "joke"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(README.read_text())]


def _pairs(lang: str) -> list[tuple[str, str]]:
    """``(snippet, the text block after it)`` for each ``lang`` snippet with an output."""
    blocks = _blocks()
    return [
        (code, blocks[i + 1][1])
        for i, (kind, code) in enumerate(blocks)
        if kind == lang and i + 1 < len(blocks) and blocks[i + 1][0] == "text"
    ]


def _matches(expected: str, actual: str) -> bool:
    pattern = re.escape(expected.strip()).replace("…", ".*?")
    return re.fullmatch(pattern, actual.strip(), re.S) is not None


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The README's ``stepgraph serve`` in ``examples/joke`` (its default ./langgraph.json)."""
    db = tmp_path_factory.mktemp("readme") / "state.sqlite"
    script = Path(sys.executable).parent / "stepgraph"
    command = (
        (str(script), "serve") if script.exists() else (sys.executable, "-m", "stepgraph.server")
    )
    server = ServerProcess(
        request.param, str(db), config=Path("langgraph.json"), cwd=JOKE, command=command
    )
    yield server.url
    assert server.stop() == 0, server.output()


def test_readme_has_the_snippets() -> None:
    kinds = [kind for kind, _ in _blocks()]
    assert kinds.count("python") == 2
    assert kinds.count("bash") == 2
    assert "stepgraph serve" in _blocks()[0][1]


@pytest.mark.parametrize("index", [0, 1])
def test_python_snippets(served: str, index: int) -> None:
    code, expected = _pairs("python")[index]
    code = code.replace("http://127.0.0.1:2024", served)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=JOKE
    )
    assert done.returncode == 0, done.stderr
    assert _matches(expected, done.stdout), done.stdout


def test_curl_snippet(served: str) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    [(code, expected)] = _pairs("bash")
    code = code.replace("http://127.0.0.1:2024", served)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert _matches(expected, done.stdout.replace("\r\n", "\n")), done.stdout
