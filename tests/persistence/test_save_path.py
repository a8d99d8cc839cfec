"""The save path: inline saves, the background queue, and reused channel encodings.

``InMemorySaver``'s own ``aput``/``aput_writes`` never suspend, so with durability
"async" the engine calls them inline; any other saver (a subclass overriding them
included) goes through :class:`~stepgraph._persist.Background`: one drain task per burst
of calls, in order, shielded, the first failure raised by the next ``wait``. Savers get
``Checkpoint.changed`` (the channels written since the parent checkpoint) and
``InMemorySaver`` reuses the parent's encoding of every other channel; what is read back
must be what the run had, also when a reducer mutates its value in place.
"""

from __future__ import annotations

import copy
import itertools
import operator
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from anyio import wait_all_tasks_blocked
from anyio.abc import TaskGroup
from anyio.lowlevel import checkpoint
from hypothesis import given, settings
from hypothesis import strategies as st
from typing_extensions import TypedDict

from stepgraph import _persist
from stepgraph._persist import Background, _inline, _now, decode_pending, encode_pending
from stepgraph._plan import Pending
from stepgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, ConfigDict, ConfigLike
from stepgraph.checkpoint.errors import SerializationError
from stepgraph.checkpoint.memory import InMemorySaver, _Stored
from stepgraph.checkpoint.serde import Serializer
from stepgraph.graph import END, START, StateGraph
from stepgraph.types import Send

from .graphs import thread

pytestmark = pytest.mark.anyio


# --- Background -------------------------------------------------------------------------


class Boom(Exception):
    pass


async def test_background_runs_calls_in_order_and_wait_waits_for_all() -> None:
    log: list[str] = []
    gate = anyio.Event()

    def step(name: str, wait_for: anyio.Event | None = None) -> Any:
        async def call() -> None:
            log.append(f"{name} start")
            if wait_for is not None:
                await wait_for.wait()
            await checkpoint()
            log.append(f"{name} end")

        return call

    async with anyio.create_task_group() as tg:
        bg = Background(tg)
        bg.submit(step("a", gate))
        bg.submit(step("b"))
        await wait_all_tasks_blocked()
        assert log == ["a start"]  # b waits behind a
        bg.submit(step("c"))
        gate.set()
        await bg.wait()
        assert log == ["a start", "a end", "b start", "b end", "c start", "c end"]
        bg.submit(step("d"))  # a new burst after the queue emptied
        await bg.wait()
    assert log[-2:] == ["d start", "d end"]


async def test_background_first_failure_skips_the_rest_and_is_raised_once() -> None:
    ran: list[str] = []

    def call(name: str, fail: bool = False) -> Any:
        async def run() -> None:
            await checkpoint()
            ran.append(name)
            if fail:
                raise Boom(name)

        return run

    async with anyio.create_task_group() as tg:
        bg = Background(tg)
        bg.submit(call("a"))
        bg.submit(call("b", fail=True))
        bg.submit(call("c", fail=True))
        bg.submit(call("d"))
        with pytest.raises(Boom, match=r"^b$"):
            await bg.wait()
        assert ran == ["a", "b"]
        await bg.wait()  # raised once
        bg.submit(call("e"))
        await bg.wait()
    assert ran == ["a", "b", "e"]


async def test_background_calls_after_a_failure_submitted_later_are_skipped() -> None:
    ran: list[str] = []

    async def fail() -> None:
        raise Boom("first")

    async def later() -> None:
        ran.append("later")

    async with anyio.create_task_group() as tg:
        bg = Background(tg)
        bg.submit(fail)
        await wait_all_tasks_blocked()  # the drain task has run and failed
        bg.submit(later)
        with pytest.raises(Boom, match=r"^first$"):
            await bg.wait()
    assert ran == []


