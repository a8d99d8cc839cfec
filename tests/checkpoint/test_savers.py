"""One behavioural suite for every checkpointer (memory, SQLite, PostgreSQL when available).

Every async test runs on asyncio and trio (``anyio_backend`` from tests/conftest.py).
"""

from __future__ import annotations

import datetime
import re
import socket
from typing import Any

import anyio
import anyio.to_thread
import pytest

from stepgraph.checkpoint import (
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointConfigError,
    Checkpointer,
    PendingWrite,
    SerializationError,
    Serializer,
    ThreadBusyError,
    new_checkpoint_id,
)

from .conftest import SaverFactory
from .helpers import collect, config, make_checkpoint, named
from .values import Money, Point, Reading, Unit

pytestmark = pytest.mark.anyio


async def put_chain(
    saver: BaseCheckpointSaver, thread_id: str, count: int, checkpoint_ns: str = ""
) -> list[Checkpoint]:
    """``count`` chained checkpoints (step -1, 0, 1, ...); returns them oldest first."""
    made = []
    parent: str | None = None
    for step in range(-1, count - 1):
        cp = make_checkpoint({"n": step, "msgs": ["x"] * (step + 1)})
        await saver.aput(
            config(thread_id, checkpoint_ns, parent),
            cp,
            {"source": "input" if step < 0 else "loop", "step": step, "parents": {}},
        )
        parent = cp.id
        made.append(cp)
    return made


# --- put / get -------------------------------------------------------------------------


async def test_every_saver_is_a_checkpointer(saver: BaseCheckpointSaver) -> None:
    assert isinstance(saver, Checkpointer)


async def test_put_returns_config_of_new_checkpoint(saver: BaseCheckpointSaver) -> None:
    cp = make_checkpoint({"a": 1})
    returned = await saver.aput(config("t1"), cp, {"source": "input", "step": -1})
    assert returned == named("t1", "", cp.id)


async def test_get_latest_and_by_id(saver: BaseCheckpointSaver) -> None:
    first, second, third = await put_chain(saver, "t1", 3)

    latest = await saver.aget_tuple(config("t1"))
    assert latest is not None
    assert latest.checkpoint == third
    assert latest.config == named("t1", "", third.id)
    assert latest.metadata == {"source": "loop", "step": 1, "parents": {}}
    assert latest.parent_config == named("t1", "", second.id)
    assert latest.pending_writes == ()

    by_id = await saver.aget_tuple(config("t1", checkpoint_id=first.id))
    assert by_id is not None
    assert by_id.checkpoint == first
    assert by_id.metadata == {"source": "input", "step": -1, "parents": {}}
    assert by_id.parent_config is None
    assert await saver.aget(config("t1", checkpoint_id=second.id)) == second


async def test_parent_config_chain_walks_back_to_the_first(saver: BaseCheckpointSaver) -> None:
    made = await put_chain(saver, "t1", 5)
    seen = []
    cfg: dict[str, Any] | None = config("t1")
    while cfg is not None:
        found = await saver.aget_tuple(cfg)
        assert found is not None
        seen.append(found.checkpoint.id)
        cfg = found.parent_config
    assert seen == [cp.id for cp in reversed(made)]


async def test_unknown_checkpoint_or_thread_gives_none(saver: BaseCheckpointSaver) -> None:
    await put_chain(saver, "t1", 2)
    assert await saver.aget_tuple(config("t1", checkpoint_id=new_checkpoint_id())) is None
    assert await saver.aget_tuple(config("nobody")) is None
    assert await saver.aget(config("nobody")) is None


async def test_put_same_id_again_replaces(saver: BaseCheckpointSaver) -> None:
    cp = make_checkpoint({"a": 1})
    await saver.aput(config("t1"), cp, {"step": 1})
    again = Checkpoint(id=cp.id, ts=cp.ts, channel_values={"a": 2})
    await saver.aput(config("t1"), again, {"step": 2})
    found = await saver.aget_tuple(config("t1"))
    assert found is not None
    assert found.checkpoint.channel_values == {"a": 2}
    assert found.metadata == {"step": 2}
    assert len(await collect(saver.alist(config("t1")))) == 1


