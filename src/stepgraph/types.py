"""Values that nodes return, raise or receive: ``Send``, ``Command``, ``interrupt``…"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar, Union

import attrs
from typing_extensions import TypedDict

from ._interrupt import interrupt

__all__ = [
    "All",
    "CachePolicy",
    "Command",
    "Durability",
    "GraphOutput",
    "Interrupt",
    "Overwrite",
    "PregelTask",
    "RetryPolicy",
    "Send",
    "StateSnapshot",
    "StreamMode",
    "StreamPart",
    "StreamWriter",
    "default_retry_on",
    "interrupt",
]

N = TypeVar("N", bound=Hashable)

All = Literal["*"]
StreamMode = Literal["values", "updates", "custom", "messages", "debug", "tasks", "checkpoints"]
Durability = Literal["sync", "async", "exit"]
StreamWriter = Callable[[Any], None]
"""What a node's ``writer`` parameter and ``get_stream_writer()`` give: ``writer(data)``."""


@attrs.frozen(repr=False)
class Send:
    """Run ``node`` in the next step with ``arg`` as its input (instead of the state)."""

    node: str
    arg: Any

    def __repr__(self) -> str:
        return f"Send(node={self.node!r}, arg={self.arg!r})"


@attrs.frozen(kw_only=True, repr=False)
class Command(Generic[N]):
    """Update the state and choose where to go next, from one return value.

    ``graph=Command.PARENT`` sends the command to the graph that hosts this subgraph.
    As a run input, ``Command(resume=...)`` answers pending ``interrupt()`` calls.
    """

    graph: str | None = None
    update: Any = None
    resume: Any = None
    goto: Send | Sequence[Send | N] | N = ()

    PARENT: ClassVar[Literal["__parent__"]] = "__parent__"

    def __repr__(self) -> str:
        shown = [
            f"{name}={value!r}"
            for name, value in (
                ("graph", self.graph),
                ("update", self.update),
                ("resume", self.resume),
                ("goto", self.goto),
            )
            if value not in (None, ())
        ]
        return f"Command({', '.join(shown)})"


@attrs.frozen(repr=False)
class Interrupt:
    """A pause requested by ``interrupt(value)``; ``id`` names it when resuming."""

    value: Any
    id: str = ""
    response_schema: Any = None

    def __repr__(self) -> str:
        return (
            f"Interrupt(value={self.value!r}, id={self.id!r}, "
            f"response_schema={self.response_schema!r})"
        )


@attrs.frozen
class Overwrite:
    """Write ``value`` to a reducer key as is, bypassing the reducer."""

    value: Any


def default_retry_on(exc: Exception) -> bool:
    """LangGraph's default: retry everything but programming errors and most OS errors."""
    if isinstance(exc, ConnectionError):
        return True
    if isinstance(
        exc,
        (
            ValueError,
            TypeError,
            ArithmeticError,
            ImportError,
            LookupError,
            NameError,
            SyntaxError,
            RuntimeError,
            ReferenceError,
            StopIteration,
            StopAsyncIteration,
            OSError,
        ),
    ):
        return False
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and type(exc).__module__.split(".")[0] in ("httpx", "requests"):
        return 500 <= status < 600
    return True


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How to retry a failing node: attempt ``n`` waits
    ``min(max_interval, initial_interval * backoff_factor**(n-1))`` seconds, plus up to
    one second of jitter."""

    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: type[BaseException] | Sequence[type[BaseException]] | Callable[[Exception], bool] = (
        default_retry_on
    )

    def should_retry(self, exc: Exception) -> bool:
        """Whether ``exc`` is worth another attempt under this policy."""
        retry_on = self.retry_on
        if isinstance(retry_on, Sequence):
            return isinstance(exc, tuple(retry_on))
        if isinstance(retry_on, type) and issubclass(retry_on, BaseException):
            return isinstance(exc, retry_on)
        return bool(retry_on(exc))  # type: ignore[call-arg]

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        base = min(self.max_interval, self.initial_interval * self.backoff_factor ** (attempt - 1))
        return base + (random.uniform(0, 1) if self.jitter else 0.0)


@attrs.frozen(kw_only=True)
class CachePolicy:
    """Accepted for LangGraph compatibility; stepgraph does not cache node results yet."""

    key_func: Callable[..., Any] | None = None
    ttl: int | None = None


class PregelTask(NamedTuple):
    """A task of a state snapshot: pending, interrupted, failed or finished."""

    id: str
    name: str
    path: tuple[Any, ...]
    error: Exception | None = None
    interrupts: tuple[Interrupt, ...] = ()
    state: Any = None
    result: Any | None = None


class StateSnapshot(NamedTuple):
    """A thread's state at one checkpoint (``get_state``)."""

    values: dict[str, Any] | Any
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Interrupt, ...] = ()


class StreamPart(TypedDict, total=False):
    """A ``version="v2"`` stream chunk: ``{"type", "ns", "data"}`` (+ ``interrupts``
    for values parts) and ``seq``, the gap-free run-wide sequence number."""

    type: str
    ns: tuple[str, ...]
    data: Any
    interrupts: tuple[Interrupt, ...]
    seq: int


@attrs.frozen
class GraphOutput:
    """What ``invoke(..., version="v2")`` returns."""

    value: Any
    interrupts: tuple[Interrupt, ...] = ()


_ = Union  # keep typing imports explicit for older Pythons' get_type_hints
