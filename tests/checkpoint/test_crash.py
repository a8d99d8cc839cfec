"""Crash safety across processes: SIGKILLed writers lose nothing they reported committed,
and a crashed lease owner does not block its thread.

Children are ``crash_child.py`` scripts; everything is ordered through their stdout
lines (``ready``, ``committed ...``, ``leased``), never by sleeping.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import stepgraph.checkpoint
from stepgraph.checkpoint import ThreadBusyError

from .conftest import POSTGRES_SKIP

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")

CHILD = Path(__file__).with_name("crash_child.py")
SRC = Path(stepgraph.checkpoint.__file__).resolve().parents[2]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("PYTHONWARNINGS", None)
    return env


def spawn(
    mode: str, kind: str, target: str, backend: str, **kwargs: object
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), mode, kind, target, backend],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        **kwargs,  # type: ignore[call-overload]
    )


def expect_line(proc: subprocess.Popen[str], expected: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != expected:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"child said {line!r} instead of {expected!r}; stderr:\n{err}")


def kill(proc: subprocess.Popen[str]) -> str:
    """SIGKILL the child, reap it, and return what it had already written to stdout."""
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=POSTGRES_SKIP)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``(kind, target)``: a SQLite file path or a PostgreSQL URL with a private schema."""
    kind: str = request.param
    if kind == "sqlite":
        yield kind, str(tmp_path / "crash.sqlite")
    else:
        yield kind, request.getfixturevalue("pg_schema_url")


@pytest.mark.timeout(180)
def test_killed_writer_loses_no_committed_checkpoint(store: tuple[str, str]) -> None:
    kind, target = store
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    committed: list[str] = []
    for round_ in range(6):
        proc = spawn("write", kind, target, ("asyncio", "trio")[round_ % 2])
        expect_line(proc, "ready")
        assert proc.stdout is not None
        for _ in range(rng.randint(1, 40)):
            line = proc.stdout.readline()
            assert line.startswith("committed "), (seed, line, proc.stderr)
            committed.append(line.split(" ", 1)[1].strip())
        # Lines still in the pipe were printed after their commit, so they count too.
        for line in kill(proc).splitlines():
            if line.startswith("committed "):
                committed.append(line.split(" ", 1)[1].strip())

    verifier = subprocess.run(
        [sys.executable, str(CHILD), "verify", kind, target, "asyncio"],
        input="\n".join(committed),
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
    assert verifier.returncode == 0, verifier.stderr
    report = json.loads(verifier.stdout)
    assert report["checked"] == len(committed) > 6, seed
    assert report["problems"] == [], seed
    if kind == "sqlite":
        assert report["integrity"] == [["ok"]], seed


@pytest.mark.anyio
@pytest.mark.timeout(120)
async def test_crashed_lease_owner_does_not_block(store: tuple[str, str]) -> None:
    kind, target = store
    if kind == "sqlite":
        from stepgraph.checkpoint.sqlite import SqliteSaver

        saver: stepgraph.checkpoint.BaseCheckpointSaver = SqliteSaver(target)
    else:
        from stepgraph.checkpoint.postgres import PostgresSaver

        saver = PostgresSaver(target)
    try:
        await anyio.to_thread.run_sync(saver.setup)
        proc = spawn("lease", kind, target, "trio")
        try:
            await anyio.to_thread.run_sync(expect_line, proc, "leased")
            # the other process holds it
            with pytest.raises(ThreadBusyError, match=r"^Thread 'leased-thread' is busy"):
                async with saver.thread_lease("leased-thread"):
                    pass
        finally:
            await anyio.to_thread.run_sync(kill, proc)

        if kind == "sqlite":
            # the owner's pid is gone: taken over at once, no expiry wait
            async with saver.thread_lease("leased-thread"):
                pass
        else:
            # the server drops the dead session's locks once it notices the closed socket
            with anyio.fail_after(60):
                while True:
                    try:
                        async with saver.thread_lease("leased-thread"):
                            break
                    except ThreadBusyError:
                        await anyio.sleep(0.05)  # polling the server, not ordering our tasks
    finally:
        await saver.aclose()  # type: ignore[attr-defined]