async def test_background_calls_complete_when_the_run_is_cancelled() -> None:
    release = anyio.Event()
    done: list[str] = []

    def call(name: str) -> Any:
        async def run() -> None:
            await release.wait()
            done.append(name)

        return run

    async def the_run(task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tg:
            bg = Background(tg)
            bg.submit(call("a"))
            bg.submit(call("b"))
            task_status.started()
            await anyio.sleep_forever()

    async with anyio.create_task_group() as outer:
        with anyio.CancelScope() as scope:
            outer.start_soon(_cancel_after_started, the_run, scope)
            await wait_all_tasks_blocked()
        assert done == []
        release.set()
    assert done == ["a", "b"]


async def _cancel_after_started(fn: Any, scope: anyio.CancelScope) -> None:
    async with anyio.create_task_group() as tg:
        await tg.start(fn)
        tg.cancel_scope.cancel()  # the run is cancelled while its saves are in flight
    scope.cancel()


async def test_background_wait_is_shielded_from_the_callers_cancellation() -> None:
    release = anyio.Event()
    done: list[str] = []

    async def call() -> None:
        await release.wait()
        done.append("saved")

    async def waiter(bg: Background, tg: TaskGroup) -> None:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await bg.wait()  # returns only once the call finished
        done.append("waited")

    async with anyio.create_task_group() as tg:
        bg = Background(tg)
        bg.submit(call)
        tg.start_soon(waiter, bg, tg)
        await wait_all_tasks_blocked()
        assert done == []
        release.set()
    assert done == ["saved", "waited"]


async def test_background_inline_calls_defer_failures_to_wait() -> None:
    ran: list[str] = []

    def ok(name: str) -> None:
        ran.append(name)

    def bad(name: str) -> None:
        ran.append(name)
        raise Boom(name)

    async with anyio.create_task_group() as tg:
        bg = Background(tg)
        bg.call(ok, "a")
        bg.call(bad, "b")
        bg.call(ok, "c")  # skipped after the failure
        assert ran == ["a", "b"]
        with pytest.raises(Boom, match=r"^b$"):
            await bg.wait()
        bg.call(ok, "d")
        await bg.wait()
    assert ran == ["a", "b", "d"]


class Bad:
    pass


BAD = Bad()


# --- which savers run inline --------------------------------------------------------------


class SlowSaver(InMemorySaver):
    """An InMemorySaver whose writes suspend (as real I/O would) and are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def aput(
        self, config: ConfigLike, checkpoint: Checkpoint, metadata: Mapping[str, Any]
    ) -> ConfigDict:
        await anyio.lowlevel.checkpoint()
        self.calls.append("aput")
        return await super().aput(config, checkpoint, metadata)

    async def aput_writes(
        self,
        config: ConfigLike,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await anyio.lowlevel.checkpoint()
        self.calls.append("aput_writes")
        await super().aput_writes(config, writes, task_id, task_path)


async def test_only_inmemorysavers_own_methods_run_inline() -> None:
    assert _inline(InMemorySaver())
    assert not _inline(SlowSaver())
    patched = InMemorySaver()

    async def aput(*args: Any) -> Any:
        raise AssertionError

    patched.aput = aput  # type: ignore[method-assign]
    assert not _inline(patched)
    assert not _inline(object())


class Count(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


def counting_chain(saver: Any, length: int = 3) -> Any:
    builder: StateGraph[Count] = StateGraph(Count)
    names = [f"n{i}" for i in range(length)]
    for name in names:
        builder.add_node(name, lambda s, name=name: {"n": s["n"] + 1, "log": [name]})
    builder.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        builder.add_edge(a, b)
    builder.add_edge(names[-1], END)
    return builder.compile(checkpointer=saver)


@pytest.mark.parametrize("durability", ["async", "sync", "exit"])
async def test_a_subclass_with_real_io_is_saved_in_the_background(durability: str) -> None:
    saver = SlowSaver()
    graph = counting_chain(saver)
    cfg = thread("slow")
    assert await graph.ainvoke({"n": 0, "log": []}, cfg, durability=durability) == {
        "n": 3,
        "log": ["n0", "n1", "n2"],
    }
    history = [s async for s in graph.aget_state_history(cfg)]
    if durability == "exit":
        assert saver.calls.count("aput") == 1
        assert [s.values for s in history] == [{"n": 3, "log": ["n0", "n1", "n2"]}]
    else:
        assert saver.calls.count("aput") == 5  # input, start, three steps
        assert [s.values.get("n") for s in history] == [3, 2, 1, 0, None]


async def test_inline_and_background_saves_fail_alike() -> None:
    """A value that cannot be stored fails the run the same way with either path:
    raised by the next save, so the step after it still ran."""

    class S(TypedDict, total=False):
        x: Any
        log: Annotated[list[str], operator.add]

    def build(saver: Any) -> Any:
        builder: StateGraph[S] = StateGraph(S)
        builder.add_node("a", lambda s: {"x": BAD, "log": ["a"]})
        builder.add_node("b", lambda s: {"x": 1, "log": ["b"]})
        builder.add_node("c", lambda s: {"log": ["c"]})
        builder.add_edge(START, "a")
        builder.add_edge("a", "b")
        builder.add_edge("b", "c")
        return builder.compile(checkpointer=saver)

    outcomes = []
    for saver in (InMemorySaver(), SlowSaver()):
        seen: list[Any] = []

        async def run(saver: Any = saver, seen: list[Any] = seen) -> None:
            async for chunk in build(saver).astream({"log": []}, thread("bad")):
                seen.append(chunk)

        with pytest.raises(SerializationError, match="at key 'x'") as info:
            await run()
        state = await build(saver).aget_state(thread("bad"))
        outcomes.append((seen, str(info.value), state.values, state.next))
    assert outcomes[0] == outcomes[1]
    assert [list(c) for c in outcomes[0][0]] == [["a"]]  # its writes failed: nothing after


# --- reused channel encodings -------------------------------------------------------------


def extend_in_place(current: list[Any], new: list[Any]) -> list[Any]:
    current.extend(new)  # the same object comes back, changed
    return current


class Wide(TypedDict, total=False):
    big: list[int]
    plain: int
    inplace: Annotated[list[str], extend_in_place]
    added: Annotated[list[str], operator.add]


def wide_graph(saver: Any) -> Any:
    builder: StateGraph[Wide] = StateGraph(Wide)
    builder.add_node("one", lambda s: {"plain": 1, "inplace": ["one"]})
    builder.add_node("two", lambda s: {"added": ["two"], "inplace": ["two"]})
    builder.add_node("three", lambda s: {"plain": 3})
    builder.add_edge(START, "one")
    builder.add_edge("one", "two")
    builder.add_edge("two", "three")
    builder.add_edge("three", END)
    return builder.compile(checkpointer=saver)


@pytest.mark.parametrize("durability", ["async", "sync", "exit"])
async def test_unchanged_channels_share_their_parents_encoding(durability: str) -> None:
    saver = InMemorySaver()
    graph = wide_graph(saver)
    cfg = thread("wide")
    start = {"big": list(range(1000)), "plain": 0, "inplace": [], "added": []}
    final = await graph.ainvoke(start, cfg, durability=durability)
    assert final == {
        "big": list(range(1000)),
        "plain": 3,
        "inplace": ["one", "two"],
        "added": ["two"],
    }
    history = [s async for s in graph.aget_state_history(cfg)]
    if durability == "exit":
        assert [s.values for s in history] == [final]
        return
    assert [s.values for s in reversed(history)] == [
        {"inplace": [], "added": []},
        start,
        {**start, "plain": 1, "inplace": ["one"]},
        {**start, "plain": 1, "inplace": ["one", "two"], "added": ["two"]},
        final,
    ]
    stored = [
        _Stored._make(saver._checkpoints["wide", "", s.config["configurable"]["checkpoint_id"]])
        for s in reversed(history)
    ]
    # "big" is encoded once, by the first checkpoint that has it; the others share it
    assert all(s.values["big"] is stored[1].values["big"] for s in stored[2:])
    assert stored[3].values["plain"] is stored[2].values["plain"]
    assert stored[4].values["inplace"] is stored[3].values["inplace"]
    # a channel written (even to the same object, by an in-place reducer) is encoded again
    assert stored[3].values["inplace"] is not stored[2].values["inplace"]


async def test_a_new_input_on_a_thread_and_a_resume_reuse_what_is_stored() -> None:
    saver = InMemorySaver()
    graph = wide_graph(saver)
    cfg = thread("again")
    await graph.ainvoke({"big": [1, 2], "plain": 0, "inplace": [], "added": []}, cfg)
    second = await graph.ainvoke({"added": ["x"]}, cfg)
    assert second == {
        "big": [1, 2],
        "plain": 3,
        "inplace": ["one", "two", "one", "two"],
        "added": ["two", "x", "two"],
    }
    state = await graph.aget_state(cfg)
    assert state.values == second
    fresh = InMemorySaver()  # the same values saved without any reuse
    other = wide_graph(fresh)
    await other.ainvoke({"big": [1, 2], "plain": 0, "inplace": [], "added": []}, cfg)
    await other.ainvoke({"added": ["x"]}, cfg)
    assert [s.values async for s in graph.aget_state_history(cfg)] == [
        s.values async for s in other.aget_state_history(cfg)
    ]


async def test_update_state_and_forks_read_back_what_was_saved() -> None:
    saver = InMemorySaver()
    graph = wide_graph(saver)
    cfg = thread("fork")
    await graph.ainvoke({"big": [7], "plain": 0, "inplace": [], "added": []}, cfg)
    history = [s async for s in graph.aget_state_history(cfg)]
    after_one = next(s for s in history if s.next == ("two",))
    forked = await graph.aupdate_state(after_one.config, {"plain": 10})
    final = await graph.ainvoke(None, forked)
    assert final == {"big": [7], "plain": 3, "inplace": ["one", "two"], "added": ["two"]}
    replayed = await graph.ainvoke(None, after_one.config)
    assert replayed == final
    assert (await graph.aget_state(cfg)).values == final


async def test_a_thread_deleted_mid_run_is_saved_whole_afterwards() -> None:
    saver = InMemorySaver()

    async def delete(state: Wide) -> Wide:
        await saver.adelete_thread("gone")
        return {"plain": 2}

    builder: StateGraph[Wide] = StateGraph(Wide)
    builder.add_node("one", lambda s: {"plain": 1})
    builder.add_node("two", delete)
    builder.add_node("three", lambda s: {"added": ["three"]})
    builder.add_edge(START, "one")
    builder.add_edge("one", "two")
    builder.add_edge("two", "three")
    graph = builder.compile(checkpointer=saver)
    cfg = thread("gone")
    final = await graph.ainvoke({"big": [1], "added": []}, cfg)
    assert final == {"big": [1], "plain": 2, "inplace": [], "added": ["three"]}
    assert (await graph.aget_state(cfg)).values == final


async def test_a_subgraph_namespace_reuses_its_own_parents() -> None:
    saver = InMemorySaver()
    inner: StateGraph[Wide] = StateGraph(Wide)
    inner.add_node("i1", lambda s: {"added": ["i1"]})
    inner.add_node("i2", lambda s: {"plain": 5})
    inner.add_edge(START, "i1")
    inner.add_edge("i1", "i2")
    outer: StateGraph[Wide] = StateGraph(Wide)
    outer.add_node("sub", inner.compile())
    outer.add_node("after", lambda s: {"added": ["after"]})
    outer.add_edge(START, "sub")
    outer.add_edge("sub", "after")
    graph = outer.compile(checkpointer=saver)
    cfg = thread("sub")
    final = await graph.ainvoke({"big": [3], "plain": 0, "inplace": [], "added": []}, cfg)
    assert final == await outer.compile().ainvoke(
        {"big": [3], "plain": 0, "inplace": [], "added": []}
    )
    assert final["plain"] == 5
    assert final["added"][-1] == "after"
    namespaces = {ns for (tid, ns, _) in saver._checkpoints if tid == "sub"}
    assert len(namespaces) == 2
    for ns in namespaces:
        async for item in saver.alist({"configurable": {"thread_id": "sub", "checkpoint_ns": ns}}):
            assert item.checkpoint.channel_values.get("big", [3]) == [3]


# --- Hypothesis: what is read back is what the run had ---------------------------------------

KEYS = ("plain", "inplace", "added")
writes_st = st.lists(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "plain": st.integers(-3, 3),
                "inplace": st.lists(st.sampled_from("xyz"), max_size=2),
                "added": st.lists(st.sampled_from("xyz"), max_size=2),
            },
        ),
        min_size=1,
        max_size=3,
    ),
    min_size=1,
    max_size=5,
)


def fold(state: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(state)
    for key, value in update.items():
        out[key] = value if key == "plain" else out.get(key, []) + list(value)
    return out


async def run_and_compare(steps: list[list[dict[str, Any]]], durability: str) -> None:
    saver = InMemorySaver()
    builder: StateGraph[Wide] = StateGraph(Wide)
    names = [f"s{i}" for i in range(len(steps))]
    for i, name in enumerate(names):
        # one node per step; its updates apply in order, as writes of that step
        builder.add_node(name, lambda s, i=i: _merged(steps[i]))
    builder.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        builder.add_edge(a, b)
    graph = builder.compile(checkpointer=saver)
    start: dict[str, Any] = {"big": [0], "plain": 0, "inplace": [], "added": []}
    expected = [start]
    for updates in steps:
        state = expected[-1]
        for update in updates:
            state = fold(state, update)
        expected.append(state)
    cfg = thread("prop")
    final = await graph.ainvoke(copy.deepcopy(start), cfg, durability=durability)
    assert final == expected[-1]
    history = [s.values async for s in graph.aget_state_history(cfg)]
    if durability == "exit":
        assert history == [expected[-1]]
    else:
        assert list(reversed(history)) == [{"inplace": [], "added": []}, *expected]


def _merged(updates: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for update in updates:
        for key, value in update.items():
            out[key] = value if key == "plain" else out.get(key, []) + list(value)
    return out


@settings(deadline=None, max_examples=30)
@given(steps=writes_st, durability=st.sampled_from(["async", "sync", "exit"]))
def test_saved_values_are_the_runs_values(
    steps: list[list[dict[str, Any]]], durability: str
) -> None:
    """For any sequence of writes (plain, adding and in-place reducers), every saved
    checkpoint reads back as the state the run had after that step, on both backends."""
    for backend in ("asyncio", "trio"):
        anyio.run(run_and_compare, steps, durability, backend=backend)


# --- small pieces ---------------------------------------------------------------------------


def test_now_formats_as_isoformat(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime, timezone

    for ns in (1_763_000_000_123_456_789, 1_763_000_000_000_000_000, 1_763_000_001_000_001_000):
        monkeypatch.setattr(_persist.time, "time_ns", lambda ns=ns: ns)
        expected = datetime.fromtimestamp(ns // 1000 / 1e6, timezone.utc).isoformat()
        assert _now() == expected


@pytest.mark.parametrize(
    "pending",
    [
        Pending(),
        Pending(pull={"a": ("x",)}),
        Pending(push=(Send("n", {"v": 1}),), barriers={"j": frozenset({"a", "b"})}),
        Pending(pull={"a": ("x", "y")}, deferred={"d": ("z",)}),
    ],
)
def test_pending_round_trips(pending: Pending) -> None:
    assert decode_pending(encode_pending(pending)) == pending


@pytest.mark.parametrize(
    "value", [0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 1.5, True, None, "é"]
)
def test_scalars_encode_as_the_general_path_does(value: Any) -> None:
    from stepgraph.checkpoint.serde import Serializer, _Encoder

    serde = Serializer()
    assert serde.dumps_typed(value) == ("msgpack", _Encoder(False).pack(value))
    assert serde.loads_typed(serde.dumps_typed(value)) == value


def test_a_lone_surrogate_still_names_its_key() -> None:
    from stepgraph.checkpoint.serde import Serializer

    with pytest.raises(SerializationError, match="at key 'k'"):
        Serializer().dumps_channel("k", "\ud800")


async def test_metadata_that_fails_whole_is_stored_per_key(saver: BaseCheckpointSaver) -> None:
    deep: Any = 1
    for _ in range(254):  # as deep as one value may be: inside the metadata map, too deep
        deep = [deep]
    meta = {"source": "input", "step": -1, "parents": {}, "deep": deep}
    cfg = await saver.aput(
        {"configurable": {"thread_id": "meta", "checkpoint_ns": ""}},
        Checkpoint(id="1", ts="t", channel_values={}),
        meta,
    )
    got = await saver.aget_tuple(cfg)
    assert got is not None
    assert got.metadata == meta


async def test_latest_checkpoint_of_a_namespace_is_the_greatest_id(
    saver: BaseCheckpointSaver,
) -> None:
    """As stored in any order (a copied thread brings older ids later), across deletes."""

    def cfg(ns: str = "") -> dict[str, Any]:
        return {"configurable": {"thread_id": "latest", "checkpoint_ns": ns}}

    async def put(checkpoint_id: str, ns: str = "") -> None:
        await saver.aput(cfg(ns), Checkpoint(id=checkpoint_id, ts="t", channel_values={}), {})

    assert await saver.aget_tuple(cfg()) is None
    await put("2")
    await put("1")
    await put("3", "sub")
    got = await saver.aget_tuple(cfg())
    assert got is not None
    assert got.checkpoint.id == "2"
    got = await saver.aget_tuple(cfg("sub"))
    assert got is not None
    assert got.checkpoint.id == "3"
    await saver.adelete_thread("latest")
    assert await saver.aget_tuple(cfg()) is None
    assert await saver.aget_tuple(cfg("sub")) is None
    await put("0")
    got = await saver.aget_tuple(cfg())
    assert got is not None
    assert got.checkpoint.id == "0"


class CountingSerializer(Serializer):
    """Counts how often each channel's value is encoded."""

    def __init__(self) -> None:
        super().__init__()
        self.encoded: Counter[str] = Counter()

    def dumps_channel(self, key: str, value: Any) -> tuple[str, bytes]:
        self.encoded[key] += 1
        return super().dumps_channel(key, value)


@pytest.mark.parametrize("durability", ["async", "sync"])
async def test_every_saver_encodes_an_unchanged_channel_once(
    make_saver: Any, durability: str
) -> None:
    serde = CountingSerializer()
    saver = make_saver(serde=serde)
    graph = wide_graph(saver)
    cfg = thread("count")
    start = {"big": list(range(100)), "plain": 0, "inplace": [], "added": []}
    final = await graph.ainvoke(start, cfg, durability=durability)
    assert serde.encoded["big"] == 1  # by the first step's checkpoint; three more reuse it
    # written by the start and by nodes one and three (whose pending writes hold it too)
    assert serde.encoded["plain"] == 3 + 2
    assert (await graph.aget_state(cfg)).values == final
    history = [s.values async for s in graph.aget_state_history(cfg)]
    assert all(v.get("big", start["big"]) == start["big"] for v in history)
