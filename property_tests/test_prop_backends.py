"""Property (2): trio and asyncio run every graph to the same result."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
from hypothesis import given, settings

from strategies import GraphDesc, build, graphs_and_delays


async def observe(graph: Any) -> tuple[list[Any], Counter[str], Any]:
    values: list[Any] = []
    updates: Counter[str] = Counter()
    async with graph.astream({"total": 1}, stream_mode=["values", "updates"]) as stream:
        async for mode, chunk in stream:
            if mode == "values":
                values.append(chunk)
            else:
                updates[repr(chunk)] += 1  # completion order may differ: compare as a multiset
    return values, updates, await graph.ainvoke({"total": 1})


@settings(deadline=None)
@given(data=graphs_and_delays)
def test_trio_and_asyncio_give_the_same_result(
    data: tuple[GraphDesc, dict[str, list[int]]],
) -> None:
    """For any graph and any task delays, asyncio and trio produce the same values
    chunks, the same updates (as a multiset) and the same final state."""
    desc, turns = data
    on_asyncio = anyio.run(observe, build(desc, turns), backend="asyncio")
    on_trio = anyio.run(observe, build(desc, turns), backend="trio")
    assert on_trio == on_asyncio
