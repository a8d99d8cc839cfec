"""Frozen event records: the only vocabulary from the engine to the stream modes."""

from __future__ import annotations

from typing import Any

import attrs

from .types import Interrupt

__all__ = [
    "CheckpointEvent",
    "CustomEvent",
    "Event",
    "InterruptEvent",
    "MessageEvent",
    "StepBarrier",
    "TaskResultEvent",
    "TaskStartEvent",
    "UpdatesEvent",
    "ValuesEvent",
]

NS = tuple[str, ...]


@attrs.frozen
class ValuesEvent:
    """The full state after a step (``values`` mode)."""

    ns: NS
    values: dict[str, Any]
    interrupts: tuple[Interrupt, ...] | None = None
    """Set on the extra chunk that reports an interrupt."""
    written: tuple[str, ...] | None = None
    """Keys the step wrote (None: unknown/all), for ``output_keys`` filtering."""


@attrs.frozen
class UpdatesEvent:
    """What one finished task wrote (``updates`` mode)."""

    ns: NS
    node: str
    update: Any
    cached: bool = False


@attrs.frozen
class InterruptEvent:
    """The run paused: ``{'__interrupt__': interrupts}`` in ``updates`` mode."""

    ns: NS
    interrupts: tuple[Interrupt, ...]


@attrs.frozen
class CustomEvent:
    """Data a node passed to its stream writer (``custom`` mode)."""

    ns: NS
    data: Any


@attrs.frozen
class MessageEvent:
    """A message (chunk) produced inside a node (``messages`` mode)."""

    ns: NS
    message: Any
    metadata: dict[str, Any]


@attrs.frozen
class TaskStartEvent:
    """A task was scheduled (``tasks`` / ``debug`` modes)."""

    ns: NS
    step: int
    id: str
    name: str
    input: Any
    triggers: tuple[str, ...]
    metadata: dict[str, Any] | None = None


@attrs.frozen
class TaskResultEvent:
    """A task ended: its writes, its error or its interrupts (``tasks`` / ``debug``)."""

    ns: NS
    step: int
    id: str
    name: str
    error: BaseException | None
    result: Any
    interrupts: tuple[Interrupt, ...] = ()


@attrs.frozen
class CheckpointEvent:
    """A checkpoint was created (``checkpoints`` / ``debug``)."""

    ns: NS
    step: int
    payload: dict[str, Any]


@attrs.frozen(eq=False)
class StepBarrier:
    """Between supersteps: the run waits until the consumer, having read every chunk
    before this marker, asks for more (then ``released`` is set)."""

    released: Any
    ns: NS = ()


Event = (
    StepBarrier
    | ValuesEvent
    | UpdatesEvent
    | InterruptEvent
    | CustomEvent
    | MessageEvent
    | TaskStartEvent
    | TaskResultEvent
    | CheckpointEvent
)
