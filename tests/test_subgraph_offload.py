"""The sync API's fan-out fast path (``stepgraph._offload``).

Under ``invoke``/``stream``, a subgraph task that has siblings in its step and can run
entirely synchronously runs its whole nested run in one worker thread, on that
thread's private loop (its lone sync nodes inline). Each test runs a graph with the
fast path (checking that it was taken) and without it, and compares what came out;
other tests check which runs must not take it, and that a cancelled parent stops the
offloaded run between its node calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import re
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypedDict

import pytest

import stepgraph._compiled as compiled
import stepgraph._offload as offload
from stepgraph.checkpoint.memory import InMemorySaver
from stepgraph.config import get_config, get_stream_writer
from stepgraph.errors import GraphRecursionError
from stepgraph.graph import END, START, StateGraph
from stepgraph.runtime import get_runtime
from stepgraph.types import Command, Send, interrupt

#: bounds every wait in these tests, so a bug fails them instead of hanging them
_HANG_GUARD = 30


class Parent(TypedDict, total=False):
    subjects: list[str]
    results: Annotated[list[str], operator.add]


class Sub(TypedDict, total=False):
    subject: str
    results: Annotated[list[str], operator.add]


def _edit(state: Sub) -> dict[str, Any]:
    return {"subject": state["subject"].title()}


def _draft(state: Sub) -> dict[str, Any]:
    return {"results": [f"note on {state['subject']}"]}


def _review(state: Sub) -> dict[str, Any]:
    return {"results": [f"{len(state['results'])} reviewed on {state['subject']}"]}


def _chain(*nodes: Callable[..., Any], state: Any = Sub, **compile: Any) -> Any:
    builder = StateGraph(state)
    previous = START
    for node in nodes:
        builder.add_node(node.__name__, node)
        builder.add_edge(previous, node.__name__)
        previous = node.__name__
    builder.add_edge(previous, END)
    return builder.compile(**compile)


def _fanout(sub: Any, *extra: Callable[..., Any], **compile: Any) -> Any:
    """A parent that sends each subject to the subgraph node ``subject`` (and runs each
    of ``extra`` beside them)."""

    def fan_out(state: Parent) -> list[Send]:
        sends = [Send("subject", {"subject": s}) for s in state["subjects"]]
        return sends + [Send(fn.__name__, state) for fn in extra]

    builder = StateGraph(Parent).add_node("subject", sub)
    for fn in extra:
        builder.add_node(fn.__name__, fn)
    targets = ["subject", *(fn.__name__ for fn in extra)]
    builder.add_conditional_edges(START, fan_out, targets)
    return builder.compile(**compile)


_SUBJECTS = {"subjects": ["ada", "bob", "cy"], "results": []}


@pytest.fixture
def offloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the subgraphs whose runs took the fast path (one entry per run)."""
    taken: list[str] = []
    real = compiled.run_offloaded

    async def spy(driver: Any, graph: Any, value: Any, ctx: Any) -> Any:
        taken.append(graph.name)
        return await real(driver, graph, value, ctx)

    monkeypatch.setattr(compiled, "run_offloaded", spy)
    return taken


@pytest.fixture
def slow_path(monkeypatch: pytest.MonkeyPatch) -> Callable[[], Any]:
    """A context manager under which no run takes the fast path."""

    @contextlib.contextmanager
    def disabled() -> Iterator[None]:
        with monkeypatch.context() as patch:
            patch.setattr(compiled, "offload_driver", lambda graph, ctx: None)
            yield

    return disabled


_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}")


def _outcome(call: Callable[[], Any]) -> Any:
    """What ``call()`` returns, or the type, text and notes of what it raises (as text,
    with the ids of tasks and interrupts, which differ from run to run, left out)."""
    try:
        found: Any = ("returned", call())
    except Exception as exc:
        found = ("raised", type(exc), str(exc), getattr(exc, "__notes__", None))
    return _ID.sub("<id>", repr(found))


def _both(
    call: Callable[[], Any], offloads: list[str], slow_path: Callable[[], Any]
) -> tuple[Any, Any]:
    """``call()``'s outcome with the fast path (which it must take) and without it."""
    fast = _outcome(call)
    assert offloads, "the fast path was not taken"
    taken = len(offloads)
    with slow_path():
        slow = _outcome(call)
    assert len(offloads) == taken
    return fast, slow


# -- the same results -----------------------------------------------------------------


