"""The Agent Server HTTP API for stepgraph graphs: ``stepgraph serve``.

Serves the graphs of a ``langgraph.json`` to the official ``langgraph-sdk`` client
(assistants, threads, runs, SSE streaming of every mode, join, cancel, wait, resumable
streams) on trio or asyncio, with SQLite persistence by default and PostgreSQL when
configured. Needs the ``server`` extra: ``pip install 'stepgraph[server]'``.
"""

from __future__ import annotations

from ._app import Settings as Settings
from ._app import create_app as create_app
from ._config import ASSISTANT_NAMESPACE as ASSISTANT_NAMESPACE
from ._config import assistant_id_for as assistant_id_for
from ._config import load_config as load_config
from ._runs import Manager as Manager
from ._serve import ServeOptions as ServeOptions
from ._serve import serve as serve

__all__ = [
    "ASSISTANT_NAMESPACE",
    "Manager",
    "ServeOptions",
    "Settings",
    "assistant_id_for",
    "create_app",
    "load_config",
    "serve",
]
