"""Every exception stepgraph raises.

One root, :class:`StepgraphError`; where callers already catch a stdlib class, the
exception also subclasses it (``GraphRecursionError`` is a ``RecursionError``,
``InvalidUpdateError`` a ``ValueError``), so LangGraph programs keep working.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import Command, Interrupt

__all__ = [
    "EmptyChannelError",
    "EmptyInputError",
    "ErrorCode",
    "GraphInterrupt",
    "GraphRecursionError",
    "InvalidUpdateError",
    "NodeInterrupt",
    "NodeTimeoutError",
    "ParentCommand",
    "SlowRouterWarning",
    "StepgraphError",
    "create_error_message",
]


class ErrorCode(Enum):
    """Troubleshooting codes; each has a page in LangGraph's docs."""

    GRAPH_RECURSION_LIMIT = "GRAPH_RECURSION_LIMIT"
    INVALID_CONCURRENT_GRAPH_UPDATE = "INVALID_CONCURRENT_GRAPH_UPDATE"
    INVALID_GRAPH_NODE_RETURN_VALUE = "INVALID_GRAPH_NODE_RETURN_VALUE"
    MULTIPLE_SUBGRAPHS = "MULTIPLE_SUBGRAPHS"
    INVALID_CHAT_HISTORY = "INVALID_CHAT_HISTORY"


def create_error_message(*, message: str, error_code: ErrorCode) -> str:
    """``message`` followed by the troubleshooting link for ``error_code``."""
    return (
        f"{message}\nFor troubleshooting, visit: https://docs.langchain.com/oss/python/"
        f"langgraph/errors/{error_code.value}"
    )


class StepgraphError(Exception):
    """Root of every stepgraph exception."""


class GraphRecursionError(StepgraphError, RecursionError):
    """The run executed ``recursion_limit`` supersteps without reaching its end."""

    def __init__(self, limit: int | str) -> None:
        if isinstance(limit, str):  # LangGraph-style construction from a message
            super().__init__(limit)
            self.limit: int | None = None
            return
        self.limit = limit
        super().__init__(
            create_error_message(
                message=(
                    f"Recursion limit of {limit} reached without hitting a stop condition. "
                    "You can increase the limit by setting the `recursion_limit` config key."
                ),
                error_code=ErrorCode.GRAPH_RECURSION_LIMIT,
            )
        )


class InvalidUpdateError(StepgraphError, ValueError):
    """A node produced writes that cannot be applied to the state."""


class EmptyInputError(StepgraphError, ValueError):
    """The run was given no input and there is nothing to resume."""


class EmptyChannelError(StepgraphError, LookupError):
    """A state key was read before anything was written to it."""


class NodeTimeoutError(StepgraphError, TimeoutError):
    """A node ran longer than its ``timeout``."""

    def __init__(self, node: str, timeout: float) -> None:
        self.node = node
        self.timeout = timeout
        super().__init__(
            f"Node {node!r} did not finish within its timeout of {timeout:g} seconds. "
            f"Raise the limit with add_node({node!r}, ..., timeout=<seconds>) or make the node faster."
        )


class GraphInterrupt(StepgraphError):
    """Raised inside a node by :func:`stepgraph.types.interrupt`; the run pauses.

    Catching it (``except Exception``) in a node defeats the interrupt; re-raise it.
    """

    def __init__(self, interrupts: Sequence[Interrupt] = ()) -> None:
        super().__init__(tuple(interrupts))
        self.interrupts: tuple[Interrupt, ...] = tuple(interrupts)


class NodeInterrupt(GraphInterrupt):
    """Deprecated in LangGraph: raise to interrupt with a value. Prefer ``interrupt()``."""

    def __init__(self, value: Any, id: str | None = None) -> None:
        from .types import Interrupt

        super().__init__([Interrupt(value=value, id=id or "")])


class SlowRouterWarning(StepgraphError, RuntimeWarning):
    """A sync router blocked the event loop (see :data:`stepgraph._execute.SLOW_ROUTER`);
    stepgraph runs it in worker threads from then on."""


class ParentCommand(StepgraphError):
    """A subgraph returned ``Command(graph=Command.PARENT, ...)`` with no parent to route to."""

    def __init__(self, command: Command[Any]) -> None:
        super().__init__(command)
        self.command = command
