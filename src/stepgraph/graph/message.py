"""``add_messages`` and ``MessagesState``: a chat history that merges by message id.

Works with plain dict messages (``{"role": "user", "content": "hi"}``) — no LangChain
needed — and with langchain-core message objects when that package is installed.
Strings and ``(role, content)`` tuples are accepted too.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from typing_extensions import TypedDict

__all__ = ["REMOVE_ALL_MESSAGES", "MessagesState", "add_messages"]

REMOVE_ALL_MESSAGES = "__remove_all__"

Messages = Any


@functools.cache
def _lc() -> Any:
    # looked up once: add_messages runs on every merge of a chat history
    try:
        import langchain_core.messages as lc
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return lc


def _is_lc(message: Any) -> bool:
    lc = _lc()
    return lc is not None and isinstance(message, lc.BaseMessage)


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)) and not (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], str)
    ):
        return list(value)
    return [value]


def _to_message(value: Any, use_lc: bool) -> Any:
    if use_lc:
        lc = _lc()
        if isinstance(value, lc.BaseMessage):
            return value
        if isinstance(value, dict) and value.get("type") == "remove":
            return lc.RemoveMessage(id=value["id"])
        (converted,) = lc.convert_to_messages([value])
        return converted
    if isinstance(value, str):
        return {"role": "user", "content": value}
    if isinstance(value, tuple) and len(value) == 2:
        return {"role": value[0], "content": value[1]}
    if isinstance(value, dict):
        return dict(value)
    raise TypeError(
        f"Unsupported message {value!r}: use a dict like {{'role': 'user', 'content': 'hi'}}, "
        "a string, a (role, content) tuple, or a langchain-core message"
    )


def _get_id(message: Any) -> Any:
    return message.get("id") if isinstance(message, dict) else getattr(message, "id", None)


def _set_id(message: Any, new_id: str) -> Any:
    if isinstance(message, dict):
        message["id"] = new_id
        return message
    message.id = new_id
    return message


def _is_remove(message: Any) -> bool:
    if isinstance(message, dict):
        return message.get("type") == "remove" or message.get("role") == "remove"
    return type(message).__name__ == "RemoveMessage"


def add_messages(left: Messages, right: Messages, **kwargs: Any) -> Messages:
    """Merge two message lists: messages of ``right`` replace those of ``left`` with the
    same id and are appended otherwise; messages without an id get a new one; a remove
    message (``{"type": "remove", "id": ...}`` or langchain's ``RemoveMessage``)
    deletes by id, and the id ``REMOVE_ALL_MESSAGES`` clears the history."""
    left_list = _as_list(left) if left is not None else []
    right_list = _as_list(right) if right is not None else []
    # With langchain-core installed, behave exactly like LangGraph (message objects);
    # without it, plain dicts stay dicts.
    use_lc = _lc() is not None
    left_msgs = [_to_message(m, use_lc) for m in left_list]
    right_msgs = [_to_message(m, use_lc) for m in right_list]
    for m in left_msgs:
        if _get_id(m) is None:
            _set_id(m, str(uuid.uuid4()))
    for index, m in enumerate(right_msgs):
        if _get_id(m) is None:
            _set_id(m, str(uuid.uuid4()))
        if _is_remove(m) and _get_id(m) == REMOVE_ALL_MESSAGES:
            return right_msgs[index + 1 :]
    merged = list(left_msgs)
    position = {_get_id(m): i for i, m in enumerate(merged)}
    removed: set[Any] = set()
    for m in right_msgs:
        mid = _get_id(m)
        existing = position.get(mid)
        if existing is not None:
            if _is_remove(m):
                removed.add(mid)
            else:
                removed.discard(mid)
                merged[existing] = m
        else:
            if _is_remove(m):
                raise ValueError(
                    f"Attempting to delete a message with an ID that doesn't exist ('{mid}')"
                )
            position[mid] = len(merged)
            merged.append(m)
    return [m for m in merged if _get_id(m) not in removed]


class MessagesState(TypedDict):
    """A state with one key, ``messages``, merged by :func:`add_messages`."""

    messages: Annotated[list[Any], add_messages]


_ = Sequence
