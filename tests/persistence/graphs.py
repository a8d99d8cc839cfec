"""Small graphs and helpers shared by the persistence tests.

Nodes append their name to ``log`` (an ``operator.add`` reducer), so a thread's state
shows which nodes ran, in the order LangGraph applies writes; ``Calls`` counts how
often each node function actually ran (re-runs on resume show up there, not in state).
"""

from __future__ import annotations

import itertools
import operator
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from typing_extensions import TypedDict

from stepgraph.graph import END, START, StateGraph
from stepgraph.types import StateSnapshot, interrupt

__all__ = [
    "Calls",
    "State",
    "appender",
    "asker",
    "chain",
    "fan_out",
    "history",
    "thread",
    "triples",
]


class State(TypedDict):
    log: Annotated[list[str], operator.add]


class Calls:
    """How many times each node ran; safe for sync nodes in worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def hit(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def __getitem__(self, name: str) -> int:
        return self.counts[name]

    def as_dict(self) -> dict[str, int]:
        return dict(self.counts)


def appender(name: str, calls: Calls) -> Callable[[State], Awaitable[dict[str, Any]]]:
    """An async node that logs ``name``."""

    async def node(state: State) -> dict[str, Any]:
        calls.hit(name)
        return {"log": [name]}

    node.__name__ = name
    return node


def asker(
    name: str, calls: Calls, questions: int = 1
) -> Callable[[State], Awaitable[dict[str, Any]]]:
    """An async node asking ``questions`` times; logs ``name:answer1:answer2...``."""

    async def node(state: State) -> dict[str, Any]:
        calls.hit(name)
        answers = [str(interrupt(f"{name}?{i}" if i else f"{name}?")) for i in range(questions)]
        return {"log": [":".join([name, *answers])]}

    node.__name__ = name
    return node


def chain(saver: Any, *names: str, calls: Calls | None = None, **compile_kw: Any) -> Any:
    """START → names[0] → … → names[-1] → END, each node an :func:`appender`."""
    calls = calls if calls is not None else Calls()
    builder = StateGraph(State)
    for name in names:
        builder.add_node(name, appender(name, calls))
    builder.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        builder.add_edge(a, b)
    builder.add_edge(names[-1], END)
    return builder.compile(checkpointer=saver, **compile_kw)


def fan_out(
    saver: Any,
    calls: Calls,
    branches: Mapping[str, Callable[..., Any]],
    **compile_kw: Any,
) -> Any:
    """START → a → every branch (one step, in parallel) → z → END."""
    builder = StateGraph(State)
    builder.add_node("a", appender("a", calls))
    builder.add_node("z", appender("z", calls))
    builder.add_edge(START, "a")
    for name, fn in branches.items():
        builder.add_node(name, fn)
        builder.add_edge("a", name)
        builder.add_edge(name, "z")
    builder.add_edge("z", END)
    return builder.compile(checkpointer=saver, **compile_kw)


def thread(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **extra}}


async def history(graph: Any, config: Mapping[str, Any], **kwargs: Any) -> list[StateSnapshot]:
    return [s async for s in graph.aget_state_history(config, **kwargs)]


def triples(snapshots: list[StateSnapshot]) -> list[tuple[str, int, tuple[str, ...]]]:
    """``(source, step, next)`` of each snapshot, as LangGraph's docs list them."""
    return [(s.metadata["source"], s.metadata["step"], s.next) for s in snapshots]  # type: ignore[index]
