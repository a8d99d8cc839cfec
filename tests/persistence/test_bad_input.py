"""Bad configs and inputs fail with clear errors and leave every saved checkpoint as it
was, on every saver."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from stepgraph.checkpoint.base import BaseCheckpointSaver
from stepgraph.errors import EmptyInputError
from stepgraph.types import Command

from .graphs import chain, history, thread

pytestmark = pytest.mark.anyio

NO_THREAD = (
    "Checkpointer requires one or more of the following 'configurable' keys: "
    "thread_id, checkpoint_ns, checkpoint_id"
)


async def everything(saver: BaseCheckpointSaver) -> list[Any]:
    """Every checkpoint of every thread, with its pending writes."""
    return [t async for t in saver.alist(None)]


async def seeded(saver: BaseCheckpointSaver) -> tuple[Any, list[Any]]:
    """A graph with one finished thread ("done") and one paused thread ("paused")."""
    graph = chain(saver, "a", "b", interrupt_before=["b"])
    await graph.ainvoke({"log": []}, thread("paused"))
    await graph.ainvoke({"log": []}, thread("done"))
    await graph.ainvoke(None, thread("done"))
    return graph, await everything(saver)


async def drain(graph: Any, input: Any, config: Any) -> None:
    async with graph.astream(input, config) as chunks:
        async for _ in chunks:
            pass


@pytest.mark.parametrize(
    "config",
    [None, {}, {"configurable": {}}, {"configurable": {"user": "x"}}],
    ids=["none", "empty", "no-keys", "other-keys"],
)
async def test_missing_thread_id_is_langgraphs_value_error(
    saver: BaseCheckpointSaver, config: Any
) -> None:
    graph, before = await seeded(saver)
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: graph.ainvoke({"log": []}, config),
        lambda: drain(graph, {"log": []}, config),
        lambda: graph.ainvoke(None, config),
        lambda: graph.ainvoke(Command(resume=1), config),
    ]
    if config is not None:
        calls += [
            lambda: graph.aget_state(config),
            lambda: graph.aupdate_state(config, {"log": ["x"]}),
        ]
    for call in calls:
        with pytest.raises(ValueError) as info:
            await call()
        assert str(info.value) == NO_THREAD
    assert await everything(saver) == before


async def test_unknown_checkpoint_id_is_a_clear_value_error(saver: BaseCheckpointSaver) -> None:
    graph, before = await seeded(saver)
    cfg = thread("done", checkpoint_id="no-such-checkpoint")
    run_message = (
        "No checkpoint 'no-such-checkpoint' in thread 'done': pass a checkpoint_id from "
        "get_state_history(), or omit it to continue from the latest checkpoint"
    )
    for input in (None, {"log": ["x"]}, Command(resume=1)):
        with pytest.raises(ValueError) as info:
            await graph.ainvoke(input, cfg)
        assert str(info.value) == run_message
    with pytest.raises(ValueError) as info:
        await graph.aupdate_state(cfg, {"log": ["x"]})
    assert str(info.value) == (
        "No checkpoint 'no-such-checkpoint' in thread 'done': pass a checkpoint_id from "
        "get_state_history(), or omit it to update the latest checkpoint"
    )
    # reading an unknown checkpoint gives an empty snapshot, as LangGraph does
    empty = await graph.aget_state(cfg)
    assert (empty.values, empty.next, empty.metadata, empty.created_at) == ({}, (), None, None)
    # a checkpoint id of another thread is unknown in this one
    other = (await graph.aget_state(thread("paused"))).config["configurable"]["checkpoint_id"]
    with pytest.raises(ValueError, match=r"^No checkpoint '.*' in thread 'done': "):
        await graph.ainvoke(None, thread("done", checkpoint_id=other))
    assert await everything(saver) == before


@pytest.mark.parametrize("tid", ["empty", "done"])
async def test_resume_with_nothing_to_resume_is_a_clear_error(
    saver: BaseCheckpointSaver, tid: str
) -> None:
    graph, before = await seeded(saver)
    with pytest.raises(RuntimeError) as info:
        await graph.ainvoke(Command(resume="x"), thread(tid))
    assert str(info.value) == (
        f"Cannot resume thread {tid!r}: it has no pending interrupt. "
        "Start a run with an input instead of Command(resume=...)."
    )
    assert await everything(saver) == before


async def test_invoke_none_on_an_empty_thread_is_empty_input_error(
    saver: BaseCheckpointSaver,
) -> None:
    graph, before = await seeded(saver)
    with pytest.raises(EmptyInputError) as info:
        await graph.ainvoke(None, thread("empty"))
    assert str(info.value) == "Received no input for __start__"
    assert isinstance(info.value, ValueError)
    with pytest.raises(EmptyInputError):
        await drain(graph, None, thread("empty"))
    assert await everything(saver) == before
    assert (await graph.aget_state(thread("empty"))).metadata is None


def test_sync_bad_inputs(saver: BaseCheckpointSaver) -> None:
    graph = chain(saver, "a")
    graph.invoke({"log": []}, thread("done"))
    before = list(saver.list(None))
    with pytest.raises(ValueError) as info:
        graph.invoke({"log": []})
    assert str(info.value) == NO_THREAD
    with pytest.raises(EmptyInputError):
        graph.invoke(None, thread("empty"))
    with pytest.raises(RuntimeError, match=r"^Cannot resume thread 'done'"):
        graph.invoke(Command(resume=1), thread("done"))
    with pytest.raises(ValueError, match=r"^No checkpoint 'nope' in thread 'done'"):
        graph.invoke(None, thread("done", checkpoint_id="nope"))
    with pytest.raises(ValueError) as info:
        graph.get_state({"configurable": {}})
    assert str(info.value) == NO_THREAD
    assert list(saver.list(None)) == before


# --- B12: an input of the wrong type is rejected before anything is saved ------------


async def test_b12_bad_input_type_changes_nothing(saver: BaseCheckpointSaver) -> None:
    """B12 (the suite's bad-input rule; LangGraph itself saves first): a non-dict input
    raises before anything is saved, so the paused thread keeps its pending task 'b' and
    still resumes."""
    graph = chain(saver, "a", "b", interrupt_before=["b"])
    cfg = thread("paused")
    await graph.ainvoke({"log": []}, cfg)
    before = await history(graph, cfg)
    with pytest.raises(ValueError, match=r"^Expected dict as graph input, got 'oops'"):
        await graph.ainvoke("oops", cfg)
    assert await history(graph, cfg) == before
    assert await graph.ainvoke(None, cfg) == {"log": ["a", "b"]}
