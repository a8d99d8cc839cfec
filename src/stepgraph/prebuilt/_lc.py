"""Lazy access to langchain-core, the optional dependency of :mod:`stepgraph.prebuilt`."""

from __future__ import annotations

from typing import Any

__all__ = ["require_langchain", "running_on_asyncio"]

_HINT = (
    "stepgraph.prebuilt needs langchain-core (chat models, tools, messages): "
    "pip install 'stepgraph[langchain]'"
)


def require_langchain() -> Any:
    """Import and return ``langchain_core``, or raise an ImportError saying what to install."""
    try:
        import langchain_core
        import langchain_core.messages
        import langchain_core.tools
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_HINT) from exc
    return langchain_core


def running_on_asyncio() -> bool:
    """Whether the current thread runs an asyncio event loop (langchain-core's async API
    needs one; on trio the sync API is used in a worker thread instead)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
