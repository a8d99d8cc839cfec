"""The server's store as graphs see it (``runtime.store``): the same items as the HTTP
store API, with LangGraph's store method names (``get``/``put``/``delete``/``search``/
``list_namespaces`` and their ``a``-prefixed async forms).

Sync methods work from sync nodes (which run in worker threads: they hop to the event
loop) and from the event loop itself; changes are committed with the server's next
database flush.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import anyio.from_thread
import attrs

from ._items import Items

__all__ = ["Item", "ServerStore"]

T = TypeVar("T")


@attrs.frozen
class Item:
    """One stored document (``score`` is set by searches, always ``None`` here)."""

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    score: float | None = None


def _item(record: dict[str, Any]) -> Item:
    return Item(
        tuple(record["namespace"]),
        record["key"],
        record["value"],
        datetime.fromisoformat(record["created_at"]),
        datetime.fromisoformat(record["updated_at"]),
    )


class ServerStore:
    """Items shared by every thread and run of the server."""

    def __init__(self, items: Items, now: Callable[[], str]) -> None:
        self._items = items
        self._now = now

    @staticmethod
    def _on_loop(fn: Callable[..., T], *args: Any) -> T:
        try:
            return anyio.from_thread.run_sync(fn, *args)
        except RuntimeError:  # already on the event loop thread
            return fn(*args)

    # -- the work, on the event loop -------------------------------------------

    def _get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        record = self._items.items.get((tuple(namespace), key))
        return None if record is None else _item(record)

    def _put(self, namespace: tuple[str, ...], key: str, value: dict[str, Any] | None) -> None:
        body = {"namespace": list(namespace), "key": key}
        if value is None:
            self._items.delete(body)
        else:
            self._items.put({**body, "value": value}, self._now())

    def _search(
        self,
        prefix: tuple[str, ...],
        filter: dict[str, Any] | None,
        limit: int,
        offset: int,
    ) -> list[Item]:
        found = self._items.search({"namespace_prefix": list(prefix), "filter": filter})
        return [_item(r) for r in found[offset : offset + limit]]

    def _namespaces(
        self,
        prefix: Sequence[str] | None,
        suffix: Sequence[str] | None,
        max_depth: int | None,
        limit: int,
        offset: int,
    ) -> list[tuple[str, ...]]:
        body = {"prefix": list(prefix or ()), "suffix": list(suffix or ()), "max_depth": max_depth}
        return [tuple(n) for n in self._items.namespaces(body)[offset : offset + limit]]

    # -- sync ------------------------------------------------------------------

    def get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        return self._on_loop(self._get, namespace, key)

    def put(self, namespace: tuple[str, ...], key: str, value: dict[str, Any]) -> None:
        self._on_loop(self._put, namespace, key, value)

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        self._on_loop(self._put, namespace, key, None)

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[Item]:
        return self._on_loop(self._search, namespace_prefix, filter, limit, offset)

    def list_namespaces(
        self,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        return self._on_loop(self._namespaces, prefix, suffix, max_depth, limit, offset)

    # -- async -----------------------------------------------------------------

    async def aget(self, namespace: tuple[str, ...], key: str) -> Item | None:
        return self._get(namespace, key)

    async def aput(self, namespace: tuple[str, ...], key: str, value: dict[str, Any]) -> None:
        self._put(namespace, key, value)

    async def adelete(self, namespace: tuple[str, ...], key: str) -> None:
        self._put(namespace, key, None)

    async def asearch(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[Item]:
        return self._search(namespace_prefix, filter, limit, offset)

    async def alist_namespaces(
        self,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        return self._namespaces(prefix, suffix, max_depth, limit, offset)
