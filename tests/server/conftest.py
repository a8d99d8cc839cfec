"""Real ``stepgraph serve`` processes for the server tests, on both backends.

Each server is ``sys.executable -m stepgraph.server`` on a free loopback port (``--port
0``; the port is read from its ``listening on`` line), with ``tests/server/langgraph.json``
and a fresh SQLite file. Tests talk to it with the official ``langgraph-sdk`` client and
with plain httpx.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("hypercorn")
pytest.importorskip("starlette")
pytest.importorskip("langgraph_sdk")

HERE = Path(__file__).parent
CONFIG = HERE / "langgraph.json"
READY = re.compile(r"listening on (http://\S+)")


class ServerProcess:
    """One running server; ``url`` is its base URL."""

    def __init__(
        self,
        backend: str,
        database: str,
        *,
        config: Path = CONFIG,
        cwd: Path | None = None,
        extra: tuple[str, ...] = (),
        command: tuple[str, ...] = (sys.executable, "-m", "stepgraph.server"),
    ) -> None:
        self.backend = backend
        self.database = database
        self.log_path = Path(database + ".log") if database != ":memory:" else None
        args = [
            *command,
            "--config",
            str(config),
            "--port",
            "0",
            "--backend",
            backend,
            "--database-url",
            database,
            "--heartbeat",
            "0.5",
            *extra,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for key in ("LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"):
            env.pop(key, None)
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env=env,
        )
        self.lines: list[str] = []
        ready: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)
                if READY.search(line):
                    ready.put(line)
            ready.put(None)

        self._reader = threading.Thread(target=pump, daemon=True)
        self._reader.start()
        line = ready.get(timeout=60)
        if line is None:
            self.stop()
            raise RuntimeError("server did not start:\n" + "".join(self.lines))
        match = READY.search(line)
        assert match is not None
        self.url = match.group(1)

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        """SIGTERM, then wait; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError("server ignored SIGTERM:\n" + self.output()) from None
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


@pytest.fixture(
    scope="module",
    params=[pytest.param("asyncio", id="server-asyncio"), pytest.param("trio", id="server-trio")],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server for this module, on the parametrized backend."""
    backend: str = request.param
    db = tmp_path_factory.mktemp(f"server-{backend}") / "state.sqlite"
    proc = ServerProcess(backend, str(db))
    yield proc
    status = proc.stop()
    out = proc.output()
    assert status == 0, out
    assert "Traceback" not in out, out
