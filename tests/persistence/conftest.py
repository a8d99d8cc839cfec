"""Fixtures for the persistence suite: one ``saver`` per checkpointer.

Every test that takes ``saver`` runs against ``InMemorySaver``, ``SqliteSaver`` (a file
in ``tmp_path``) and ``PostgresSaver`` (a private schema; skipped visibly unless
``STEPGRAPH_TEST_POSTGRES_URL`` is set, e.g.
``export STEPGRAPH_TEST_POSTGRES_URL="$(tests/checkpoint/start_postgres.sh)"``).
``anyio_backend`` (asyncio and trio) comes from tests/conftest.py.
"""

from __future__ import annotations

import os
import secrets
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stepgraph.checkpoint.base import BaseCheckpointSaver
from stepgraph.checkpoint.memory import InMemorySaver

POSTGRES_URL = os.environ.get("STEPGRAPH_TEST_POSTGRES_URL", "")
POSTGRES_SKIP = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="set STEPGRAPH_TEST_POSTGRES_URL=postgresql://... to run "
    '(e.g. export STEPGRAPH_TEST_POSTGRES_URL="$(tests/checkpoint/start_postgres.sh)")',
)

SaverFactory = Callable[..., BaseCheckpointSaver]


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` first."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    query.append(("options", f"-csearch_path={schema}"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections live in a fresh schema (dropped afterwards)."""
    import psycopg

    schema = f"sg_persist_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(POSTGRES_URL, schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("sqlite"),
        pytest.param("postgres", marks=POSTGRES_SKIP),
    ]
)
def saver_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def make_saver(
    saver_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[SaverFactory]:
    """Opens savers of this test's kind on one shared store; closes them afterwards.

    Savers made by one factory see the same data (same file / same schema), as separate
    processes would; the memory kind returns one shared saver.
    """
    made: list[Any] = []
    url = request.getfixturevalue("pg_schema_url") if saver_kind == "postgres" else ""

    def make(**kwargs: Any) -> BaseCheckpointSaver:
        saver: BaseCheckpointSaver
        if saver_kind == "memory":
            if made:
                return made[0]  # type: ignore[no-any-return]
            saver = InMemorySaver(**kwargs)
        elif saver_kind == "sqlite":
            from stepgraph.checkpoint.sqlite import SqliteSaver

            saver = SqliteSaver(tmp_path / "persistence.sqlite", **kwargs)
        else:
            from stepgraph.checkpoint.postgres import PostgresSaver

            saver = PostgresSaver(url, **kwargs)
        made.append(saver)
        return saver

    yield make
    for saver in made:
        close = getattr(saver, "close", None)
        if close is not None:
            close()


@pytest.fixture
def saver(make_saver: SaverFactory) -> BaseCheckpointSaver:
    """A fresh, empty saver of each kind."""
    return make_saver()