async def test_checkpoint_fields_round_trip(saver: BaseCheckpointSaver) -> None:
    cp = Checkpoint(
        id=new_checkpoint_id(),
        ts="2026-11-21T06:16:24.123456+00:00",
        channel_values={"messages": [1, "two", None], "__start__": {"x": 1}, "branch:to:a": None},
        v=3,
    )
    await saver.aput(config("t1"), cp, {"source": "loop", "step": 0, "user": {"k": [1, 2]}})
    found = await saver.aget_tuple(config("t1"))
    assert found is not None
    assert found.checkpoint == cp
    assert found.metadata == {"source": "loop", "step": 0, "user": {"k": [1, 2]}}


async def test_missing_thread_id_is_a_clear_error(saver: BaseCheckpointSaver) -> None:
    message = (
        "aput() needs config['configurable']['thread_id'], which is missing. Pass "
        "config={'configurable': {'thread_id': ...}} (the config a graph run or aput() "
        "returns already has it)."
    )
    with pytest.raises(CheckpointConfigError, match=f"^{re.escape(message)}$"):
        await saver.aput({"configurable": {}}, make_checkpoint(), {})
    with pytest.raises(CheckpointConfigError, match=r"aput_writes.*'checkpoint_id'"):
        await saver.aput_writes(config("t1"), [("a", 1)], "task")
    assert issubclass(CheckpointConfigError, ValueError)


# --- namespaces ------------------------------------------------------------------------


async def test_checkpoint_ns_are_separate(saver: BaseCheckpointSaver) -> None:
    root = await put_chain(saver, "t1", 2)
    child = await put_chain(saver, "t1", 3, checkpoint_ns="sub:abc")

    latest_root = await saver.aget_tuple(config("t1"))
    latest_child = await saver.aget_tuple(config("t1", "sub:abc"))
    assert latest_root is not None
    assert latest_child is not None
    assert latest_root.checkpoint == root[-1]
    assert latest_child.checkpoint == child[-1]
    assert latest_child.config == named("t1", "sub:abc", child[-1].id)
    assert latest_child.parent_config == named("t1", "sub:abc", child[-2].id)
    # an id from one namespace is unknown in the other
    assert await saver.aget_tuple(config("t1", "", child[0].id)) is None

    only_child = await collect(saver.alist(config("t1", "sub:abc")))
    assert [t.checkpoint.id for t in only_child] == [cp.id for cp in reversed(child)]
    whole_thread = await collect(saver.alist({"configurable": {"thread_id": "t1"}}))
    assert len(whole_thread) == 5


# --- listing ---------------------------------------------------------------------------


async def test_list_is_newest_first(saver: BaseCheckpointSaver) -> None:
    made = await put_chain(saver, "t1", 4)
    await put_chain(saver, "t2", 2)
    listed = await collect(saver.alist(config("t1")))
    assert [t.checkpoint for t in listed] == list(reversed(made))
    assert [t.metadata["step"] for t in listed] == [2, 1, 0, -1]
    assert listed[-1].parent_config is None
    assert all(t.config["configurable"]["thread_id"] == "t1" for t in listed)


async def test_list_filter_before_limit(saver: BaseCheckpointSaver) -> None:
    made = await put_chain(saver, "t1", 6)  # steps -1..4

    loop = await collect(saver.alist(config("t1"), filter={"source": "loop"}))
    assert [t.metadata["step"] for t in loop] == [4, 3, 2, 1, 0]
    step_two = await collect(saver.alist(config("t1"), filter={"source": "loop", "step": 2}))
    assert [t.checkpoint.id for t in step_two] == [made[3].id]
    assert await collect(saver.alist(config("t1"), filter={"nope": 1})) == []

    before = await collect(saver.alist(config("t1"), before=named("t1", "", made[3].id)))
    assert [t.checkpoint.id for t in before] == [made[2].id, made[1].id, made[0].id]

    limited = await collect(saver.alist(config("t1"), limit=2))
    assert [t.checkpoint.id for t in limited] == [made[5].id, made[4].id]

    combined = await collect(
        saver.alist(
            config("t1"), filter={"source": "loop"}, before=named("t1", "", made[4].id), limit=2
        )
    )
    assert [t.metadata["step"] for t in combined] == [2, 1]
    assert await collect(saver.alist(config("t1"), limit=0)) == []