def test_fanout_to_a_sync_subgraph_runs_each_subgraph_in_one_worker_thread(
    offloads: list[str], slow_path: Callable[[], Any]
) -> None:
    threads: dict[str, set[int]] = {}
    lock = threading.Lock()

    def edit(state: Sub) -> dict[str, Any]:
        with lock:
            threads.setdefault(state["subject"], set()).add(threading.get_ident())
        return _edit(state)

    def draft(state: Sub) -> dict[str, Any]:
        with lock:
            threads[state["subject"].lower()].add(threading.get_ident())
        return _draft(state)

    graph = _fanout(_chain(edit, draft, _review))
    fast = graph.invoke(_SUBJECTS)
    assert len(offloads) == 3  # one per Send
    assert all(len(seen) == 1 for seen in threads.values())  # (slow path: any threads)
    assert threading.get_ident() not in set().union(*threads.values())
    assert fast["results"][:2] == ["note on Ada", "1 reviewed on Ada"]
    with slow_path():
        assert graph.invoke(_SUBJECTS) == fast
    assert len(offloads) == 3


def test_streamed_parent_chunks_are_the_same(
    offloads: list[str], slow_path: Callable[[], Any]
) -> None:
    graph = _fanout(_chain(_edit, _draft, _review))

    def stream() -> list[Any]:
        modes = ["values", "updates", "tasks"]
        return list(graph.stream(_SUBJECTS, stream_mode=modes, deterministic=True))

    fast, slow = _both(stream, offloads, slow_path)
    assert fast == slow


def test_nested_subgraphs_and_parallel_steps_inside_the_offloaded_run(
    offloads: list[str], slow_path: Callable[[], Any]
) -> None:
    """A subgraph step with two sync tasks still runs them concurrently (each waits
    for the other at a barrier)."""
    barriers: dict[str, threading.Barrier] = {}
    lock = threading.Lock()

    def left(state: Sub) -> dict[str, Any]:
        with lock:
            barrier = barriers.setdefault(state["subject"], threading.Barrier(2))
        barrier.wait(timeout=_HANG_GUARD)
        return {"results": ["left"]}

    def right(state: Sub) -> dict[str, Any]:
        with lock:
            barrier = barriers.setdefault(state["subject"], threading.Barrier(2))
        barrier.wait(timeout=_HANG_GUARD)
        return {"results": ["right"]}

    inner = _chain(_edit, _draft)
    middle = (
        StateGraph(Sub)
        .add_node("inner", inner)
        .add_node(left)
        .add_node(right)
        .add_edge(START, "inner")
        .add_edge("inner", "left")
        .add_edge("inner", "right")
        .compile(name="middle")
    )
    graph = _fanout(middle)

    def run() -> Any:
        barriers.clear()
        return graph.invoke(_SUBJECTS)

    fast, slow = _both(run, offloads, slow_path)
    assert fast == slow
    assert "'results': ['note on Ada', 'left', 'right'," in fast
    assert set(offloads) == {"middle"}


def test_config_writer_and_runtime_inside_the_offloaded_run(
    offloads: list[str], slow_path: Callable[[], Any]
) -> None:
    def look(state: Sub) -> dict[str, Any]:
        config = get_config()
        get_stream_writer()("nobody reads this")  # no custom mode: a no-op, as usual
        seen = (
            config["metadata"]["langgraph_node"],
            config["configurable"]["checkpoint_ns"].count("|"),
            config["configurable"]["user"],
            config["tags"],
            get_runtime().context,
        )
        return {"results": [repr(seen)]}

    graph = _fanout(_chain(look))

    def run() -> Any:
        config = {"configurable": {"user": "u1"}, "tags": ["t"]}
        return graph.invoke(_SUBJECTS, config, context={"tenant": 7})

    fast, slow = _both(run, offloads, slow_path)
    assert fast == slow
    assert repr(repr(("look", 1, "u1", ["t"], {"tenant": 7}))) in fast


# -- errors, Command.PARENT, interrupts, recursion limit -------------------------------


def test_an_exception_inside_the_offloaded_run(
    offloads: list[str], slow_path: Callable[[], Any]
) -> None:
    def draft(state: Sub) -> dict[str, Any]:
        if state["subject"] == "Bob":
            raise KeyError("no notes on bob")
        return _draft(state)

    graph = _fanout(_chain(_edit, draft))
    fast, slow = _both(lambda: graph.invoke(_SUBJECTS), offloads, slow_path)
    assert fast == slow
    assert fast.startswith("('raised', <class 'KeyError'>, \"'no notes on bob'\", ")
    if sys.version_info >= (3, 11):
        assert fast.endswith(
            "[\"During task with name 'draft' and id '<id>'\", "
            "\"During task with name 'subject' and id '<id>'\"])"
        )


