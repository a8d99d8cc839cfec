"""Await a coroutine in a context of its own without giving it a task of its own.

A step's lone task runs in the caller's task (a task per step would cost more than the
step), so a node's ``ContextVar.set()`` would otherwise stay set for the caller and the
nodes after it. LangGraph runs every node in a copy of the caller's context; so does
stepgraph, by running each step of the node's coroutine inside one copied context.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["isolated"]

T = TypeVar("T")


class _InContext:
    __slots__ = ("_context", "_coro")

    def __init__(self, coro: Coroutine[Any, Any, Any], context: contextvars.Context) -> None:
        self._coro = coro
        self._context = context

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, run = self._coro, self._context.run
        value: Any = None
        error: BaseException | None = None
        while True:
            # each resumption of the coroutine runs inside the copied context; what it
            # yields (an asyncio future, a trio trap) goes to the event loop unchanged
            try:
                if error is None:
                    signal = run(coro.send, value)
                else:
                    signal = run(coro.throw, error)
                    error = None
            except StopIteration as stop:
                return stop.value
            try:
                value = yield signal
            except BaseException as exc:  # cancellation, GeneratorExit: the coroutine's
                error = exc
                value = None


def isolated(coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
    """``await isolated(coro)`` runs ``coro`` in a copy of the current context. (Any
    other awaitable, e.g. a future a callable returned, is awaited as it is.)"""
    if not hasattr(coro, "throw"):
        return coro
    return _InContext(coro, contextvars.copy_context())
