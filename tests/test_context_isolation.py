"""Every node and router runs in a copy of the caller's context, as in LangGraph: what
it sets with ``ContextVar.set()`` is seen neither by the caller nor by later nodes,
even for the lone task of a step (which runs in the caller's own task)."""

from __future__ import annotations

import contextvars
from typing import Any

import anyio
import pytest
from typing_extensions import TypedDict

from stepgraph import END, START, StateGraph
from stepgraph._isolate import isolated

pytestmark = pytest.mark.anyio

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


class State(TypedDict, total=False):
    seen: list[str]


def _graph(first: Any, second: Any, router: Any = None) -> Any:
    builder = StateGraph(State).add_node("first", first).add_node("second", second)
    builder.add_edge(START, "first")
    if router is None:
        builder.add_edge("first", "second")
    else:
        builder.add_conditional_edges("first", router, ["second"])
    return builder.add_edge("second", END).compile()


async def test_async_nodes_do_not_leak_context_changes() -> None:
    async def first(state: State) -> State:
        assert VAR.get() == "caller"  # the caller's values are visible
        VAR.set("first")
        return {"seen": [VAR.get()]}

    async def second(state: State) -> State:
        return {"seen": [*state["seen"], VAR.get()]}

    VAR.set("caller")
    out = await _graph(first, second).ainvoke({})
    assert out == {"seen": ["first", "caller"]}
    assert VAR.get() == "caller"


async def test_async_routers_do_not_leak_context_changes() -> None:
    async def first(state: State) -> State:
        return {"seen": []}

    async def router(state: State) -> str:
        VAR.set("router")
        return "second"

    async def second(state: State) -> State:
        return {"seen": [VAR.get()]}

    VAR.set("caller")
    assert await _graph(first, second, router).ainvoke({}) == {"seen": ["caller"]}
    assert VAR.get() == "caller"


def test_sync_api_nodes_do_not_leak_context_changes() -> None:
    def first(state: State) -> State:
        VAR.set("first")
        return {"seen": [VAR.get()]}

    def second(state: State) -> State:
        return {"seen": [*state["seen"], VAR.get()]}

    token = VAR.set("caller")
    try:
        assert _graph(first, second).invoke({}) == {"seen": ["first", "caller"]}
        assert VAR.get() == "caller"
    finally:
        VAR.reset(token)


async def test_isolated_passes_results_errors_and_cancellation_through() -> None:
    async def value() -> int:
        await anyio.lowlevel.checkpoint()
        VAR.set("inner")
        return 7

    async def boom() -> None:
        await anyio.lowlevel.checkpoint()
        raise KeyError("boom")

    VAR.set("outer")
    assert await isolated(value()) == 7
    assert VAR.get() == "outer"
    with pytest.raises(KeyError, match="boom"):
        await isolated(boom())

    started = anyio.Event()
    cleaned: list[str] = []

    async def forever() -> None:
        VAR.set("forever")
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cleaned.append(VAR.get())  # cleanup runs in the isolated context too

    async with anyio.create_task_group() as tg:

        async def run() -> None:
            await isolated(forever())

        tg.start_soon(run)
        await started.wait()
        tg.cancel_scope.cancel()
    assert cleaned == ["forever"]
    assert VAR.get() == "outer"


async def test_isolated_awaits_other_awaitables_as_they_are() -> None:
    class Ready:
        def __await__(self) -> Any:
            return (yield from anyio.lowlevel.checkpoint().__await__()) or 5

    assert await isolated(Ready()) == 5  # type: ignore[arg-type]