def test_command_to_the_parent_graph(offloads: list[str], slow_path: Callable[[], Any]) -> None:
    def escalate(state: Sub) -> Command[Any]:
        return Command(graph=Command.PARENT, goto="summary", update={"results": ["up"]})

    def summary(state: Parent) -> dict[str, Any]:
        return {"results": [f"summary of {len(state['results'])}"]}

    graph = (
        StateGraph(Parent)
        .add_node("subject", _chain(_edit, escalate))
        .add_node(summary)
        .add_conditional_edges(
            START, lambda s: [Send("subject", {"subject": x}) for x in s["subjects"]]
        )
        .compile()
    )
    fast, slow = _both(lambda: graph.invoke(_SUBJECTS), offloads, slow_path)
    assert fast == slow
    assert "'results': ['up', 'up', 'up', 'summary of 3']" in fast


def test_interrupt_inside_the_offloaded_run(
    offloads: list[str], slow_path: Callable[[], Any]
) -> None:
    def ask(state: Sub) -> dict[str, Any]:
        return {"results": [interrupt(f"about {state['subject']}?")]}

    graph = _fanout(_chain(_edit, ask))
    fast, slow = _both(lambda: graph.invoke(_SUBJECTS), offloads, slow_path)
    assert fast == slow
    assert "Interrupt(value='about Cy?', id='<id>'" in fast


def test_recursion_limit_inside_the_offloaded_run(
    offloads: list[str], slow_path: Callable[[], Any]
) -> None:
    def again(state: Sub) -> dict[str, Any]:
        return {"results": ["again"]}

    looping = (
        StateGraph(Sub)
        .add_node(again)
        .add_edge(START, "again")
        .add_conditional_edges("again", lambda s: "again")
        .compile()
    )
    graph = _fanout(looping)
    fast, slow = _both(lambda: graph.invoke(_SUBJECTS, {"recursion_limit": 4}), offloads, slow_path)
    assert fast == slow
    assert fast.startswith(f"('raised', {GraphRecursionError!r}, ")


# -- runs that keep the usual path ------------------------------------------------------


async def _async_draft(state: Sub) -> dict[str, Any]:
    return _draft(state)


def _usual_path_cases() -> dict[str, Callable[[], Any]]:
    sub = _chain(_edit, _draft)
    with_async_node = _fanout(_chain(_edit, _async_draft))
    with_async_grandchild = _fanout(
        StateGraph(Sub).add_node("inner", _chain(_async_draft)).add_edge(START, "inner").compile()
    )

    async def async_route(state: Sub) -> str:
        return END

    with_async_router = _fanout(
        StateGraph(Sub)
        .add_node(_edit)
        .add_edge(START, "_edit")
        # a router the nested run would call on its own loop
        .add_conditional_edges("_edit", async_route)
        .compile()
    )
    invoker = _chain(_draft)

    def calls_a_graph(state: Sub) -> dict[str, Any]:
        return {"results": invoker.invoke({"subject": state["subject"]})["results"]}

    with_inner_invoke = _fanout(_chain(_edit, calls_a_graph))
    with_timeout = _fanout(
        StateGraph(Sub).add_node(_draft, timeout=30).add_edge(START, "_draft").compile()
    )
    with_store = _fanout(_chain(_edit, _draft, store=object()))
    saver = InMemorySaver()
    with_checkpointer = _fanout(sub, checkpointer=saver)
    with_own_checkpointer = _fanout(_chain(_edit, _draft, checkpointer=InMemorySaver()))
    plain = _fanout(sub)
    thread = {"configurable": {"thread_id": "t"}}
    return {
        "subgraphs=True": lambda: list(plain.stream(_SUBJECTS, subgraphs=True)),
        "custom mode": lambda: list(plain.stream(_SUBJECTS, stream_mode="custom")),
        "messages mode": lambda: list(plain.stream(_SUBJECTS, stream_mode="messages")),
        "a lone task": lambda: plain.invoke({"subjects": ["ada"], "results": []}),
        "an async node": lambda: with_async_node.invoke(_SUBJECTS),
        "an async node two levels down": lambda: with_async_grandchild.invoke(_SUBJECTS),
        "an async router": lambda: with_async_router.invoke(_SUBJECTS),
        "a node that invokes a graph": lambda: with_inner_invoke.invoke(_SUBJECTS),
        "a node timeout": lambda: with_timeout.invoke(_SUBJECTS),
        "a store": lambda: with_store.invoke(_SUBJECTS),
        "the parent's checkpointer": lambda: with_checkpointer.invoke(_SUBJECTS, thread),
        "the subgraph's own checkpointer": lambda: with_own_checkpointer.invoke(_SUBJECTS, thread),
        "the asyncio API": lambda: asyncio.run(plain.ainvoke(_SUBJECTS)),
    }


