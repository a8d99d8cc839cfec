"""Run seed programs in subprocesses and normalize what they print.

``python tests/seeds/harness.py [ID ...]`` runs examples on every available target and
prints each rewritten program with its stdout and the diffs (used for the report).
"""

from __future__ import annotations

import concurrent.futures
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__:
    from . import extract
else:  # run as a script
    import extract  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "runner.py"
SEPARATOR = "\x1e"
EXPECTED = HERE / "expected_langgraph.json"
TIMEOUT = float(os.environ.get("SEED_EXAMPLE_TIMEOUT", "60"))


@dataclass(frozen=True)
class Target:
    """A library (``stepgraph``/``langgraph``) under one interpreter."""

    name: str
    library: str
    python: str
    async_backend: str = "asyncio"  # what runs the top-level await cells


@dataclass(frozen=True)
class Result:
    cells: tuple[str, ...]  # stdout of each cell that ran
    errors: tuple[str | None, ...]  # traceback of each cell that ran (None: fine)
    stderr: str
    returncode: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and all(e is None for e in self.errors)

    def failure(self) -> str:
        errors = [e for e in self.errors if e]
        return errors[-1] if errors else f"exit status {self.returncode}\n{self.stderr}"

    def cell_ok(self, index: int) -> bool:
        """Cell ``index`` and every cell before it ran without an error."""
        return len(self.errors) > index and all(e is None for e in self.errors[: index + 1])


def interpreter_has(python: str, *modules: str) -> bool:
    if not Path(python).exists():
        return False
    code = "import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))"
    proc = subprocess.run([python, "-c", code, *modules], capture_output=True, timeout=60)
    return proc.returncode == 0


def find_py310() -> str | None:
    """An interpreter for 3.10 runs: the shared one if it has stepgraph, else ours."""
    for python in ("/work/venv310/bin/python", "/work/seedvenv310/bin/python"):
        if interpreter_has(python, "stepgraph", "langchain_core", "pydantic"):
            return python
    return None


def run(program: extract.Program, python: str, async_backend: str = "asyncio") -> Result:
    spec = {
        "cells": [{"source": c.source, "notebook": c.notebook} for c in program.cells],
        "async_backend": async_backend,
    }
    with tempfile.TemporaryDirectory(prefix="seed-") as tmp:
        spec_path = Path(tmp, "spec.json")
        status_path = Path(tmp, "status.json")
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
            "PYTHONIOENCODING": "utf-8",
            "PYTHONHASHSEED": "0",
            # the notebook's setup cell asks for a key unless one is set; nothing uses it
            "OPENAI_API_KEY": "sk-fake-offline",
            "LANGSMITH_TRACING": "false",
            "LANGCHAIN_TRACING_V2": "false",
            "SEED_RUNNER_WATCHDOG": str(TIMEOUT),
        }
        try:
            proc = subprocess.run(
                [python, str(RUNNER), str(spec_path), str(status_path)],
                capture_output=True,
                cwd=tmp,
                env=env,
                timeout=TIMEOUT + 15,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            stderr = (exc.stderr or b"").decode("utf-8", errors="replace")
            return Result((), (f"killed after {TIMEOUT + 15}s\n{stderr}",), stderr, -9)
        status = json.loads(status_path.read_text()) if status_path.exists() else []
    out = proc.stdout.decode("utf-8", errors="replace")
    stderr = proc.stderr.decode("utf-8", errors="replace")
    parts = re.split(f"{SEPARATOR}\\d+{SEPARATOR}", out)
    cells = tuple(parts[: len(status)])
    errors = tuple(s["error"] for s in status)
    if proc.returncode != 0 and all(e is None for e in errors):
        # died outside a cell (the watchdog, a crash): the output of the unfinished cell
        # is the text after the last separator
        cells = (*cells, parts[len(status)] if len(parts) > len(status) else "")
        errors = (*errors, f"exit status {proc.returncode} (watchdog {TIMEOUT}s)\n{stderr}")
    return Result(cells=cells, errors=errors, stderr=stderr, returncode=proc.returncode)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")
_ADDRESS = re.compile(r"\b0x[0-9a-f]{6,}\b")
# Installed package versions LangChain reports in messages metadata.
_LC_VERSIONS = re.compile(r"'lc_versions': \{[^}]*\}")


def normalize(text: str) -> str:
    """Ids become ``<id1>``, ``<id2>``... by first appearance (so an id repeated in the
    output must still be repeated), timestamps ``<ts>``, addresses ``<addr>``, package
    versions in ``lc_versions`` ``<versions>``; trailing
    whitespace of lines and trailing blank lines go."""
    ids: dict[str, str] = {}

    def number(m: re.Match[str]) -> str:
        return ids.setdefault(m[0], f"<id{len(ids) + 1}>")

    text = _UUID.sub(number, text)
    text = _TIMESTAMP.sub("<ts>", text)
    text = _ADDRESS.sub("<addr>", text)
    text = _LC_VERSIONS.sub("'lc_versions': {<versions>}", text)
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")


def diff(expected: str, actual: str, expected_name: str, actual_name: str) -> str:
    return "\n".join(
        difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), expected_name, actual_name, lineterm=""
        )
    )


