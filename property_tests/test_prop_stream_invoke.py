"""Property (4): ``invoke`` and ``stream`` agree, and updates fold into the values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from strategies import GraphDesc, build, fold, graphs_and_delays

pytestmark = pytest.mark.anyio

INPUT: dict[str, Any] = {"log": ["in"], "total": 2}


def _commit_order(starts: list[dict[str, Any]]) -> list[str]:
    """Task ids of one step in commit order: pulled nodes by name, then Sends in order."""
    pulls = sorted(
        (s for s in starts if s["triggers"] != ("__pregel_push",)), key=lambda s: s["name"]
    )
    pushes = [s for s in starts if s["triggers"] == ("__pregel_push",)]
    return [s["id"] for s in (*pulls, *pushes)]


class _Step:
    """The chunks of one superstep."""

    def __init__(self) -> None:
        self.starts: list[dict[str, Any]] = []
        self.updates: list[tuple[str, Any]] = []
        self.results: dict[str, tuple[str, Any]] = {}

    def updates_in_commit_order(self) -> list[Any]:
        """Each task's ``updates`` value, in commit order.

        An updates chunk names only the node, so it is matched to a task through the
        task's result event (same node, same writes). Tasks with equal name and writes
        are interchangeable: swapping them does not change the fold.
        """
        unmatched = list(self.updates)
        ordered = []
        for task_id in _commit_order(self.starts):
            name, result = self.results[task_id]
            for index, (update_name, update) in enumerate(unmatched):
                if update_name == name and (update or {}) == result:
                    ordered.append(update)
                    del unmatched[index]
                    break
            else:
                raise AssertionError(f"no updates chunk for task {name} {result}")
        assert unmatched == []
        return ordered


@given(data=graphs_and_delays)
async def test_invoke_equals_last_values_and_updates_fold_into_values(
    anyio_backend: str, data: tuple[GraphDesc, dict[str, list[int]]]
) -> None:
    """The final ``invoke`` state equals the last ``values`` chunk of ``stream``, and
    folding each step's ``updates`` through the reducers, in commit order, rebuilds
    every ``values`` chunk."""
    desc, turns = data
    graph = build(desc, turns)
    final = await graph.ainvoke(dict(INPUT))
    chunks: list[tuple[str, Any]] = []
    async with graph.astream(dict(INPUT), stream_mode=["tasks", "updates", "values"]) as s:
        chunks = [chunk async for chunk in s]
    values = [c for mode, c in chunks if mode == "values"]
    assert values[-1] == final

    # the first values chunk is the input through the reducers
    state = fold({"log": [], "total": 0}, INPUT)
    assert values[0] == state
    rebuilt = [state]
    steps: list[_Step] = []
    for mode, chunk in chunks[1:]:
        if mode == "tasks" and "triggers" in chunk:  # a task start
            if not steps or steps[-1].results:  # results already seen: a new step begins
                steps.append(_Step())
            steps[-1].starts.append(chunk)
        elif mode == "updates":
            ((name, update),) = chunk.items()
            steps[-1].updates.append((name, update))
        elif mode == "tasks":
            steps[-1].results[chunk["id"]] = (chunk["name"], chunk["result"])
        else:
            # the values chunk closing a step that wrote something
            step = steps[-1]
            for update in step.updates_in_commit_order():
                state = fold(state, update)
            rebuilt.append(state)
            assert chunk == state
    assert rebuilt == values
