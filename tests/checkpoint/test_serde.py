"""The checkpoint Serializer: what round-trips, what is refused, and what the errors say."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import math
import pathlib
import re
import socket
import uuid
import zoneinfo
from typing import Any

import ormsgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepgraph.checkpoint import CheckpointError, SerializationError, Serializer
from stepgraph.errors import StepgraphError

from .values import Box, Level, Money, Pair, Point, Reading, Strict, Unit

SERDE = Serializer()


def same(a: Any, b: Any) -> bool:
    """Equal *and* of the same types all the way down (1 == 1.0 == True is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return (
            list(a) == list(b)
            and all(same(a[k], b[k]) for k in a)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, (datetime.datetime, datetime.time)):
        return a == b and a.fold == b.fold and str(a.tzinfo) == str(b.tzinfo)
    return bool(a == b)


def round_trip(value: Any, serde: Serializer = SERDE) -> Any:
    return serde.loads_typed(serde.dumps_typed(value))


# --- properties ---------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: beyond 64 bits too
    | st.floats()  # NaN, infinities and -0.0 included
    | st.text()
    | st.binary()
)
hashables = st.recursive(
    # NaN != NaN, so a set holding NaN never equals its copy
    scalars.filter(lambda v: not (isinstance(v, float) and math.isnan(v))),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
json_ish = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(), inner, max_size=4)
        | st.dictionaries(hashables, inner, max_size=3)
        | st.sets(hashables, max_size=3)
    ),
    max_leaves=25,
)
special = st.one_of(
    st.datetimes(timezones=st.none() | st.timezones() | st.just(datetime.timezone.utc)),
    st.datetimes(
        timezones=st.builds(
            datetime.timezone,
            st.timedeltas(
                min_value=datetime.timedelta(hours=-23), max_value=datetime.timedelta(hours=23)
            ),
        )
    ),
    st.dates(),
    st.times(timezones=st.none() | st.just(datetime.timezone(datetime.timedelta(hours=5)))),
    st.timedeltas(),
    st.uuids(),
    st.decimals(),
    st.complex_numbers(allow_nan=False),
    st.sampled_from(Unit) | st.sampled_from(Level),
    st.builds(pathlib.PurePosixPath, st.text()),
    st.builds(Point, st.integers(), st.integers()),
    st.builds(
        Reading, st.floats(allow_nan=False), st.sampled_from(Unit), st.lists(st.text()).map(tuple)
    ),
    st.builds(Money, amount=st.integers(-(2**63), 2**63 - 1), currency=st.text()),
    st.builds(Pair, scalars, scalars),
)


@settings(deadline=None)  # CI machines vary; the property, not the speed, is under test
@given(json_ish)
def test_json_ish_values_round_trip(value: Any) -> None:
    """Any nested structure of plain values comes back equal, with identical types."""
    assert same(round_trip(value), value)


@settings(deadline=None)
@given(st.lists(special, max_size=5), st.dictionaries(st.text(), special, max_size=3))
def test_special_types_round_trip(values: list[Any], mapping: dict[str, Any]) -> None:
    """Every supported special type comes back equal, with identical types, also nested."""
    assert same(round_trip(values), values)
    assert same(round_trip(mapping), mapping)
    assert same(round_trip(tuple(values)), tuple(values))


# --- specific types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        2**64,
        -(2**63) - 1,
        10**5000,  # beyond int's default str() digit limit
        (),
        ((),),
        {(1, 2): {3: frozenset({(4,)})}},
        [{1: 2}, {"a": {None: [(), {}]}}],
        {True: 1, 2.5: "x", None: b"y"},
        set(),
        datetime.datetime(2021, 11, 7, 1, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("America/New_York")),
        datetime.time(12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
        decimal.Decimal("-0.000"),
        decimal.Decimal("sNaN"),
        pathlib.Path("/tmp/x"),
        pathlib.PureWindowsPath("C:/Users/x"),
        uuid.UUID(int=0),
        Level.HIGH,
        Pair(Point(1, 2), [Unit.G]),
        Money(amount=1, history=[Point(3, 4)]),
    ],
    ids=lambda v: type(v).__name__,
)
def test_specific_values_round_trip(value: Any) -> None:
    assert same(round_trip(value), value)


