"""Checkpoint ids, config helpers, error classes and the package's public names."""

from __future__ import annotations

import itertools
import pickle
import re
import threading
import time
import uuid

import attrs
import pytest

import stepgraph.checkpoint as checkpoint_pkg
from stepgraph.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointTuple,
    PendingWrite,
    ThreadBusyError,
    UnknownCheckpointError,
    base,
    new_checkpoint_id,
)
from stepgraph.checkpoint.base import metadata_matches, parse_config
from stepgraph.errors import StepgraphError


def test_public_names() -> None:
    assert sorted(checkpoint_pkg.__all__) == [
        "BaseCheckpointSaver",
        "Checkpoint",
        "CheckpointConfigError",
        "CheckpointError",
        "CheckpointTuple",
        "Checkpointer",
        "InMemorySaver",
        "MemorySaver",
        "PendingWrite",
        "SerializationError",
        "Serializer",
        "ThreadBusyError",
        "UnknownCheckpointError",
        "new_checkpoint_id",
    ]
    for name in checkpoint_pkg.__all__:
        assert getattr(checkpoint_pkg, name) is not None
    from stepgraph.checkpoint import memory, sqlite

    assert memory.__all__ == ["InMemorySaver", "MemorySaver"]
    assert memory.MemorySaver is memory.InMemorySaver
    assert sqlite.__all__ == ["SqliteSaver"]


def test_postgres_module_names() -> None:
    pytest.importorskip(
        "psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')"
    )
    from stepgraph.checkpoint import postgres

    assert postgres.__all__ == ["PostgresSaver"]


def test_importing_the_package_does_not_load_database_drivers() -> None:
    import subprocess
    import sys

    code = (
        "import sys, stepgraph.checkpoint, stepgraph.checkpoint.memory;"
        "print(sorted(m for m in ('psycopg', 'psycopg_pool', 'sqlite3') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_records_are_frozen() -> None:
    cp = Checkpoint(id="1", ts="t", channel_values={})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cp.id = "2"  # type: ignore[misc]
    assert cp.v == 1
    assert attrs.evolve(cp, id="2").id == "2"
    write = PendingWrite(task_id="t", channel="c", value=1)
    tup = CheckpointTuple(config={}, checkpoint=cp, metadata={}, parent_config=None)
    assert tup.pending_writes == ()
    with pytest.raises(TypeError):
        Checkpoint("1", "t", {})  # type: ignore[misc]  # keyword-only
    assert write == PendingWrite(task_id="t", channel="c", value=1)


# --- checkpoint ids -------------------------------------------------------------------------


def test_ids_are_uuid7_and_strictly_increasing() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [new_checkpoint_id() for _ in range(20_000)]
    after_ms = time.time_ns() // 1_000_000
    assert all(a < b for a, b in itertools.pairwise(ids))
    for text in (ids[0], ids[-1]):
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert before_ms <= parsed.int >> 80 <= after_ms + 1


def test_ids_keep_increasing_when_the_clock_goes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    first = new_checkpoint_id()
    monkeypatch.setattr(base.time, "time_ns", lambda: 0)
    later = [new_checkpoint_id() for _ in range(100)]
    assert first < later[0]
    assert later == sorted(set(later))


def test_ids_survive_counter_overflow(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen = time.time_ns()
    monkeypatch.setattr(base.time, "time_ns", lambda: frozen)
    first = new_checkpoint_id()
    monkeypatch.setattr(base, "_id_counter", (1 << base._COUNTER_BITS) - 2)
    more = [new_checkpoint_id() for _ in range(5)]
    assert [first, *more] == sorted({first, *more})


def test_ids_are_unique_across_threads() -> None:
    results: list[list[str]] = [[] for _ in range(8)]

    def make(bucket: list[str]) -> None:
        bucket.extend(new_checkpoint_id() for _ in range(2_000))

    threads = [threading.Thread(target=make, args=(bucket,)) for bucket in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for bucket in results for i in bucket]
    assert len(set(everything)) == len(everything)
    assert all(bucket == sorted(bucket) for bucket in results)


# --- helpers and errors --------------------------------------------------------------------------


def test_parse_config() -> None:
    assert parse_config({"configurable": {"thread_id": 7}}, "op") == ("7", "", None)
    assert parse_config(
        {"configurable": {"thread_id": "t", "checkpoint_ns": "a:1", "checkpoint_id": "x"}}, "op"
    ) == ("t", "a:1", "x")
    with pytest.raises(
        CheckpointError, match=r"^op\(\) needs config\['configurable'\]\['thread_id'\]"
    ):
        parse_config({}, "op")


def test_metadata_matches() -> None:
    metadata = {"source": "loop", "step": 1, "none": None}
    assert metadata_matches(metadata, None)
    assert metadata_matches(metadata, {})
    assert metadata_matches(metadata, {"source": "loop", "step": 1})
    assert metadata_matches(metadata, {"none": None})
    assert not metadata_matches(metadata, {"missing": None})
    assert not metadata_matches(metadata, {"step": 2})


def test_error_classes() -> None:
    busy = ThreadBusyError("t1")
    assert isinstance(busy, CheckpointError)
    assert isinstance(busy, StepgraphError)
    assert isinstance(busy, RuntimeError)
    assert (busy.thread_id, busy.checkpoint_ns) == ("t1", "")
    copy = pickle.loads(pickle.dumps(ThreadBusyError("t", "ns:1")))
    assert str(copy) == str(ThreadBusyError("t", "ns:1"))

    unknown = UnknownCheckpointError("t1", "", "abc")
    assert isinstance(unknown, LookupError)
    assert str(unknown) == (
        "No checkpoint 'abc' in thread 't1'. List the thread's checkpoints "
        "(get_state_history / alist) for valid ids, or leave checkpoint_id out of the config "
        "to use the latest one."
    )
    assert re.search("checkpoint_ns 'n:1'", str(UnknownCheckpointError("t", "n:1", "x")))
    assert str(pickle.loads(pickle.dumps(unknown))) == str(unknown)
