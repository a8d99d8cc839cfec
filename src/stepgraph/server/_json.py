"""JSON for the wire: compact orjson, with graph values (interrupts, messages, models,
attrs records, exceptions) turned into the plain shapes the reference server sends."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from stepgraph.types import Interrupt

__all__ = ["dumps", "interrupt_dict", "jsonable", "loads"]

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def interrupt_dict(interrupt: Interrupt) -> dict[str, Any]:
    """An interrupt as streams and wait bodies show it."""
    return {"value": interrupt.value, "id": interrupt.id, "response_schema": None}


def _default(value: Any) -> Any:
    if isinstance(value, Interrupt):
        return interrupt_dict(value)
    if isinstance(value, BaseException):
        return repr(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    to_dict = getattr(value, "model_dump", None)  # pydantic v2 (langchain messages too)
    if callable(to_dict):
        dumped = to_dict()
        message_type = getattr(value, "type", None)
        if isinstance(dumped, dict) and isinstance(message_type, str):
            dumped.setdefault("type", message_type)
        return dumped
    if attrs.has(type(value)):
        out = attrs.asdict(value, recurse=False)
        message_type = getattr(value, "type", None)  # stepgraph.messages chunks
        if isinstance(message_type, str) and "type" not in out:
            out["type"] = message_type
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    legacy = getattr(value, "dict", None)  # pydantic v1
    if callable(legacy):
        return legacy()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


def dumps(value: Any) -> bytes:
    """Compact JSON bytes, on one line."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (what a client would decode)."""
    return orjson.loads(dumps(value))