def test_dataclass_rebuilt_through_constructor_with_init_false_field() -> None:
    back = round_trip(Point(3, -4))
    assert back == Point(3, -4)
    assert back.norm == 7


def test_attrs_private_attribute_round_trips() -> None:
    reading = Reading(1.0, Unit.KG, ("t",), note="hello")
    back = round_trip(reading)
    assert back == reading
    assert back._note == "hello"


def test_pydantic_validators_are_not_run_twice() -> None:
    model = Strict(name="hi")
    assert model.name == "hi!"
    back = round_trip(model)
    assert back == model
    assert back.name == "hi!"
    assert back.model_fields_set == {"name"}


def test_generic_pydantic_model_comes_back_as_its_origin_class() -> None:
    back = round_trip(Box[int](item=3))
    assert type(back) is Box
    assert back.item == 3


def test_pydantic_unset_fields_stay_unset() -> None:
    back = round_trip(Money(amount=5))
    assert back.model_fields_set == {"amount"}
    assert back.model_dump(exclude_unset=True) == {"amount": 5}


def test_langchain_messages_round_trip() -> None:
    messages = pytest.importorskip("langchain_core.messages")
    values = [
        messages.HumanMessage(content="hi", id="1"),
        messages.AIMessage(
            content="", id="2", tool_calls=[{"name": "f", "args": {"a": (1, 2)}, "id": "c"}]
        ),
        messages.AIMessageChunk(content="par", id="3"),
        messages.ToolMessage(content="ok", tool_call_id="c"),
        messages.SystemMessage(content="be brief"),
        messages.RemoveMessage(id="1"),
    ]
    back = round_trip(values)
    assert back == values
    assert [type(m) for m in back] == [type(m) for m in values]


def test_subclasses_of_builtins_are_stored_as_the_builtin() -> None:
    class Text(str):
        pass

    assert same(round_trip({"s": Text("x"), "b": bytearray(b"ab")}), {"s": "x", "b": b"ab"})


# --- refusals and their messages -----------------------------------------------------------------

FIX = (
    "store JSON-compatible data, a dataclass/attrs/pydantic model, or pass allow_pickle=True "
    "(serde=Serializer(allow_pickle=True); only for storage you trust)"
)


def test_unknown_type_error_names_type_and_fix() -> None:
    with socket.socket() as conn:
        message = (
            f"Cannot store value of type 'socket': stepgraph has no encoding for this type; {FIX}"
        )
        with pytest.raises(SerializationError, match=f"^{re.escape(message)}$"):
            SERDE.dumps_typed(conn)
        message = (
            "Cannot store value of type 'socket' at key 'conn' (found at conn.history[0]): "
            f"stepgraph has no encoding for this type; {FIX}"
        )
        with pytest.raises(SerializationError, match=f"^{re.escape(message)}$"):
            SERDE.dumps_channel("conn", Money.model_construct(amount=1, history=[conn]))
        message = (
            "Cannot store value of type 'socket' at key 'k' (found at k (a key)): "
            f"stepgraph has no encoding for this type; {FIX}"
        )
        with pytest.raises(SerializationError, match=f"^{re.escape(message)}$"):
            SERDE.dumps_channel("k", {conn: 1})


def test_local_class_is_refused_when_stored() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    message = (
        "Cannot store value of type "
        "'test_local_class_is_refused_when_stored.<locals>.Local' at key 'v' (found at v[0]): "
        "class 'test_local_class_is_refused_when_stored.<locals>.Local' is defined inside a "
        "function, so it could not be imported again to read the checkpoint back; define it at "
        "module level"
    )
    with pytest.raises(SerializationError, match=f"^{re.escape(message)}$"):
        SERDE.dumps_channel("v", [Local(1)])


def test_self_containing_value_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    message = (
        "Cannot store value of type 'list' at key 'v': it is nested too deeply or contains "
        "itself; store a flatter value"
    )
    with pytest.raises(SerializationError, match=f"^{re.escape(message)}$"):
        SERDE.dumps_channel("v", loop)


PICKLE_REFUSED = (
    "it was stored with pickle, and pickle payloads (which run arbitrary code when loaded) are "
    "only loaded by a Serializer created with allow_pickle=True; if you trust this storage, "
    "create the checkpointer with serde=Serializer(allow_pickle=True)"
)


