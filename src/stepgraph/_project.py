"""Events → stream chunks, per requested mode. Pure: no I/O, no ``await``.

Shapes follow LangGraph: one mode → bare payload; a list of modes → ``(mode, payload)``;
``subgraphs=True`` prefixes the namespace; ``version="v2"`` gives
``{"type", "ns", "data"}`` dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

from ._events import (
    CheckpointEvent,
    CustomEvent,
    Event,
    InterruptEvent,
    MessageEvent,
    TaskResultEvent,
    TaskStartEvent,
    UpdatesEvent,
    ValuesEvent,
)
from ._writer import MODE_NEEDS

__all__ = ["ALL_MODES", "Projection"]

ALL_MODES = ("values", "updates", "custom", "messages", "debug", "tasks", "checkpoints")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _interrupt_dicts(interrupts: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"value": i.value, "id": i.id, "response_schema": i.response_schema} for i in interrupts
    ]


@attrs.frozen
class Projection:
    """How a run's events become the chunks one ``stream()`` call yields."""

    modes: tuple[str, ...]
    single: bool
    """``stream_mode`` was a single string (bare payloads)."""
    subgraphs: bool = False
    version: str = "v1"
    output_keys: str | tuple[str, ...] | None = None

    @staticmethod
    def create(
        stream_mode: str | Sequence[str],
        *,
        subgraphs: bool = False,
        version: str = "v1",
        output_keys: str | Sequence[str] | None = None,
    ) -> Projection:
        single = isinstance(stream_mode, str)
        modes = (
            (stream_mode,) if isinstance(stream_mode, str) else tuple(dict.fromkeys(stream_mode))
        )
        for mode in modes:
            if mode not in ALL_MODES:
                raise ValueError(
                    f"Unknown stream_mode {mode!r}; choose from {', '.join(ALL_MODES)}"
                )
        if version not in ("v1", "v2"):
            raise ValueError(f"Unknown stream version {version!r}; use 'v1' or 'v2'")
        keys = (
            output_keys
            if output_keys is None or isinstance(output_keys, str)
            else tuple(output_keys)
        )
        return Projection(modes, single, subgraphs, version, keys)

    @property
    def wants(self) -> frozenset[str]:
        """Event kinds the engine must produce for these modes."""
        out: frozenset[str] = frozenset()
        for mode in self.modes:
            out |= MODE_NEEDS[mode]
        return out

    def _wrap(self, ns: tuple[str, ...], mode: str, payload: Any, interrupts: Any = None) -> Any:
        if self.version == "v2":
            part: dict[str, Any] = {"type": mode, "ns": ns, "data": payload}
            if mode == "values":
                part["interrupts"] = tuple(interrupts or ())
            return part
        if self.subgraphs:
            return (ns, payload) if self.single else (ns, mode, payload)
        return payload if self.single else (mode, payload)

    def _values_payload(self, event: ValuesEvent) -> tuple[bool, Any]:
        keys = self.output_keys
        values = event.values
        if keys is None:
            return True, values
        if isinstance(keys, str):
            if event.written is not None and keys not in event.written:
                return False, None
            return keys in values, values.get(keys)
        if event.written is not None and not any(k in event.written for k in keys):
            return False, None
        return True, {k: values[k] for k in keys if k in values}

    def project(self, event: Event) -> list[Any]:
        """The chunks ``event`` becomes (often none)."""
        ns = event.ns
        if ns and not self.subgraphs:
            return []
        modes = self.modes
        out: list[Any] = []
        if isinstance(event, ValuesEvent):
            if "values" in modes:
                show, payload = self._values_payload(event)
                if show:
                    if event.interrupts is not None and self.version == "v1":
                        payload = (
                            {**payload, "__interrupt__": event.interrupts}
                            if isinstance(payload, dict)
                            else payload
                        )
                    out.append(self._wrap(ns, "values", payload, event.interrupts))
        elif isinstance(event, UpdatesEvent):
            if "updates" in modes:
                update = event.update
                keys = self.output_keys
                if keys is not None and isinstance(update, dict):
                    if isinstance(keys, str):
                        update = update.get(keys)
                    else:
                        update = {k: v for k, v in update.items() if k in keys} or None
                chunk: dict[str, Any] = {event.node: update}
                if event.cached:
                    chunk["__metadata__"] = {"cached": True}
                out.append(self._wrap(ns, "updates", chunk))
        elif isinstance(event, InterruptEvent):
            if "updates" in modes:
                out.append(self._wrap(ns, "updates", {"__interrupt__": event.interrupts}))
        elif isinstance(event, CustomEvent):
            if "custom" in modes:
                out.append(self._wrap(ns, "custom", event.data))
        elif isinstance(event, MessageEvent):
            if "messages" in modes:
                out.append(self._wrap(ns, "messages", (event.message, event.metadata)))
        elif isinstance(event, TaskStartEvent):
            payload = {
                "id": event.id,
                "name": event.name,
                "input": event.input,
                "triggers": event.triggers,
            }
            if event.metadata is not None:
                payload["metadata"] = event.metadata
            if "tasks" in modes:
                out.append(self._wrap(ns, "tasks", payload))
            if "debug" in modes:
                out.append(
                    self._wrap(
                        ns,
                        "debug",
                        {
                            "step": event.step,
                            "timestamp": _now(),
                            "type": "task",
                            "payload": payload,
                        },
                    )
                )
        elif isinstance(event, TaskResultEvent):
            payload = {
                "id": event.id,
                "name": event.name,
                "error": event.error,
                "result": event.result,
                "interrupts": _interrupt_dicts(event.interrupts),
            }
            if "tasks" in modes:
                out.append(self._wrap(ns, "tasks", payload))
            if "debug" in modes:
                out.append(
                    self._wrap(
                        ns,
                        "debug",
                        {
                            "step": event.step,
                            "timestamp": _now(),
                            "type": "task_result",
                            "payload": payload,
                        },
                    )
                )
        elif isinstance(event, CheckpointEvent):
            if "checkpoints" in modes:
                out.append(self._wrap(ns, "checkpoints", event.payload))
            if "debug" in modes:
                out.append(
                    self._wrap(
                        ns,
                        "debug",
                        {
                            "step": event.step,
                            "timestamp": _now(),
                            "type": "checkpoint",
                            "payload": event.payload,
                        },
                    )
                )
        return out
