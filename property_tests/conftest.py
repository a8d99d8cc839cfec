"""Hypothesis profiles, chosen by ``HYPOTHESIS_PROFILE`` (dev | ci | nightly; default dev).

``bash .ci/test`` sets ``HYPOTHESIS_PROFILE=ci`` unless it is already set.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Parent is Hypothesis' own default, so CI=true (which makes Hypothesis pick its built-in
# "ci" settings) changes nothing here. The example database stays on: `bash .ci/test`
# uses "ci" locally too, and replaying a failure there is what the database is for.
_base = settings.get_profile("default")
_slow_machine = [HealthCheck.too_slow]  # 2 cores under coverage; data generation is slow
settings.register_profile("dev", _base, max_examples=50)
settings.register_profile(
    "ci",
    _base,
    max_examples=100,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=_slow_machine,
)
settings.register_profile(
    "nightly",
    _base,
    max_examples=1000,
    deadline=None,
    print_blob=True,
    suppress_health_check=_slow_machine,
)
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