def test_pickle_only_when_allowed() -> None:
    trusting = Serializer(allow_pickle=True)
    assert trusting.allow_pickle
    assert not SERDE.allow_pickle
    assert repr(trusting) == "Serializer(allow_pickle=True)"

    stored = trusting.dumps_channel("fn", {"f": socket.getfqdn, "plain": [1]})
    assert trusting.loads_channel("fn", stored) == {"f": socket.getfqdn, "plain": [1]}
    message = f"Cannot read back the stored value at key 'fn': {PICKLE_REFUSED}"
    with pytest.raises(SerializationError, match=f"^{re.escape(message)}$"):
        SERDE.loads_channel("fn", stored)

    # a value msgpack handles is never pickled, even when pickle is allowed
    assert trusting.dumps_typed({"a": (1,)}) == SERDE.dumps_typed({"a": (1,)})

    import pickle

    whole = ("pickle", pickle.dumps([1, 2]))
    with pytest.raises(
        SerializationError,
        match=f"^{re.escape('Cannot read back the stored value: ' + PICKLE_REFUSED)}$",
    ):
        SERDE.loads_typed(whole)
    assert trusting.loads_typed(whole) == [1, 2]


def test_unpicklable_value_with_pickle_allowed() -> None:
    message = "Cannot store value of type 'function' at key 'f': pickling it failed too ("
    with pytest.raises(SerializationError, match=f"^{re.escape(message)}"):
        Serializer(allow_pickle=True).dumps_channel("f", lambda: 1)


def ext(code: int, payload: Any) -> tuple[str, bytes]:
    return "msgpack", ormsgpack.packb([ormsgpack.Ext(code, ormsgpack.packb(payload))])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            ext(14, ["no_such_module_xyz", "Thing", {}]),
            "its class no_such_module_xyz.Thing cannot be imported "
            "(ModuleNotFoundError(\"No module named 'no_such_module_xyz'\")); keep the defining "
            "module importable under the same name (leave an alias behind when renaming or "
            "moving a class)",
        ),
        (
            ext(14, ["collections", "OrderedDict", {}]),
            "it was stored as a dataclass of class collections.OrderedDict, but the class "
            "imported under that name is no longer a dataclass",
        ),
        (
            ext(16, ["collections", "OrderedDict", {}, {}, []]),
            "it was stored as a pydantic model of class collections.OrderedDict, but the class "
            "imported under that name is no longer a pydantic model",
        ),
        (
            ext(12, ["os", "getcwd", 1]),
            "it was stored as an instance of os.getcwd, which is now a "
            "builtin_function_or_method, not a class",
        ),
        (
            ext(99, []),
            "it uses MessagePack extension type 99, which this stepgraph does not know (written "
            "by a newer stepgraph or by other software; upgrade stepgraph)",
        ),
        (
            ("json", b"{}"),
            "its type tag 'json' is unknown (written by other software or a newer stepgraph; "
            "upgrade stepgraph)",
        ),
    ],
    ids=["missing-module", "not-a-dataclass", "not-pydantic", "not-a-class", "unknown-ext", "tag"],
)
def test_unreadable_values_say_why(data: tuple[str, bytes], reason: str) -> None:
    message = f"Cannot read back the stored value at key 'k': {reason}"
    with pytest.raises(SerializationError, match=f"^{re.escape(message)}$"):
        SERDE.loads_channel("k", data)


def test_failing_constructor_is_reported() -> None:
    data = ext(14, [Point.__module__, "Point", {"x": 1}])  # y is missing
    with pytest.raises(
        SerializationError,
        match=r"^Cannot read back the stored value at key 'k': rebuilding it \(MessagePack extension type 14\) failed with TypeError\(",
    ):
        SERDE.loads_channel("k", data)


def test_garbage_is_reported() -> None:
    with pytest.raises(
        SerializationError,
        match=r"^Cannot read back the stored value: the data is not valid MessagePack \(",
    ):
        SERDE.loads_typed(("msgpack", b"\xc1"))


def test_error_hierarchy() -> None:
    for cls in (SerializationError,):
        assert issubclass(cls, CheckpointError)
        assert issubclass(cls, StepgraphError)
        assert issubclass(cls, TypeError)
        assert issubclass(cls, RuntimeError)
