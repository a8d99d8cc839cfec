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
    use_lc = _lc() is not None
    known = _known.get(id(left)) if type(left) is list else None
    if known is not None and known.matches(left):
        # ``left`` is an unchanged result of an earlier merge: its messages are already
        # converted and have ids, so only ``right`` needs the work (appending new ids is
        # what a chat loop does on every turn)
        right_msgs = _with_ids(right, use_lc)
        positions = known.positions
        fresh: set[Any] = set()
        for m in right_msgs:
            mid = _get_id(m)
            if mid in positions or mid in fresh or _is_remove(m):
                break
            fresh.add(mid)
        else:
            merged = left + right_msgs
            new_positions = dict(positions)
            for index, m in enumerate(right_msgs, len(left)):
                new_positions[_get_id(m)] = index
            _remember(merged, new_positions)
            return merged
        return _merge(list(left), right_msgs)
    left_list = _as_list(left) if left is not None else []
    left_msgs = [_to_message(m, use_lc) for m in left_list]
    for m in left_msgs:
        if _get_id(m) is None:
            _set_id(m, str(uuid.uuid4()))
    return _merge(left_msgs, _with_ids(right, use_lc))


def _with_ids(right: Messages, use_lc: bool) -> list[Any]:
    right_list = _as_list(right) if right is not None else []
    right_msgs = [_to_message(m, use_lc) for m in right_list]
    for m in right_msgs:
        if _get_id(m) is None:
            _set_id(m, str(uuid.uuid4()))
        elif _get_id(m) == REMOVE_ALL_MESSAGES and _is_remove(m):
            break  # what follows is all that is kept, as it is
    return right_msgs


def _merge(left_msgs: list[Any], right_msgs: list[Any]) -> list[Any]:
    for index, m in enumerate(right_msgs):
        if _is_remove(m) and _get_id(m) == REMOVE_ALL_MESSAGES:
            return right_msgs[index + 1 :]
    merged = left_msgs
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
    if removed:
        return [m for m in merged if _get_id(m) not in removed]
    _remember(merged, position)
    return merged


class _Known:
    """What a merge result looked like when it was returned (its ids → positions)."""

    __slots__ = ("first", "last", "length", "positions", "result")

    def __init__(self, result: list[Any], positions: dict[Any, int]) -> None:
        self.result = result
        self.length = len(result)
        self.first = result[0] if result else None
        self.last = result[-1] if result else None
        self.positions = positions

    def matches(self, value: list[Any]) -> bool:
        """Still the same list, seemingly untouched (same length and ends)."""
        return (
            value is self.result
            and len(value) == self.length
            and (not value or (value[0] is self.first and value[-1] is self.last))
        )


#: The last few merge results, by ``id()`` (each entry keeps its list alive, so an id
#: is never reused while it is here). A state's history is fed back as the next
#: merge's ``left``, so this is almost always a hit.
_known: dict[int, _Known] = {}
_KNOWN_MAX = 16


def _remember(result: list[Any], positions: dict[Any, int]) -> None:
    if len(positions) != len(result):
        return  # duplicate ids: not a plain id → position map
    _known[id(result)] = _Known(result, positions)
    while len(_known) > _KNOWN_MAX:
        try:
            del _known[next(iter(_known))]
        except (KeyError, RuntimeError, StopIteration):  # another thread got there first
            break


class MessagesState(TypedDict):
    """A state with one key, ``messages``, merged by :func:`add_messages`."""

    messages: Annotated[list[Any], add_messages]


_ = Sequence
