"""Shared test configuration: every ``pytest.mark.anyio`` test runs on asyncio and trio."""

from __future__ import annotations

import faulthandler
import os

import pytest


# Module scope (anyio's own default) so module-scoped async fixtures stay legal.
@pytest.fixture(
    scope="module",
    params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")],
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend for this test: ``"asyncio"`` and then ``"trio"``."""
    backend: str = request.param
    return backend


def pytest_unconfigure(config: pytest.Config) -> None:
    """Under ``bash .ci/test`` only: a process still alive long after pytest finished is hung.

    A leaked thread or blocking portal can block interpreter exit forever; with
    ``STEPGRAPH_EXIT_WATCHDOG=<seconds>`` set, faulthandler then prints every thread's
    stack (headed ``Timeout (...)!``) and exits with status 1 instead.
    """
    seconds = os.environ.get("STEPGRAPH_EXIT_WATCHDOG")
    if seconds:
        faulthandler.dump_traceback_later(float(seconds), exit=True)