@pytest.mark.parametrize("case", list(_usual_path_cases()))
def test_runs_that_keep_the_usual_path(case: str, offloads: list[str]) -> None:
    _usual_path_cases()[case]()  # (runs to completion)
    assert offloads == []


def test_a_trio_run_keeps_the_usual_path(offloads: list[str]) -> None:
    trio = pytest.importorskip("trio")
    graph = _fanout(_chain(_edit, _draft))
    assert trio.run(graph.ainvoke, _SUBJECTS)["results"][0] == "note on Ada"
    assert offloads == []


# -- cancellation -------------------------------------------------------------------------


class _Stops:
    """Records when a fast-path run is told to stop: its stop event is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.told = threading.Event()
        told = self.told

        class StopEvent(threading.Event):
            def set(self) -> None:
                super().set()
                told.set()

        monkeypatch.setattr(offload, "Event", StopEvent)


def _blocking_subgraph(started: threading.Event, stops: _Stops, ran: list[str]) -> Any:
    """A subgraph whose first node waits until its run is told to stop."""

    def first(state: Sub) -> dict[str, Any]:
        ran.append("first")
        started.set()
        assert stops.told.wait(timeout=_HANG_GUARD)
        return {"results": ["first"]}

    def second(state: Sub) -> dict[str, Any]:
        ran.append("second")  # never: the run stops before this call
        return {"results": ["second"]}

    return _chain(first, second)


def test_a_failing_sibling_stops_the_offloaded_run_before_its_next_node(
    monkeypatch: pytest.MonkeyPatch, offloads: list[str]
) -> None:
    stops = _Stops(monkeypatch)
    started = threading.Event()
    ran: list[str] = []

    def boom(state: Parent) -> dict[str, Any]:
        assert started.wait(timeout=_HANG_GUARD)
        raise ValueError("sibling failed")

    graph = _fanout(_blocking_subgraph(started, stops, ran), boom)
    with pytest.raises(ValueError, match="sibling failed"):
        graph.invoke({"subjects": ["ada"], "results": []})
    assert len(offloads) == 1
    assert ran == ["first"]


def test_closing_the_sync_stream_stops_the_offloaded_run(
    monkeypatch: pytest.MonkeyPatch, offloads: list[str]
) -> None:
    stops = _Stops(monkeypatch)
    started = threading.Event()
    ran: list[str] = []

    def other(state: Parent) -> dict[str, Any]:
        assert started.wait(timeout=_HANG_GUARD)
        return {"results": ["other"]}

    graph = _fanout(_blocking_subgraph(started, stops, ran), other)
    stream = graph.stream({"subjects": ["ada"], "results": []}, stream_mode="updates")
    assert next(stream) == {"other": {"results": ["other"]}}
    stream.close()  # cancels the run while the subgraph's first node still runs
    assert len(offloads) == 1
    assert ran == ["first"]
    # the driver and its threads serve the next run as before
    assert _fanout(_chain(_edit, _draft)).invoke(_SUBJECTS)["results"][0] == "note on Ada"


def test_a_store_given_to_a_subgraph_later_is_seen(offloads: list[str]) -> None:
    inner = _chain(_draft)
    middle = StateGraph(Sub).add_node("inner", inner).add_edge(START, "inner").compile()
    graph = _fanout(middle)
    graph.invoke(_SUBJECTS)
    assert len(offloads) == 3
    inner.store = object()  # (as the server sets a graph's store and checkpointer)
    graph.invoke(_SUBJECTS)
    assert len(offloads) == 3
    inner.store = None
    inner.checkpointer = InMemorySaver()
    graph.invoke(_SUBJECTS, {"configurable": {"thread_id": "t"}})
    assert len(offloads) == 3
