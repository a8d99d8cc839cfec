"""Crash safety end to end: a process running a multi-step graph over several threads is
SIGKILLed at random points, again and again; a fresh process then resumes every thread
and each one ends in the right state, with nothing that was saved lost.

Children are ``crash_graph_child.py``; the parent orders everything through their stdout
lines (``ready``, ``enter``, ``saved``, ``done``) and by feeding gate lines to their
stdin, never by sleeping. Seeds are printed in failure messages to replay a run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import stepgraph

from .conftest import POSTGRES_SKIP

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")

CHILD = Path(__file__).with_name("crash_graph_child.py")
SRC = Path(stepgraph.__file__).resolve().parents[1]
THREADS = 4
NODES = ("a", "b1", "b2", "b3", "c", "d", "e")
MAX_KILLS = 8


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("PYTHONWARNINGS", None)
    return env


def spawn(mode: str, kind: str, target: str, backend: str, gated: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            mode,
            kind,
            target,
            backend,
            str(THREADS),
            "1" if gated else "0",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=POSTGRES_SKIP)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``(kind, target)``: a SQLite file path or a PostgreSQL URL with a private schema."""
    kind: str = request.param
    if kind == "sqlite":
        yield kind, str(tmp_path / "crash.sqlite")
    else:
        yield kind, request.getfixturevalue("pg_schema_url")


def verify(kind: str, target: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(CHILD), "verify", kind, target, "asyncio", str(THREADS)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def checkpoint_counts(report: dict[str, Any]) -> dict[str, int]:
    return {tid: len(t["history"]) for tid, t in report["threads"].items()}


def stored_ids(report: dict[str, Any]) -> set[str]:
    return {row[3] for t in report["threads"].values() for row in t["history"]}


def integrity(kind: str, target: str) -> list[tuple[str]] | None:
    if kind != "sqlite":
        return None
    conn = sqlite3.connect(target)
    try:
        rows: list[tuple[str]] = conn.execute("PRAGMA integrity_check").fetchall()
        return rows
    finally:
        conn.close()


def run_and_kill(
    proc: subprocess.Popen[str], rng: random.Random, seed: int
) -> tuple[list[str], bool]:
    """Let ``proc`` through a random number of node gates, SIGKILL it as soon as the last
    one opened (so the kill lands while that node and its siblings finish and save), and
    return every stdout line it wrote plus whether it had already finished everything."""
    assert proc.stdin is not None
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip()]
    assert lines == ["ready"], (seed, lines, proc.stderr.read() if proc.stderr else "")
    gates = rng.randint(1, THREADS * len(NODES) - 1)  # never enough for every node
    proc.stdin.write("go\n" * gates)
    proc.stdin.flush()
    entered = 0
    finished = False
    while True:
        line = proc.stdout.readline()
        if not line:  # it ended on its own
            finished = True
            break
        line = line.strip()
        lines.append(line)
        if line == "done":
            finished = True
            break
        if line.startswith("enter "):
            entered += 1
            if entered >= gates:
                break  # the last gate is open: kill while that node runs and saves
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    lines.extend(out.splitlines())  # printed before the kill: those saves happened
    if not finished:
        assert proc.returncode == -signal.SIGKILL, (seed, proc.returncode, err)
    else:
        assert proc.returncode in (0, -signal.SIGKILL), (seed, proc.returncode, err)
    return lines, finished or "done" in lines


@pytest.mark.timeout(300)
def test_sigkilled_runs_resume_to_the_right_state(store: tuple[str, str]) -> None:
    kind, target = store
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    saved: dict[str, str] = {}  # checkpoint id -> thread, as reported committed
    counts = dict.fromkeys((f"crash-{i}" for i in range(THREADS)), 0)
    kills = 0
    for round_ in range(MAX_KILLS):
        proc = spawn("run", kind, target, ("asyncio", "trio")[round_ % 2], gated=True)
        lines, finished = run_and_kill(proc, rng, seed)
        for line in lines:
            if line.startswith("saved "):
                _, tid, cid, _ = line.split()
                saved[cid] = tid
        report = verify(kind, target)
        now = checkpoint_counts(report)
        assert all(now[t] >= counts[t] for t in counts), (seed, round_, counts, now)
        counts = now
        missing = set(saved) - stored_ids(report)
        assert not missing, (seed, round_, missing)
        assert integrity(kind, target) in (None, [("ok",)]), seed
        if finished:
            break
        kills += 1

    # a fresh process, not gated, finishes every thread
    final = spawn("run", kind, target, "trio", gated=False)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, (seed, err)
    assert out.splitlines()[-1] == "done", (seed, out, err)

    report = verify(kind, target)
    assert not set(saved) - stored_ids(report), seed
    now = checkpoint_counts(report)
    assert all(now[t] >= counts[t] for t in counts), (seed, counts, now)
    for i in range(THREADS):
        thread = report["threads"][f"crash-{i}"]
        assert thread["values"] == {"log": [f"in-{i}", *NODES]}, (seed, i, thread)
        assert thread["next"] == [], (seed, i, thread)
        history = thread["history"]
        # one linear chain of checkpoints, newest first, steps strictly decreasing
        assert [row[4] for row in history] == [row[3] for row in history[1:]] + [None], seed
        steps = [row[1] for row in history]
        assert steps == sorted(steps, reverse=True), (seed, steps)
        assert len(set(steps)) == len(steps), (seed, steps)
        assert history[0][:3] == ["loop", steps[0], []], seed
    if kind == "sqlite":
        assert report["integrity"] == [["ok"]], seed
    assert kills >= 1, f"seed {seed}: the child always finished before being killed"