async def test_list_one_checkpoint_by_id(saver: BaseCheckpointSaver) -> None:
    made = await put_chain(saver, "t1", 3)
    listed = await collect(saver.alist(config("t1", checkpoint_id=made[1].id)))
    assert [t.checkpoint.id for t in listed] == [made[1].id]


async def test_list_all_threads(saver: BaseCheckpointSaver) -> None:
    t1 = await put_chain(saver, "t1", 2)
    t2 = await put_chain(saver, "t2", 2)
    t3 = await put_chain(saver, "t3", 1, checkpoint_ns="sub:x")
    everything = await collect(saver.alist(None))
    ids = [t.checkpoint.id for t in everything]
    assert ids == sorted((cp.id for cp in [*t1, *t2, *t3]), reverse=True)
    inputs = await collect(saver.alist(None, filter={"source": "input"}))
    assert {t.config["configurable"]["thread_id"] for t in inputs} == {"t1", "t2", "t3"}
    assert len(await collect(saver.alist(None, limit=3))) == 3


async def test_list_pages_through_many_checkpoints(saver: BaseCheckpointSaver) -> None:
    made = await put_chain(saver, "t1", 230)
    listed = await collect(saver.alist(config("t1")))
    assert [t.checkpoint.id for t in listed] == [cp.id for cp in reversed(made)]
    odd = await collect(saver.alist(config("t1"), filter={"step": 151}))
    assert [t.checkpoint.id for t in odd] == [made[152].id]
    assert len(await collect(saver.alist(config("t1"), limit=150))) == 150


async def test_breaking_out_of_list_early(saver: BaseCheckpointSaver) -> None:
    await put_chain(saver, "t1", 5)
    listing = saver.alist(config("t1"))
    first = await listing.__anext__()
    assert first.metadata["step"] == 3
    await listing.aclose()  # type: ignore[attr-defined]
    assert await saver.aget_tuple(config("t1")) is not None


# --- pending writes ----------------------------------------------------------------------


async def test_pending_writes_are_attached(saver: BaseCheckpointSaver) -> None:
    first, second = await put_chain(saver, "t1", 2)
    target = named("t1", "", first.id)
    await saver.aput_writes(target, [("a", 1), ("b", {"x": [1, 2]})], "task-2", task_path="~1")
    await saver.aput_writes(target, [("a", 10)], "task-1", task_path="~0")

    found = await saver.aget_tuple(target)
    assert found is not None
    assert found.pending_writes == (
        PendingWrite(task_id="task-1", channel="a", value=10),
        PendingWrite(task_id="task-2", channel="a", value=1),
        PendingWrite(task_id="task-2", channel="b", value={"x": [1, 2]}),
    )
    latest = await saver.aget_tuple(config("t1"))
    assert latest is not None
    assert latest.checkpoint.id == second.id
    assert latest.pending_writes == ()
    listed = await collect(saver.alist(config("t1")))
    assert [len(t.pending_writes) for t in listed] == [0, 3]


async def test_pending_writes_are_idempotent(saver: BaseCheckpointSaver) -> None:
    (cp,) = await put_chain(saver, "t1", 1)
    target = named("t1", "", cp.id)
    await saver.aput_writes(target, [("a", 1), ("b", 2)], "task")
    await saver.aput_writes(target, [("a", 1), ("b", 2)], "task")
    await saver.aput_writes(target, [("a", 3)], "task")  # same (task, index 0): replaced
    found = await saver.aget_tuple(target)
    assert found is not None
    assert found.pending_writes == (
        PendingWrite(task_id="task", channel="a", value=3),
        PendingWrite(task_id="task", channel="b", value=2),
    )


