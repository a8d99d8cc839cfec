"""Read a node's signature once, at ``add_node`` time, into a frozen call shape."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

import attrs

__all__ = ["CallShape", "call_shape"]

_INJECTABLE = ("config", "writer", "runtime", "store")


@attrs.frozen
class CallShape:
    """How to call a node: sync or async, and which extras it takes by keyword."""

    is_async: bool
    inject: tuple[str, ...]
    input_annotation: Any = None
    takes_input: bool = True


def _unwrap(fn: Any) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _is_async(fn: Any) -> bool:
    target = _unwrap(fn)
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(type(target), "__call__", None)  # noqa: B004 - callable objects
    return (
        not inspect.isfunction(target)
        and not inspect.ismethod(target)
        and call is not None
        and inspect.iscoroutinefunction(call)
    )


def call_shape(fn: Callable[..., Any]) -> CallShape:
    """The :class:`CallShape` of ``fn`` (function, partial, method or callable object)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return CallShape(is_async=_is_async(fn), inject=())
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    inject = tuple(
        p.name
        for p in params
        if p.name in _INJECTABLE
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and not (positional and p is positional[0])
    )
    annotation: Any = None
    if positional and positional[0].name not in _INJECTABLE:
        annotation = positional[0].annotation
        if isinstance(annotation, str) or annotation is inspect.Parameter.empty:
            target = _unwrap(fn)
            try:
                hints = get_type_hints(target)
            except Exception:
                hints = {}
            annotation = hints.get(positional[0].name)
    takes_input = bool(positional) or any(p.kind == p.VAR_POSITIONAL for p in params)
    return CallShape(
        is_async=_is_async(fn),
        inject=inject,
        input_annotation=annotation,
        takes_input=takes_input,
    )
