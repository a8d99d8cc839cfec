"""Assistants: one system assistant per served graph, plus those clients create.

An assistant is a graph with a saved ``config``, ``context``, ``metadata``, ``name`` and
``description``. Every change makes a new version (``version`` counts from 1); the
assistant shows one of them (the newest, or the one chosen with ``set_latest``). Runs
started with an assistant get its config and context under their own. System assistants
(``metadata.created_by == "system"``, ids from :func:`assistant_id_for`) are rebuilt from
``langgraph.json`` at each start; the others are stored in the database.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ._config import GraphEntry
from ._http import ApiError
from ._store import MetaStore

__all__ = ["Assistants", "merged_config", "merged_context"]

_VERSION_KEYS = ("graph_id", "config", "context", "metadata", "name", "description")


def _object(body: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(422, f"{value!r} is not of type 'object'\n\nOn instance['{key}']")
    return value


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError(422, f"{value!r} is not of type 'string'\n\nOn instance['{key}']")
    return value


def merged_config(assistant: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The run's ``config`` over the assistant's (``configurable`` merged key by key)."""
    base = dict(assistant.get("config") or {})
    out = {**base, **config}
    configurable = {**(base.get("configurable") or {}), **(config.get("configurable") or {})}
    if configurable:
        out["configurable"] = configurable
    return out


def merged_context(assistant: Mapping[str, Any], context: Any) -> Any:
    """The run's ``context`` over the assistant's (``None`` when both are empty)."""
    base = assistant.get("context") or {}
    if not base:
        return context
    if context is None:
        return dict(base)
    if isinstance(context, dict):
        return {**base, **context}
    return context