async def test_special_channels_replace_by_channel(saver: BaseCheckpointSaver) -> None:
    (cp,) = await put_chain(saver, "t1", 1)
    target = named("t1", "", cp.id)
    await saver.aput_writes(target, [("x", 1), ("__interrupt__", ["first"])], "task")
    await saver.aput_writes(target, [("__interrupt__", ["second"])], "task")
    await saver.aput_writes(target, [("__error__", "boom")], "task")
    found = await saver.aget_tuple(target)
    assert found is not None
    assert found.pending_writes == (
        PendingWrite(task_id="task", channel="__interrupt__", value=["second"]),
        PendingWrite(task_id="task", channel="__error__", value="boom"),
        PendingWrite(task_id="task", channel="x", value=1),
    )


async def test_writes_do_not_leak_between_threads_or_namespaces(
    saver: BaseCheckpointSaver,
) -> None:
    cp = make_checkpoint()
    for thread_id, ns in [("t1", ""), ("t1", "sub:1"), ("t2", "")]:
        await saver.aput(config(thread_id, ns), cp, {})
    await saver.aput_writes(named("t1", "sub:1", cp.id), [("a", 1)], "task")
    for thread_id, ns, expected in [("t1", "", 0), ("t1", "sub:1", 1), ("t2", "", 0)]:
        found = await saver.aget_tuple(config(thread_id, ns))
        assert found is not None
        assert len(found.pending_writes) == expected


# --- deleting ----------------------------------------------------------------------------


async def test_delete_thread(saver: BaseCheckpointSaver) -> None:
    made = await put_chain(saver, "t1", 2)
    await put_chain(saver, "t1", 2, checkpoint_ns="sub:1")
    await saver.aput_writes(named("t1", "", made[0].id), [("a", 1)], "task")
    kept = await put_chain(saver, "t2", 2)

    await saver.adelete_thread("t1")
    assert await saver.aget_tuple(config("t1")) is None
    assert await saver.aget_tuple(config("t1", "sub:1")) is None
    assert await collect(saver.alist({"configurable": {"thread_id": "t1"}})) == []
    remaining = await collect(saver.alist(None))
    assert [t.checkpoint.id for t in remaining] == [cp.id for cp in reversed(kept)]

    # the thread starts afresh: old writes do not come back
    await saver.aput(config("t1"), made[0], {})
    found = await saver.aget_tuple(config("t1"))
    assert found is not None
    assert found.pending_writes == ()
    await saver.adelete_thread("never-existed")


# --- thread leases -----------------------------------------------------------------------


def busy_message(thread_id: str, checkpoint_ns: str = "") -> str:
    where = f"Thread {thread_id!r}" + (
        f" (checkpoint_ns {checkpoint_ns!r})" if checkpoint_ns else ""
    )
    return re.escape(
        f"{where} is busy: another run is using it right now. "
        "Wait for that run to finish, or start this run with another thread_id."
    )


async def test_lease_is_exclusive(saver: BaseCheckpointSaver) -> None:
    async with saver.thread_lease("t1"):
        with pytest.raises(ThreadBusyError, match=f"^{busy_message('t1')}$") as caught:
            async with saver.thread_lease("t1"):
                pytest.fail("a second lease was granted")
        assert caught.value.thread_id == "t1"
        # other threads and namespaces are independent
        async with saver.thread_lease("t2"), saver.thread_lease("t1", "sub:1"):
            with pytest.raises(ThreadBusyError, match=f"^{busy_message('t1', 'sub:1')}$"):
                async with saver.thread_lease("t1", "sub:1"):
                    pass
    assert issubclass(ThreadBusyError, RuntimeError)


async def test_lease_is_released_after_exit(saver: BaseCheckpointSaver) -> None:
    for _ in range(3):
        async with saver.thread_lease("t1"):
            pass


