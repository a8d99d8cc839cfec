"""The names a benchmark scenario uses, taken from stepgraph or from LangGraph.

A scenario receives one :class:`Lib` and builds its graph from ``lib.StateGraph``,
``lib.Send`` and friends only, so the very same code runs on both libraries -- exactly
like a user's program after swapping its imports.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from typing import Any

__all__ = ["LANGGRAPH_INSTALL", "LIBRARIES", "Lib", "load", "load_all"]

LANGGRAPH_VERSION = "1.2.22"
LANGGRAPH_INSTALL = f"pip install langgraph=={LANGGRAPH_VERSION}"
LIBRARIES = ("stepgraph", "langgraph")

# (attribute, module suffix, name in that module)
_NAMES = (
    ("StateGraph", "graph", "StateGraph"),
    ("START", "graph", "START"),
    ("END", "graph", "END"),
    ("add_messages", "graph", "add_messages"),
    ("Send", "types", "Send"),
    ("Command", "types", "Command"),
    ("get_stream_writer", "config", "get_stream_writer"),
)


@dataclass(frozen=True)
class Lib:
    """One library's public names (the ones a ported LangGraph program imports)."""

    name: str
    version: str
    StateGraph: Any
    START: str
    END: str
    add_messages: Any
    Send: Any
    Command: Any
    get_stream_writer: Any

    @property
    def supports_trio(self) -> bool:
        return self.name == "stepgraph"

    def saver(self) -> Any:
        """A fresh in-memory checkpointer (imported lazily: it may need extra packages)."""
        module = importlib.import_module(f"{self.name}.checkpoint.memory")
        return module.InMemorySaver()


def load(name: str) -> Lib:
    """The names of ``name`` ("stepgraph" or "langgraph"); ImportError if it is missing."""
    values = {
        attr: getattr(importlib.import_module(f"{name}.{module}"), member)
        for attr, module, member in _NAMES
    }
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return Lib(name=name, version=version, **values)


def load_all() -> tuple[dict[str, Lib], dict[str, str]]:
    """Every library that imports, and why the others do not."""
    libs: dict[str, Lib] = {}
    missing: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            libs[name] = load(name)
        except ImportError as exc:
            hint = f"; install it with: {LANGGRAPH_INSTALL}" if name == "langgraph" else ""
            missing[name] = f"{type(exc).__name__}: {exc}{hint}"
    return libs, missing
