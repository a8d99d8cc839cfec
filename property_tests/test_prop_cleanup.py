"""Property (3): random graphs never hang and leave no task, thread or node behind."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies import GraphDesc, NodeFailed, Probe, build, delays, graphs

pytestmark = pytest.mark.anyio

IDLE_WORKER_PREFIXES = ("AnyIO worker thread", "Trio thread")

cases = graphs(failures=True).flatmap(
    lambda g: st.tuples(
        st.just(g),
        delays(g),
        st.sampled_from(["ainvoke", "async with", "aclose"]),
        st.none() | st.integers(0, 6),
    )
)


def _busy_threads(baseline: set[threading.Thread]) -> list[str]:
    """New threads other than anyio's/trio's idle worker pools."""
    return [
        t.name
        for t in threading.enumerate()
        if t not in baseline and not t.name.startswith(IDLE_WORKER_PREFIXES)
    ]


async def _consume(graph: Any, how: str, stop_after: int | None) -> None:
    if how == "ainvoke":
        await graph.ainvoke({})
        return
    # (no async-generator helpers here: a half-consumed one is finalised in a new task)
    if how == "async with":
        async with graph.astream({}, stream_mode=["updates", "values"]) as stream:
            seen = 0
            async for _ in stream:
                if stop_after is not None and seen >= stop_after:
                    break
                seen += 1
        return
    stream = graph.astream({}, stream_mode=["updates", "values"])
    try:
        seen = 0
        async for _ in stream:
            if stop_after is not None and seen >= stop_after:
                break
            seen += 1
    finally:
        await stream.aclose()


@given(case=cases)
async def test_runs_finish_and_clean_up(
    anyio_backend: str, case: tuple[GraphDesc, dict[str, list[int]], str, int | None]
) -> None:
    """Every run of a random graph — to the end, to a failing node, or until the consumer
    leaves early — finishes in bounded time with every started node's ``finally`` run,
    no task left running and no non-pool thread left behind."""
    desc, turns, how, stop_after = case
    baseline_threads = set(threading.enumerate())
    tasks_before = len(anyio.get_running_tasks())
    probe = Probe()
    graph = build(desc, turns, probe)
    failed = False
    with anyio.fail_after(20):
        try:
            await _consume(graph, how, stop_after)
        except NodeFailed:
            failed = True
    assert probe.entered == probe.exited
    assert len(anyio.get_running_tasks()) == tasks_before
    assert _busy_threads(baseline_threads) == []
    if failed:
        assert any(node.fails for node in desc.nodes)