async def test_lease_is_released_after_exception(saver: BaseCheckpointSaver) -> None:
    with pytest.raises(KeyError):
        async with saver.thread_lease("t1"):
            raise KeyError("boom")
    async with saver.thread_lease("t1"):
        pass


async def test_lease_is_released_after_cancellation(saver: BaseCheckpointSaver) -> None:
    with anyio.CancelScope() as scope:
        async with saver.thread_lease("t1"):
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    async with saver.thread_lease("t1"):
        pass


async def test_lease_excludes_concurrent_tasks(saver: BaseCheckpointSaver) -> None:
    """Of many tasks racing for one thread, exactly one gets it while it is held."""
    winners: list[int] = []
    busy: list[int] = []
    release = anyio.Event()

    async def contender(i: int) -> None:
        try:
            async with saver.thread_lease("race"):
                winners.append(i)
                await release.wait()
        except ThreadBusyError:
            busy.append(i)
            if len(busy) == 19:
                release.set()

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(contender, i)
    assert len(winners) == 1
    assert sorted(winners + busy) == list(range(20))


async def test_lease_is_exclusive_across_saver_instances(make_saver: SaverFactory) -> None:
    """Two savers on one store behave like two processes."""
    first, second = make_saver(), make_saver()
    async with first.thread_lease("t1"):
        with pytest.raises(ThreadBusyError, match=f"^{busy_message('t1')}$"):
            async with second.thread_lease("t1"):
                pass
    async with second.thread_lease("t1"):
        pass


# --- concurrency -------------------------------------------------------------------------


async def test_200_threads_in_parallel(saver: BaseCheckpointSaver) -> None:
    async def run_thread(i: int) -> None:
        thread_id = f"thread-{i}"
        async with saver.thread_lease(thread_id):
            parent: str | None = None
            for step in range(3):
                cp = make_checkpoint({"i": i, "step": step})
                await saver.aput(config(thread_id, checkpoint_id=parent), cp, {"step": step})
                await saver.aput_writes(named(thread_id, "", cp.id), [("i", i)], f"task-{i}")
                parent = cp.id

    async with anyio.create_task_group() as tg:
        for i in range(200):
            tg.start_soon(run_thread, i)

    for i in range(200):
        listed = await collect(saver.alist(config(f"thread-{i}")))
        assert [t.checkpoint.channel_values for t in listed] == [
            {"i": i, "step": step} for step in (2, 1, 0)
        ]
        assert [t.pending_writes for t in listed] == [
            (PendingWrite(task_id=f"task-{i}", channel="i", value=i),)
        ] * 3
    assert len(await collect(saver.alist(None))) == 600


# --- serialization through the saver ----------------------------------------------------------


SPECIAL_VALUES: dict[str, Any] = {
    "big": 2**100,
    "neg_big": -(2**80),
    "tuple": (1, (2, "x")),
    "set": {1, 2, 3},
    "frozenset": frozenset({"a"}),
    "int_keys": {1: "a", (2, 3): [None]},
    "bytes": b"\x00\xff",
    "when": datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
    "duration": datetime.timedelta(days=-2, microseconds=7),
    "enum": Unit.KG,
    "point": Point(1, 2),
    "reading": Reading(value=1.5, unit=Unit.G, tags=("a",)),
    "money": Money(amount=3, currency="EUR"),
}


async def test_special_values_round_trip(saver: BaseCheckpointSaver) -> None:
    cp = make_checkpoint(dict(SPECIAL_VALUES))
    await saver.aput(config("t1"), cp, {"step": 0, "point": Point(3, 4)})
    await saver.aput_writes(named("t1", "", cp.id), [("reading", SPECIAL_VALUES["reading"])], "t")
    found = await saver.aget_tuple(config("t1"))
    assert found is not None
    for key, value in SPECIAL_VALUES.items():
        assert found.checkpoint.channel_values[key] == value, key
        assert type(found.checkpoint.channel_values[key]) is type(value), key
    assert found.metadata["point"] == Point(3, 4)
    assert found.pending_writes[0].value == SPECIAL_VALUES["reading"]