def reference_python() -> str | None:
    """An interpreter (Python >= 3.11) with LangGraph for the reference runs.

    LangGraph's writer and callbacks in async nodes need 3.11 (the docs say so), so the
    reference never runs on 3.10.  SEED_LANGGRAPH_PYTHON overrides the search.
    """
    candidates = [os.environ.get("SEED_LANGGRAPH_PYTHON", "")]
    if sys.version_info >= (3, 11):
        candidates.append(sys.executable)
    for python in filter(None, candidates):
        if interpreter_has(python, "langgraph", "langchain_core", "pydantic"):
            return python
    return None


def record(path: Path = EXPECTED) -> None:
    """Write LangGraph's normalized stdout of every runnable example to ``path``."""
    python = reference_python()
    if python is None:
        raise SystemExit("no Python >= 3.11 with langgraph: set SEED_LANGGRAPH_PYTHON")
    version = subprocess.run(
        [python, "-c", "import importlib.metadata as m, sys; "
         "print(m.version('langgraph'), m.version('langchain-core'), sys.version.split()[0])"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    inv = extract.load()
    examples: dict[str, str] = {}
    ids = [ex.id for ex in extract.runnable(inv)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = pool.map(lambda i: run(extract.program(inv, i, "langgraph"), python), ids)
    for ex_id, res in zip(ids, results, strict=True):
        if not res.ok:
            raise SystemExit(f"{ex_id} fails on LangGraph:\n{res.failure()}")
        examples[ex_id] = normalize(res.cells[-1])
    data = {
        "langgraph": version[0],
        "langchain-core": version[1],
        "python": version[2],
        "examples": examples,
    }
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"recorded {len(examples)} examples from LangGraph {version[0]} into {path}")


def load_expected(path: Path = EXPECTED) -> dict[str, str]:
    examples: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))["examples"]
    return examples


def _report(ids: Sequence[str]) -> None:
    """Print each example's stepgraph program, its stdout per target and the diffs."""
    inv = extract.load()
    expected = load_expected()
    targets = [Target("stepgraph", "stepgraph", sys.executable)]
    py310 = find_py310()
    if py310:
        targets.append(Target("stepgraph-py310", "stepgraph", py310))
    for ex in extract.runnable(inv):
        if ids and ex.id not in ids:
            continue
        print(f"======== {ex.id}")
        for target in targets:
            prog = extract.program(inv, ex.id, target.library)
            if target.name == "stepgraph":
                print(prog.text())
            res = run(prog, target.python)
            if not res.ok:
                print(f"---- {target.name}: FAILED\n{res.failure()}")
                continue
            out = normalize(res.cells[-1])
            print(f"---- {target.name}: ok\n{out}")
            print(
                diff(expected[ex.id], out, "langgraph (recorded)", target.name)
                or "(same as langgraph)"
            )
            if ex.docs_output is not None:
                print(diff(normalize(ex.docs_output), out, "docs", target.name) or "(same as docs)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--record"]:
        record()
    else:
        _report(sys.argv[1:])
