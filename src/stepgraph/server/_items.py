"""The store API (``client.store``): JSON documents under a namespace path and a key.

Items live in memory and in the database (``stepgraph_server_items``), like threads.
Search filters match values exactly or with ``$eq``/``$ne``/``$gt``/``$gte``/``$lt``/
``$lte``; a ``query`` (semantic search) is accepted but this server has no embeddings
index, so results are not ranked (``score`` is ``null``) — as a store without an index.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from ._http import ApiError
from ._store import MetaStore

__all__ = ["Items"]

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": operator.eq,
    "$ne": operator.ne,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


def namespace_of(value: Any, name: str = "namespace") -> tuple[str, ...]:
    """A namespace path (list of labels) checked as the reference checks it."""
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        raise ApiError(422, f"{value!r} is not of type 'array' of strings\n\nOn instance['{name}']")
    for label in value:
        if not label:
            raise ApiError(422, f"Namespace labels cannot be empty: {value!r}")
        if "." in label:
            raise ApiError(
                422,
                f"Invalid namespace label '{label}'. Namespace labels cannot contain periods ('.').",
            )
    return tuple(value)


def _key(body: Mapping[str, Any]) -> str:
    key = body.get("key")
    if not isinstance(key, str) or not key:
        raise ApiError(422, '"key" is a required property (a non-empty string)')
    return key


def _matches(value: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for field, condition in wanted.items():
        have = value.get(field)
        if isinstance(condition, dict) and condition and all(k in _OPERATORS for k in condition):
            try:
                if not all(_OPERATORS[op](have, arg) for op, arg in condition.items()):
                    return False
            except TypeError:  # e.g. comparing a number with a missing value
                return False
        elif have != condition:
            return False
    return True


class Items:
    """Namespaced JSON items; every change is queued for the database."""

    def __init__(self, store: MetaStore) -> None:
        self.store = store
        self.items: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}

    def restore(self, saved: list[dict[str, Any]]) -> None:
        for item in saved:
            self.items[(tuple(item["namespace"]), item["key"])] = item

    def put(self, body: Mapping[str, Any], now: str) -> None:
        namespace = namespace_of(body.get("namespace"))
        key = _key(body)
        value = body.get("value")
        if not isinstance(value, dict):
            raise ApiError(422, f"{value!r} is not of type 'object'\n\nOn instance['value']")
        old = self.items.get((namespace, key))
        item = {
            "namespace": list(namespace),
            "key": key,
            "value": value,
            "created_at": old["created_at"] if old else now,
            "updated_at": now,
        }
        self.items[(namespace, key)] = item
        self.store.put_item(".".join(namespace), key, item)

    def get(self, namespace: tuple[str, ...], key: str) -> dict[str, Any]:
        item = self.items.get((namespace, key))
        if item is None:
            raise ApiError(404, f"Item {key!r} not found in namespace {list(namespace)!r}")
        return item

    def delete(self, body: Mapping[str, Any]) -> None:
        namespace = namespace_of(body.get("namespace"))
        key = _key(body)
        if self.items.pop((namespace, key), None) is not None:
            self.store.delete_item(".".join(namespace), key)

    def search(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        prefix = namespace_of(body.get("namespace_prefix", []), "namespace_prefix")
        wanted = body.get("filter") or {}
        if not isinstance(wanted, dict):
            raise ApiError(422, f"{wanted!r} is not of type 'object'\n\nOn instance['filter']")
        found = [
            {**item, "score": None}
            for (namespace, _), item in self.items.items()
            if namespace[: len(prefix)] == prefix and _matches(item["value"], wanted)
        ]
        found.sort(key=lambda item: str(item["updated_at"]), reverse=True)
        return found

    def namespaces(self, body: Mapping[str, Any]) -> list[list[str]]:
        prefix = namespace_of(body.get("prefix") or [], "prefix")
        suffix = namespace_of(body.get("suffix") or [], "suffix")
        depth = body.get("max_depth")
        if depth is not None and (not isinstance(depth, int) or depth < 1):
            raise ApiError(422, f"{depth!r} is not a positive integer\n\nOn instance['max_depth']")
        seen: set[tuple[str, ...]] = set()
        for namespace, _ in self.items:
            if namespace[: len(prefix)] != prefix:
                continue
            if suffix and namespace[len(namespace) - len(suffix) :] != suffix:
                continue
            seen.add(namespace[:depth] if depth else namespace)
        return [list(n) for n in sorted(seen)]