def no_serializer_message(type_name: str, key: str, where: str = "") -> str:
    return re.escape(
        f"Cannot store value of type {type_name!r} at key {key!r}{where}: stepgraph has no "
        "encoding for this type; store JSON-compatible data, a dataclass/attrs/pydantic model, "
        "or pass allow_pickle=True (serde=Serializer(allow_pickle=True); only for storage "
        "you trust)"
    )


async def test_unstorable_value_names_key_and_type(saver: BaseCheckpointSaver) -> None:
    with socket.socket() as conn:
        with pytest.raises(
            SerializationError, match=f"^{no_serializer_message('socket', 'conn')}$"
        ):
            await saver.aput(config("t1"), make_checkpoint({"ok": 1, "conn": conn}), {})
        assert await saver.aget_tuple(config("t1")) is None  # nothing half-written

        nested = no_serializer_message("socket", "peers", " (found at peers['a'][1])")
        with pytest.raises(SerializationError, match=f"^{nested}$"):
            await saver.aput(config("t1"), make_checkpoint({"peers": {"a": [0, conn]}}), {})

        with pytest.raises(SerializationError, match=no_serializer_message("socket", "metadata.c")):
            await saver.aput(config("t1"), make_checkpoint(), {"c": conn})

        cp = make_checkpoint()
        await saver.aput(config("t1"), cp, {})
        with pytest.raises(SerializationError, match=no_serializer_message("socket", "out")):
            await saver.aput_writes(named("t1", "", cp.id), [("fine", 1), ("out", conn)], "task")
    assert issubclass(SerializationError, TypeError)


async def test_pickle_is_refused_unless_allowed(make_saver: SaverFactory) -> None:
    saver = make_saver(serde=Serializer(allow_pickle=True))
    cp = make_checkpoint({"fn": socket.getfqdn})  # only pickle can store a function
    await saver.aput(config("t1"), cp, {})
    found = await saver.aget_tuple(config("t1"))
    assert found is not None
    assert found.checkpoint.channel_values["fn"] is socket.getfqdn

    saver.serde = Serializer()  # the same storage, read without the opt-in
    message = re.escape(
        "Cannot read back the stored value at key 'fn': it was stored with pickle, and pickle "
        "payloads (which run arbitrary code when loaded) are only loaded by a Serializer "
        "created with allow_pickle=True; if you trust this storage, create the checkpointer "
        "with serde=Serializer(allow_pickle=True)"
    )
    with pytest.raises(SerializationError, match=f"^{message}$"):
        await saver.aget_tuple(config("t1"))
    with pytest.raises(SerializationError, match="^" + no_serializer_message("function", "fn")):
        await saver.aput(config("t1"), make_checkpoint({"fn": socket.getfqdn}), {})


# --- sync API ----------------------------------------------------------------------------------


async def test_sync_wrappers(saver: BaseCheckpointSaver) -> None:
    def sync_use() -> None:
        cp1, cp2 = make_checkpoint({"a": 1}), make_checkpoint({"a": 2})
        cfg1 = saver.put(config("sync"), cp1, {"step": 0})
        assert cfg1 == named("sync", "", cp1.id)
        saver.put(cfg1, cp2, {"step": 1})
        saver.put_writes(named("sync", "", cp2.id), [("a", 3)], "task")
        found = saver.get_tuple(config("sync"))
        assert found is not None
        assert found.checkpoint == cp2
        assert found.parent_config == cfg1
        assert found.pending_writes == (PendingWrite(task_id="task", channel="a", value=3),)
        assert saver.get(cfg1) == cp1
        assert [t.metadata["step"] for t in saver.list(config("sync"))] == [1, 0]
        assert [t.metadata["step"] for t in saver.list(None, filter={"step": 0})] == [0]
        listing = saver.list(config("sync"), limit=5)
        assert next(listing).checkpoint == cp2
        listing.close()  # type: ignore[attr-defined]
        saver.delete_thread("sync")
        assert saver.get_tuple(config("sync")) is None

    await anyio.to_thread.run_sync(sync_use)
