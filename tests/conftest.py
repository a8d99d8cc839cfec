"""Shared test configuration: every ``pytest.mark.anyio`` test runs on asyncio and trio."""

from __future__ import annotations

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
