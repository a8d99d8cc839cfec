"""Resolve the public names a ported LangGraph program uses, from either library.

A corpus case receives one of these namespaces as ``lib`` and builds its graph from
``lib.StateGraph``, ``lib.Send`` and friends only, so the very same function runs on
LangGraph and on stepgraph -- exactly like a user's program after swapping imports.
"""

from __future__ import annotations

import importlib
import os
from types import SimpleNamespace
from typing import Any

# (public name, module suffix after the package name).  These mirror the import lines a
# LangGraph user writes; stepgraph must offer each name at the same relative path.
_NAMES: tuple[tuple[str, str], ...] = (
    ("StateGraph", "graph"),
    ("START", "graph"),
    ("END", "graph"),
    ("MessagesState", "graph"),
    ("add_messages", "graph"),
    ("Send", "types"),
    ("Command", "types"),
    ("interrupt", "types"),
    ("Interrupt", "types"),
    ("RetryPolicy", "types"),
    ("Overwrite", "types"),
    ("get_stream_writer", "config"),
    ("get_config", "config"),
    ("GraphRecursionError", "errors"),
    ("InvalidUpdateError", "errors"),
    ("EmptyInputError", "errors"),
    ("MemorySaver", "checkpoint.memory"),
    ("Runtime", "runtime"),
    ("get_runtime", "runtime"),
)

LANGGRAPH_INSTALL_HINT = (
    "differential tests need langgraph installed: pip install langgraph==1.2.22"
)

# Which library the tests treat as the candidate: "stepgraph" (the default) or
# "langgraph" (checks the harness and the corpus against LangGraph itself).
TARGET_ENV = "STEPGRAPH_DIFF_TARGET"


class MissingName:
    """Stands in for a name the library does not export (yet); any use raises."""

    def __init__(self, package: str, module: str, name: str, error: BaseException) -> None:
        self._where = f"{package}.{module}.{name}"
        self._error = error

    def _fail(self) -> ImportError:
        return ImportError(f"{self._where} is not available: {self._error!r}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise self._fail()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise self._fail()

    def __repr__(self) -> str:
        return f"<missing {self._where}>"


def _load(package: str, *, strict: bool) -> SimpleNamespace:
    # The graph module is the minimum: without it nothing can run at all.
    importlib.import_module(f"{package}.graph")
    values: dict[str, Any] = {"name": package}
    for name, module in _NAMES:
        try:
            values[name] = getattr(importlib.import_module(f"{package}.{module}"), name)
        except (ImportError, AttributeError) as exc:
            if strict:
                raise
            values[name] = MissingName(package, module, name, exc)
    return SimpleNamespace(**values)


def load_langgraph() -> SimpleNamespace:
    """Names from ``langgraph.*`` (raises ImportError when langgraph is absent)."""
    return _load("langgraph", strict=True)


def load_stepgraph() -> SimpleNamespace:
    """Names from ``stepgraph.*``.

    Raises ImportError only when ``stepgraph.graph`` itself cannot be imported; a name
    that is missing elsewhere becomes a :class:`MissingName` so that only the cases
    using it fail, each with a message saying what is missing.
    """
    return _load("stepgraph", strict=False)


def target_name() -> str:
    name = os.environ.get(TARGET_ENV, "stepgraph").strip() or "stepgraph"
    if name not in ("stepgraph", "langgraph"):
        raise ValueError(f"{TARGET_ENV} must be 'stepgraph' or 'langgraph', not {name!r}")
    return name


def load_target() -> SimpleNamespace:
    """The library under test, chosen by ``STEPGRAPH_DIFF_TARGET``."""
    return load_langgraph() if target_name() == "langgraph" else load_stepgraph()


#: In CI (``CI`` set) the live comparison with LangGraph runs on this Python only and the
#: others compare with the recording, so the suite fits CI's time budget on four Pythons;
#: ``STEPGRAPH_DIFF_LIVE_PY=all`` runs it everywhere. Outside CI both always run.
def live_here() -> bool:
    import os
    import sys

    if not os.environ.get("CI"):
        return True
    wanted = os.environ.get("STEPGRAPH_DIFF_LIVE_PY", "3.11")
    return wanted in ("all", f"{sys.version_info[0]}.{sys.version_info[1]}")
