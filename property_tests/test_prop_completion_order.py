"""Property (1): the final state does not depend on the order in which tasks finish."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
import trio.testing
from hypothesis import given, settings

from strategies import GraphDesc, build, graphs_and_delays

pytestmark = pytest.mark.anyio


async def values_and_final(graph: Any) -> tuple[list[Any], Any]:
    async with graph.astream({"log": ["in"]}, stream_mode="values") as stream:
        chunks = [chunk async for chunk in stream]
    return chunks, await graph.ainvoke({"log": ["in"]})


@given(data=graphs_and_delays)
async def test_any_completion_order_gives_the_same_final_state(
    anyio_backend: str, data: tuple[GraphDesc, dict[str, list[int]]]
) -> None:
    """Whatever order a step's tasks finish in, every values chunk and the final state
    equal those of the run where every task finishes at once."""
    desc, turns = data
    reference = await values_and_final(build(desc))
    assert await values_and_final(build(desc, turns)) == reference
    assert reference[1] == reference[0][-1]


@settings(deadline=None)
@given(data=graphs_and_delays)
def test_any_completion_order_gives_the_same_final_state_on_a_mock_clock(
    data: tuple[GraphDesc, dict[str, list[int]]],
) -> None:
    """With each task sleeping a random time on trio's MockClock (no real time passes),
    the final state equals that of the run without sleeps."""
    desc, turns = data

    def run(graph: Any) -> tuple[list[Any], Any]:
        clock = trio.testing.MockClock(autojump_threshold=0)
        return anyio.run(values_and_final, graph, backend="trio", backend_options={"clock": clock})

    assert run(build(desc, turns, sleep_unit=0.25)) == run(build(desc))