class Assistants:
    """The server's assistants and their versions (records are JSON-ready dicts)."""

    def __init__(self, graphs: Sequence[GraphEntry], store: MetaStore, now: str) -> None:
        self.graphs = {g.graph_id: g for g in graphs}
        self.store = store
        self.records: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self._system: dict[str, dict[str, Any]] = {}
        for entry in graphs:
            record = {
                "assistant_id": entry.assistant_id,
                "graph_id": entry.graph_id,
                "config": {},
                "context": {},
                "metadata": {"created_by": "system"},
                "name": entry.graph_id,
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "description": entry.description,
            }
            self._system[entry.graph_id] = record
            self.records[entry.assistant_id] = copy.deepcopy(record)
            self.versions[entry.assistant_id] = [self._version(record, now)]

    def restore(self, saved: Sequence[Mapping[str, Any]]) -> None:
        """Add the stored (client-made) assistants, as :meth:`_save` wrote them."""
        for item in saved:
            record = dict(item["assistant"])
            if record["graph_id"] not in self.graphs:
                continue  # its graph is no longer served
            self.records[record["assistant_id"]] = record
            self.versions[record["assistant_id"]] = [dict(v) for v in item["versions"]]

    @staticmethod
    def _version(record: Mapping[str, Any], now: str) -> dict[str, Any]:
        fields = {k: copy.deepcopy(record[k]) for k in _VERSION_KEYS}
        version = {"assistant_id": record["assistant_id"], "version": record["version"]}
        return {**version, **fields, "created_at": now}

    def _save(self, assistant_id: str) -> None:
        self.store.put_assistant(
            assistant_id,
            {"assistant": self.records[assistant_id], "versions": self.versions[assistant_id]},
        )

    # -- lookups ---------------------------------------------------------------

    def entry(self, record: Mapping[str, Any]) -> GraphEntry | None:
        return self.graphs.get(str(record["graph_id"]))

    def get(self, assistant_id: str) -> dict[str, Any]:
        """The assistant ``assistant_id`` (a UUID string), or 404."""
        record = self.records.get(str(uuid.UUID(assistant_id)))
        if record is None:
            raise ApiError(404, f"Assistant with ID {assistant_id} not found")
        return record

    def for_run(self, value: str) -> dict[str, Any]:
        """The assistant a run names: a graph id (its system assistant) or an id."""
        if value in self.graphs:  # its system assistant (as it was at start, if deleted)
            return self.records.get(self.graphs[value].assistant_id) or self._system[value]
        try:
            key = str(uuid.UUID(value))
        except ValueError:
            raise ApiError(
                422,
                f"Invalid assistant: '{value}'. Must be either:\n- A valid assistant UUID, or\n"
                f"- One of the registered graphs: {', '.join(self.graphs)}",
            ) from None
        record = self.records.get(key)
        if record is None:
            raise ApiError(404, "Thread or assistant not found.")
        return record

    def search(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        items = list(self.records.values())
        if body.get("graph_id"):
            items = [a for a in items if a["graph_id"] == body["graph_id"]]
        if body.get("name"):
            needle = str(body["name"]).lower()
            items = [a for a in items if needle in str(a["name"]).lower()]
        wanted = _object(body, "metadata") or {}
        return [a for a in items if all(a["metadata"].get(k) == v for k, v in wanted.items())]

    # -- changes ---------------------------------------------------------------

    def create(self, body: Mapping[str, Any], now: str) -> dict[str, Any]:
        graph_id = body.get("graph_id")
        if graph_id is None:
            raise ApiError(422, '"graph_id" is a required property')
        if graph_id not in self.graphs:
            raise ApiError(
                404,
                f"Graph '{graph_id}' not found. Registered graphs: {', '.join(self.graphs)} "
                "(see langgraph.json)",
            )
        wanted_id = body.get("assistant_id")
        if wanted_id is not None:
            try:
                assistant_id = str(uuid.UUID(str(wanted_id)))
            except ValueError:
                raise ApiError(422, "Invalid assistant ID: must be a UUID") from None
        else:
            assistant_id = str(uuid.uuid4())
        if_exists = body.get("if_exists") or "raise"
        if if_exists not in ("raise", "do_nothing"):
            raise ApiError(
                422,
                f"{if_exists!r} is not one of ['raise', 'do_nothing']\n\nOn instance['if_exists']",
            )
        existing = self.records.get(assistant_id)
        if existing is not None:
            if if_exists == "do_nothing":
                return existing
            raise ApiError(409, f"Assistant {assistant_id} already exists")
        record = {
            "assistant_id": assistant_id,
            "graph_id": graph_id,
            "config": _object(body, "config") or {},
            "context": _object(body, "context") or {},
            "metadata": _object(body, "metadata") or {},
            "name": _text(body, "name") or "Untitled",
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "description": _text(body, "description"),
        }
        self.records[assistant_id] = record
        self.versions[assistant_id] = [self._version(record, now)]
        self._save(assistant_id)
        return record

    def update(self, assistant_id: str, body: Mapping[str, Any], now: str) -> dict[str, Any]:
        """A new version from ``body``'s fields over the assistant's (metadata merged)."""
        record = self.get(assistant_id)
        graph_id = body.get("graph_id")
        if graph_id is not None and graph_id not in self.graphs:
            raise ApiError(
                404,
                f"Graph '{graph_id}' not found. Registered graphs: {', '.join(self.graphs)} "
                "(see langgraph.json)",
            )
        changes: dict[str, Any] = {}
        if graph_id is not None:
            changes["graph_id"] = graph_id
        for key in ("config", "context"):
            value = _object(body, key)
            if value is not None:
                changes[key] = value
        metadata = _object(body, "metadata")
        if metadata:
            changes["metadata"] = {**record["metadata"], **metadata}
        for key in ("name", "description"):
            text = _text(body, key)
            if text is not None:
                changes[key] = text
        key = record["assistant_id"]
        history = self.versions[key]
        record.update(changes, version=max(v["version"] for v in history) + 1, updated_at=now)
        history.append(self._version(record, now))
        self._save(key)
        return record

    def set_latest(self, assistant_id: str, version: Any, now: str) -> dict[str, Any]:
        record = self.get(assistant_id)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ApiError(422, f"{version!r} is not of type 'integer'\n\nOn instance['version']")
        key = record["assistant_id"]
        chosen = next((v for v in self.versions[key] if v["version"] == version), None)
        if chosen is None:
            raise ApiError(404, f"Assistant {assistant_id} has no version {version}")
        record.update({k: copy.deepcopy(chosen[k]) for k in _VERSION_KEYS})
        record.update(version=version, updated_at=now)
        self._save(key)
        return record

    def delete(self, assistant_id: str) -> dict[str, Any]:
        record = self.get(assistant_id)
        key = record["assistant_id"]
        del self.records[key]
        del self.versions[key]
        self.store.delete_assistant(key)
        return record

    def history(self, assistant_id: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Versions, newest first, filtered by ``metadata``."""
        record = self.get(assistant_id)
        wanted = _object(body, "metadata") or {}
        items = [
            v
            for v in self.versions[record["assistant_id"]]
            if all(v["metadata"].get(k) == val for k, val in wanted.items())
        ]
        return sorted(items, key=lambda v: int(v["version"]), reverse=True)
