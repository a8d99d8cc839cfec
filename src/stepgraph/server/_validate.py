"""Request bodies and path ids checked as the reference server checks them: 422 with a
message naming the field, before any run starts or any stream opens."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ._http import ApiError

__all__ = ["STREAM_MODES", "check_uuid", "run_kwargs"]

STREAM_MODES = (
    "values",
    "updates",
    "custom",
    "messages",
    "messages-tuple",
    "debug",
    "tasks",
    "checkpoints",
)
_UNSUPPORTED_MODES = {
    "events": "stream_mode 'events' (LangChain astream_events) is not supported by stepgraph",
    "tools": "stream_mode 'tools' is only supported on the v2 event streaming endpoints",
    "lifecycle": "stream_mode 'lifecycle' is only supported on the v2 event streaming endpoints",
}
_ENUMS = {
    "multitask_strategy": ("reject", "interrupt", "rollback", "enqueue"),
    "if_not_exists": ("reject", "create"),
    "on_disconnect": ("cancel", "continue"),
    "on_completion": ("delete", "keep"),
    "durability": ("sync", "async", "exit"),
}


def check_uuid(value: str, what: str) -> str:
    """``value`` if it is a UUID, else 422 ``Invalid <what> ID: must be a UUID``."""
    try:
        uuid.UUID(value)
    except ValueError:
        raise ApiError(422, f"Invalid {what} ID: must be a UUID") from None
    return value


def _required(name: str) -> ApiError:
    return ApiError(
        422,
        f'"{name}" is a required property\n\nFailed validating "required" in schema',
    )


def _type_error(name: str, value: Any, expected: str) -> ApiError:
    return ApiError(
        422, f"{value!r} is not of type '{expected}'\n\nOn instance['{name}']:\n    {value!r}"
    )


def stream_modes(value: Any) -> list[str]:
    """A ``stream_mode`` value (string or list) as a list of known modes."""
    modes = [value] if isinstance(value, str) else value
    if not isinstance(modes, list) or not all(isinstance(m, str) for m in modes):
        raise _type_error("stream_mode", value, "array")
    for mode in modes:
        if mode in _UNSUPPORTED_MODES:
            raise ApiError(422, _UNSUPPORTED_MODES[mode])
        if mode not in STREAM_MODES:
            raise ApiError(
                422,
                f"{mode!r} is not one of {list(STREAM_MODES)}\n\nOn instance['stream_mode']",
            )
    return list(dict.fromkeys(modes))


def _nodes(name: str, value: Any) -> Any:
    if value is None or value == "*":
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise _type_error(name, value, "array")


def run_kwargs(body: Mapping[str, Any], *, stream: bool, thread_less: bool) -> dict[str, Any]:
    """The run options of a RunCreate body, checked; raises :class:`ApiError`."""
    assistant_id = body.get("assistant_id")
    if assistant_id is None:
        raise _required("assistant_id")
    if not isinstance(assistant_id, str):
        raise _type_error("assistant_id", assistant_id, "string")
    for key in ("config", "context", "metadata", "command", "checkpoint"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            raise _type_error(key, value, "object")
    for key, choices in _ENUMS.items():
        value = body.get(key)
        if value is not None and value not in choices:
            raise ApiError(422, f"{value!r} is not one of {list(choices)}\n\nOn instance['{key}']")
    config = body.get("config") or {}
    if body.get("context") and config.get("configurable"):
        raise ApiError(
            400,
            "Cannot specify both configurable and context. Prefer setting context alone. "
            "Context was introduced in LangGraph 0.6.0 and is the long term planned "
            "replacement for configurable.",
        )
    command = body.get("command")
    if thread_less and command and "resume" in command:
        raise ApiError(400, "You must provide a thread_id when resuming.")
    after = body.get("after_seconds")
    if after is not None and (not isinstance(after, (int, float)) or after < 0):
        raise _type_error("after_seconds", after, "number")
    durability = body.get("durability")
    if durability is None and body.get("checkpoint_during") is not None:
        durability = "async" if body["checkpoint_during"] else "exit"
    return {
        "input": body.get("input"),
        "command": command,
        "config": config,
        "context": body.get("context"),
        "stream_mode": stream_modes(body.get("stream_mode", "values")),
        "stream_subgraphs": bool(body.get("stream_subgraphs", False)),
        "stream_resumable": bool(body.get("stream_resumable", False)),
        "interrupt_before": _nodes("interrupt_before", body.get("interrupt_before")),
        "interrupt_after": _nodes("interrupt_after", body.get("interrupt_after")),
        "durability": durability,
        "checkpoint": body.get("checkpoint"),
        "checkpoint_id": body.get("checkpoint_id"),
        "on_disconnect": body.get("on_disconnect") or "continue",
        "on_completion": body.get("on_completion") or "delete",
        "after_seconds": after,
        "temporary": thread_less,
        "stream": stream,
    }
