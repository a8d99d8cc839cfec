"""Turn graph outputs into plain, comparable, JSON-safe data.

Both libraries' outputs pass through the same :class:`Normalizer`, so a difference that
survives normalization is a real behavioural difference.  What is deliberately erased:

* generated identifiers (uuids, interrupt ids, generated message ids) -> stable
  placeholders, numbered in order of first appearance within one case run;
* the concrete classes of messages, interrupts and exceptions -> their LangGraph
  meaning (a message is ``{"$msg": role, "content": ...}``, an interrupt is
  ``{"value": ..., "id": placeholder}``, an exception is ``[LangGraph class name, str]``);
* exception notes (Python 3.11+ ``add_note``) -- only ``str(exc)`` is compared.

What is kept: tuples vs lists (``{"$tuple": [...]}``), dict contents, key presence,
message order, exception types and exact message texts.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

HEX32_RE = re.compile(r"[0-9a-f]{32}")
# pydantic puts its own version in error URLs; CI may run a different pydantic.
PYDANTIC_URL_RE = re.compile(r"https://errors\.pydantic\.dev/[0-9.]+/")
# debug-mode timestamps (datetime.isoformat() in UTC)
TIMESTAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\+00:00")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Exception classes of ``langgraph.errors``: a stepgraph exception is reported under the
# first of these names found in its MRO, so a private subclass compares equal.
LANGGRAPH_ERROR_NAMES = frozenset(
    {
        "EmptyChannelError",
        "EmptyInputError",
        "GraphBubbleUp",
        "GraphDrained",
        "GraphInterrupt",
        "GraphRecursionError",
        "InvalidUpdateError",
        "NodeCancelledError",
        "NodeError",
        "NodeInterrupt",
        "NodeTimeoutError",
        "ParentCommand",
        "TaskNotFound",
        "UnknownInterruptError",
    }
)

# Message roles: LangGraph turns {"role": "user"} into a HumanMessage whose .type is
# "human"; a runtime may keep the OpenAI-style role name instead.  Both map to one name.
_ROLES = {
    "human": "human",
    "user": "human",
    "ai": "ai",
    "assistant": "ai",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "function",
}

# Explicit message ids in the corpus are short ("m1"); anything longer was generated.
MAX_EXPLICIT_MESSAGE_ID = 12


def error_name(exc: BaseException) -> str:
    """The LangGraph class name ``exc`` stands for (else its own class name)."""
    for cls in type(exc).__mro__:
        if cls.__name__ in LANGGRAPH_ERROR_NAMES:
            return cls.__name__
    return type(exc).__name__


def is_interrupt(obj: Any) -> bool:
    return (
        type(obj).__name__ == "Interrupt"
        and hasattr(obj, "value")
        and hasattr(obj, "id")
        and not isinstance(obj, type)
    )


def is_message(obj: Any) -> bool:
    if isinstance(obj, (Mapping, str, bytes, type)) or is_interrupt(obj):
        return False
    if not hasattr(obj, "content"):
        return False
    kind = getattr(obj, "type", None)
    if not isinstance(kind, str):
        kind = getattr(obj, "role", None)
    return isinstance(kind, str)


def sort_key(value: Any) -> str:
    """A total order on normalized data (for multisets)."""
    return json.dumps(value, sort_keys=True, default=repr)


class Normalizer:
    """Normalizes everything produced by one case run (shared placeholder numbering)."""

    def __init__(self) -> None:
        self._uuids: dict[str, str] = {}
        self._interrupt_ids: dict[str, str] = {}

    # -- identifiers ---------------------------------------------------------------

    def _uuid(self, match: re.Match[str]) -> str:
        text = match.group(0).lower()
        if text not in self._uuids:
            self._uuids[text] = f"<uuid-{len(self._uuids) + 1}>"
        return self._uuids[text]

    def interrupt_id(self, raw: Any, value: Any) -> str:
        """Placeholder for an interrupt id, named after the interrupt's value.

        Naming by value (not by order) keeps placeholders stable when parallel branches
        interrupt in a different order on the two libraries.
        """
        key = str(raw)
        if key not in self._interrupt_ids:
            base = f"<interrupt {sort_key(value)}>"
            name = base
            taken = set(self._interrupt_ids.values())
            n = 1
            while name in taken:
                n += 1
                name = f"{base}#{n}"
            self._interrupt_ids[key] = name
        return self._interrupt_ids[key]

    def text(self, value: str) -> str:
        if value in self._interrupt_ids:
            return self._interrupt_ids[value]
        value = PYDANTIC_URL_RE.sub("https://errors.pydantic.dev/<version>/", value)
        value = TIMESTAMP_RE.sub("<timestamp>", value)
        return UUID_RE.sub(self._uuid, value)

    # -- values --------------------------------------------------------------------

    def error(self, exc: BaseException) -> list[str]:
        return [error_name(exc), self.text(str(exc))]

    def __call__(self, obj: Any) -> Any:
        return self.norm(obj)

    def norm(self, obj: Any) -> Any:
        if obj is None or isinstance(obj, (bool, int, float)):
            return obj
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, bytes):
            return {"$bytes": obj.decode("latin-1")}
        if is_interrupt(obj):
            value = self.norm(obj.value)
            return {"value": value, "id": self.interrupt_id(obj.id, value)}
        if is_message(obj):
            return self.message(obj)
        if isinstance(obj, BaseException):
            return {"$error": self.error(obj)}
        if isinstance(obj, Mapping):
            out = {self._key(k): self.norm(v) for k, v in obj.items()}
            raw_id = obj.get("id") if "value" in obj else None
            if isinstance(raw_id, str) and HEX32_RE.fullmatch(raw_id):
                # An interrupt rendered as a dict (``tasks`` mode): same placeholder.
                out["id"] = self.interrupt_id(raw_id, out["value"])
            return out
        if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
            return {"$tuple": [self.norm(v) for v in obj]}
        if isinstance(obj, list):
            return [self.norm(v) for v in obj]
        if isinstance(obj, (set, frozenset)):
            return {"$set": sorted((self.norm(v) for v in obj), key=sort_key)}
        return self.record(obj)

    def _key(self, key: Any) -> str:
        if isinstance(key, str):
            return self.text(key)
        return "$key:" + sort_key(self.norm(key))

    def message(self, msg: Any) -> dict[str, Any]:
        kind = getattr(msg, "type", None)
        if not isinstance(kind, str):
            kind = getattr(msg, "role", "")
        out: dict[str, Any] = {
            "$msg": _ROLES.get(kind, kind),
            "content": self.norm(msg.content),
        }
        for attr in ("name", "tool_call_id"):
            value = getattr(msg, attr, None)
            if value:
                out[attr] = self.norm(value)
        msg_id = getattr(msg, "id", None)
        if isinstance(msg_id, str) and len(msg_id) <= MAX_EXPLICIT_MESSAGE_ID:
            out["id"] = msg_id
        return out

    def record(self, obj: Any) -> dict[str, Any]:
        """Dataclasses, pydantic models, named tuples, Send/Command, anything else."""
        name = type(obj).__name__
        if name == "Overwrite" and hasattr(obj, "value"):
            # Only the wrapped value is public; LangGraph's class has internal fields.
            return {"$object": name, "value": self.norm(obj.value)}
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
            return {"$object": name, **{k: self.norm(v) for k, v in fields.items()}}
        dump = getattr(obj, "model_dump", None)
        if callable(dump):
            return {"$object": name, **{k: self.norm(v) for k, v in dump().items()}}
        attrs_fields = getattr(type(obj), "__attrs_attrs__", None)
        if attrs_fields is not None:
            return {
                "$object": name,
                **{a.name: self.norm(getattr(obj, a.name)) for a in attrs_fields},
            }
        if isinstance(obj, tuple):  # named tuple
            return {"$object": name, **{k: self.norm(v) for k, v in obj._asdict().items()}}
        if name == "Send":
            return {"$object": "Send", "node": self.norm(obj.node), "arg": self.norm(obj.arg)}
        if name == "Command":
            return {
                "$object": "Command",
                **{
                    k: self.norm(getattr(obj, k, None))
                    for k in ("graph", "update", "resume", "goto")
                },
            }
        return {"$object": name}
