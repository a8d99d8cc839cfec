"""Hypothesis profiles, chosen by ``HYPOTHESIS_PROFILE`` (dev | ci | nightly; default dev).

``bash .ci/test`` sets ``HYPOTHESIS_PROFILE=ci`` unless it is already set.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("dev", max_examples=50)
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=False, print_blob=True)
settings.register_profile("nightly", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# Same fixture as tests/conftest.py: async property tests run on asyncio and trio too.
@pytest.fixture(
    scope="module",
    params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")],
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend for this test: ``"asyncio"`` and then ``"trio"``."""
    backend: str = request.param
    return backend
