"""The pure halves of the superstep: planning, applying writes, routing, schemas.

No event loop anywhere in this module: ``plan_step``, ``apply_writes``,
``next_pending``, ``update_chunk`` and the schema reader are plain functions.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from typing import Annotated, Any, Union

import attrs
import pydantic
import pytest
from typing_extensions import TypedDict

from stepgraph import END, START, Send, StateGraph
from stepgraph._apply import TaskResult, apply_writes, next_pending, ordered_writes, update_chunk
from stepgraph._plan import PULL, PUSH, Pending, Task, path_key, plan_step, task_id
from stepgraph._schema import channel_specs, schema_keys
from stepgraph._spec import GraphSpec
from stepgraph.errors import InvalidUpdateError
from stepgraph.types import Overwrite

CONFLICT_X = (
    "At key 'x': Can receive only one value per step. Use an Annotated key to handle "
    "multiple values.\nFor troubleshooting, visit: https://docs.langchain.com/oss/python/"
    "langgraph/errors/INVALID_CONCURRENT_GRAPH_UPDATE"
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class State(TypedDict, total=False):
    x: int
    log: Annotated[list[str], operator.add]
    total: Annotated[int, operator.add]
    d: Annotated[dict[str, int], operator.or_]
    u: Annotated[Union[int, str], operator.add]  # noqa: UP007 - T() fails on purpose


def _noop(state: Any) -> None:
    return None


def _spec(
    nodes: tuple[str, ...] = ("a", "b", "c", "d"),
    edges: tuple[tuple[Any, str], ...] = ((START, "a"),),
    deferred: tuple[str, ...] = (),
) -> GraphSpec:
    builder = StateGraph(State)
    for name in nodes:
        builder.add_node(name, _noop, defer=name in deferred)
    for source, target in edges:
        builder.add_edge(source, target)
    return builder.compile().spec


def _task(spec: GraphSpec, name: str, path: tuple[Any, ...]) -> Task:
    return Task(id=f"id-{path!r}", name=name, path=path, triggers=(), node=spec.nodes[name])


# -- plan_step ------------------------------------------------------------------------


def test_plan_step_puts_sends_first_in_send_order_then_pulls_sorted_by_name() -> None:
    spec = _spec(nodes=("zeta", "alpha", "mid", "w"), edges=((START, "mid"),))
    pending = Pending(
        pull={"zeta": ("branch:to:zeta",), "alpha": ("branch:to:alpha",), "mid": ("x",)},
        push=(Send("w", 2), Send("zeta", "z"), Send("w", 1)),
    )
    tasks = plan_step(spec, pending, step=3, checkpoint_id="ck", namespace="")
    assert [(t.name, t.path, t.triggers, t.arg) for t in tasks] == [
        ("w", (PUSH, 0, False), (PUSH,), 2),
        ("zeta", (PUSH, 1, False), (PUSH,), "z"),
        ("w", (PUSH, 2, False), (PUSH,), 1),
        ("alpha", (PULL, "alpha"), ("branch:to:alpha",), None),
        # a pull task reports every channel that can start its node (as LangGraph),
        # not the one that fired
        ("mid", (PULL, "mid"), ("branch:to:mid",), None),
        ("zeta", (PULL, "zeta"), ("branch:to:zeta",), None),
    ]
    assert [t.is_push for t in tasks] == [True, True, True, False, False, False]
    assert all(t.node is spec.nodes[t.name] for t in tasks)


def test_a_join_target_reports_its_branch_and_join_channels_sorted() -> None:
    builder = StateGraph(State)
    for name in ("b2", "a", "c"):
        builder.add_node(name, _noop)
    builder.add_edge(START, "a").add_edge(START, "b2").add_edge(["b2", "a"], "c")
    spec = builder.compile().spec
    # the join channel keeps the sources in the order add_edge got them
    assert spec.node_triggers["c"] == ("branch:to:c", "join:b2+a:c")
    pending = Pending(pull={"c": ("join:b2+a:c",)})
    (task,) = plan_step(spec, pending, step=2, checkpoint_id="ck", namespace="")
    assert task.triggers == ("branch:to:c", "join:b2+a:c")


def test_plan_step_task_ids_are_deterministic_uuid_strings() -> None:
    spec = _spec()
    pending = Pending(pull={"a": ("t",), "b": ("t",)}, push=(Send("c", 0), Send("c", 1)))
    first = plan_step(spec, pending, step=1, checkpoint_id="ck", namespace="")
    again = plan_step(spec, pending, step=1, checkpoint_id="ck", namespace="")
    assert [t.id for t in first] == [t.id for t in again]
    assert all(UUID_RE.match(t.id) for t in first)
    assert len({t.id for t in first}) == 4  # two Sends to the same node differ by path
    assert first[0].id == task_id("ck", "", 1, "c", (PUSH, 0, False))
    for other in (
        plan_step(spec, pending, step=2, checkpoint_id="ck", namespace=""),
        plan_step(spec, pending, step=1, checkpoint_id="other", namespace=""),
        plan_step(spec, pending, step=1, checkpoint_id="ck", namespace="outer:1"),
    ):
        assert {t.id for t in other}.isdisjoint({t.id for t in first})


def test_plan_step_skips_sends_to_unknown_nodes() -> None:
    spec = _spec()
    tasks = plan_step(
        spec,
        Pending(push=(Send("nope", 1), Send("a", 2))),
        step=1,
        checkpoint_id="ck",
        namespace="",
    )
    # the surviving Send keeps its send index as its path
    assert [(t.name, t.path) for t in tasks] == [("a", (PUSH, 1, False))]


def test_plan_step_runs_deferred_nodes_only_when_nothing_else_is_pending() -> None:
    spec = _spec(deferred=("d",))
    waiting = Pending(pull={"a": ("t",)}, deferred={"d": ("branch:to:d",)})
    assert [t.name for t in plan_step(spec, waiting, step=1, checkpoint_id="c", namespace="")] == [
        "a"
    ]
    alone = Pending(deferred={"d": ("branch:to:d",)})
    assert [t.name for t in plan_step(spec, alone, step=1, checkpoint_id="c", namespace="")] == [
        "d"
    ]


def test_plan_step_of_nothing_is_empty_and_pending_is_falsy() -> None:
    assert not Pending()
    assert Pending(push=(Send("a", 1),))
    assert plan_step(_spec(), Pending(), step=1, checkpoint_id="c", namespace="") == ()


# -- commit order ---------------------------------------------------------------------


def test_ordered_writes_follow_task_path_not_completion_order() -> None:
    spec = _spec(nodes=("zeta", "alpha", "mid", "w"), edges=((START, "mid"),))
    sends = [
        TaskResult(_task(spec, "w", (PUSH, i, False)), (("log", [f"w{i}"]),))
        for i in reversed(range(12))
    ]
    pulls = [
        TaskResult(_task(spec, name, (PULL, name)), (("log", [name]), ("total", 1)))
        for name in ("zeta", "mid", "alpha")
    ]
    # completion order: sends (last first) interleaved with pulls
    finished = [sends[0], pulls[0], *sends[1:6], pulls[1], *sends[6:], pulls[2]]
    assert ordered_writes(finished) == [
        ("log", ["alpha"]),
        ("total", 1),
        ("log", ["mid"]),
        ("total", 1),
        ("log", ["zeta"]),
        ("total", 1),
        *[("log", [f"w{i}"]) for i in range(12)],  # numeric Send order: w10 after w9
    ]


def test_path_key_sorts_pulls_by_name_before_pushes_by_index() -> None:
    paths = [(PUSH, 10), (PULL, "b"), (PUSH, 2), (PULL, "a")]
    assert sorted(paths, key=path_key) == [(PULL, "a"), (PULL, "b"), (PUSH, 2), (PUSH, 10)]


# -- apply_writes ---------------------------------------------------------------------


def test_apply_writes_folds_reducers_in_write_order() -> None:
    spec = _spec()
    values, written = apply_writes(
        spec,
        {"log": ["start"], "total": 0},
        [("log", ["a"]), ("total", 2), ("log", ["b"]), ("total", 3), ("x", 7)],
    )
    assert values == {"log": ["start", "a", "b"], "total": 5, "x": 7}
    assert written == ("log", "total", "x")


def test_apply_writes_does_not_mutate_its_input() -> None:
    spec = _spec()
    before = {"log": ["start"], "x": 1}
    apply_writes(spec, before, [("log", ["a"]), ("x", 2)])
    assert before == {"log": ["start"], "x": 1}


def test_apply_writes_without_writes_changes_nothing() -> None:
    assert apply_writes(_spec(), {"x": 1}, []) == ({"x": 1}, ())


def test_apply_writes_plain_key_conflict_raises_invalid_update_with_full_message() -> None:
    with pytest.raises(InvalidUpdateError) as info:
        apply_writes(_spec(), {"x": 0}, [("x", 1), ("log", ["ok"]), ("x", 2)])
    assert str(info.value) == CONFLICT_X


def test_apply_writes_overwrite_bypasses_the_reducer() -> None:
    spec = _spec()
    values, _ = apply_writes(
        spec, {"log": ["old"]}, [("log", ["a"]), ("log", Overwrite(["fresh"])), ("log", ["b"])]
    )
    assert values["log"] == ["fresh", "b"]
    values, _ = apply_writes(spec, {"x": 1}, [("x", Overwrite(5))])
    assert values["x"] == 5


def test_apply_writes_two_overwrites_of_one_key_in_a_step_conflict() -> None:
    with pytest.raises(InvalidUpdateError) as info:
        apply_writes(_spec(), {"log": []}, [("log", Overwrite([1])), ("log", Overwrite([2]))])
    assert str(info.value) == (
        "At key 'log': received 2 Overwrite values in one step; only one Overwrite per key "
        "per step is allowed."
    )


def test_reducer_keys_start_at_t_and_first_write_without_default_is_stored_verbatim() -> None:
    spec = _spec()
    assert {k: f() for k, f in spec.reducer_defaults.items()} == {"log": [], "total": 0, "d": {}}
    # Union[int, str]() fails: no default, the first write is stored without the reducer
    values, _ = apply_writes(spec, {}, [("u", "s")])
    assert values["u"] == "s"
    values, _ = apply_writes(spec, values, [("u", "t")])
    assert values["u"] == "st"


def test_reducer_is_called_with_current_value_and_write() -> None:
    calls: list[tuple[Any, Any]] = []

    def record(left: list[str], right: list[str]) -> list[str]:
        calls.append((list(left), list(right)))
        return left + right

    spec = StateGraph(_recording_state(record)).add_node("a", _noop).add_edge(START, "a")
    compiled = spec.compile().spec
    values = {k: f() for k, f in compiled.reducer_defaults.items()}
    values, _ = apply_writes(compiled, values, [("log", ["in"])])
    values, _ = apply_writes(compiled, values, [("log", ["x"])])
    assert calls == [([], ["in"]), (["in"], ["x"])]
    assert values == {"log": ["in", "x"]}


def _recording_state(reducer: Any) -> Any:
    return TypedDict("RecState", {"log": Annotated[list, reducer]})  # type: ignore[operator]


# -- next_pending ---------------------------------------------------------------------


def test_next_pending_follows_plain_edges_with_branch_triggers() -> None:
    spec = _spec(edges=((START, "a"), ("a", "b"), ("a", "c"), ("b", END)))
    assert next_pending(spec, Pending(), [(START, [])]) == Pending(pull={"a": ("branch:to:a",)})
    nxt = next_pending(spec, Pending(), [("a", [])])
    assert nxt.pull == {"b": ("branch:to:b",), "c": ("branch:to:c",)}
    assert not next_pending(spec, Pending(), [("b", [])])  # END schedules nothing


def test_two_plain_edges_from_one_step_trigger_the_target_once() -> None:
    spec = _spec(edges=((START, "a"), ("a", "c"), ("b", "c")))
    nxt = next_pending(spec, Pending(), [("a", []), ("b", [])])
    assert nxt.pull == {"c": ("branch:to:c",)}


def test_plain_edges_from_different_steps_trigger_the_target_each_time() -> None:
    spec = _spec(edges=((START, "a"), ("a", "c"), ("b", "c")))
    first = next_pending(spec, Pending(), [("a", [])])
    assert first.pull == {"c": ("branch:to:c",)}
    second = next_pending(spec, first, [("b", [])])
    assert second.pull == {"c": ("branch:to:c",)}


def test_join_waits_for_every_source_across_steps_then_fires_once() -> None:
    spec = _spec(edges=((START, "a"), (("a", "b"), "c")))
    channel = "join:a+b:c"
    after_a = next_pending(spec, Pending(), [("a", [])])
    assert after_a.pull == {}
    assert after_a.barriers == {channel: frozenset({"a"})}
    assert not after_a
    after_a_again = next_pending(spec, after_a, [("a", [])])  # repeated source: still waiting
    assert after_a_again.barriers == {channel: frozenset({"a"})}
    after_b = next_pending(spec, after_a_again, [("b", [])])
    assert after_b.pull == {"c": (channel,)}
    assert after_b.barriers == {}


def test_join_from_one_step_fires_once() -> None:
    spec = _spec(edges=((START, "a"), (("a", "b"), "c")))
    nxt = next_pending(spec, Pending(), [("a", []), ("b", [])])
    assert nxt.pull == {"c": ("join:a+b:c",)}
    assert nxt.barriers == {}


def test_routes_add_pulls_and_sends_in_order_and_ignore_end_and_unknown_nodes() -> None:
    spec = _spec(edges=((START, "a"), ("a", "b")))
    nxt = next_pending(
        spec,
        Pending(),
        [("a", ["c", Send("d", 1), END, "nope", Send("b", 2)]), ("b", [Send("d", 3)])],
    )
    assert nxt.pull == {"b": ("branch:to:b",), "c": ("branch:to:c",)}
    assert nxt.push == (Send("d", 1), Send("b", 2), Send("d", 3))


def test_deferred_node_waits_while_anything_else_is_pending() -> None:
    spec = _spec(edges=((START, "a"), ("a", "b"), ("a", "d"), ("b", "c")), deferred=("d",))
    after_a = next_pending(spec, Pending(), [("a", [])])
    assert after_a.pull == {"b": ("branch:to:b",)}
    assert after_a.deferred == {"d": ("branch:to:d",)}
    after_b = next_pending(spec, after_a, [("b", [])])
    assert after_b.pull == {"c": ("branch:to:c",)}
    assert after_b.deferred == {"d": ("branch:to:d",)}
    after_c = next_pending(spec, after_b, [("c", [])])
    assert after_c.pull == {"d": ("branch:to:d",)}
    assert after_c.deferred == {}
    assert not next_pending(spec, after_c, [("d", [])])


def test_deferred_node_runs_beside_sends_and_only_once() -> None:
    spec = _spec(edges=((START, "a"), ("a", "d")), deferred=("d",))
    after_a = next_pending(spec, Pending(), [("a", [Send("b", 1)])])
    # nothing else is pulled: the deferred node runs now, beside the Send
    assert after_a.pull == {"d": ("branch:to:d",)}
    assert after_a.push == (Send("b", 1),)
    assert after_a.deferred == {}
    tasks = plan_step(spec, after_a, step=2, checkpoint_id="c", namespace="")
    assert [(t.name, t.path) for t in tasks] == [("b", (PUSH, 0, False)), ("d", (PULL, "d"))]
    after = next_pending(spec, after_a, [("d", []), ("b", [])])
    assert not after


def test_deferred_node_that_ran_leaves_the_deferred_set() -> None:
    spec = _spec(edges=((START, "a"),), deferred=("d",))
    waiting = Pending(pull={"a": ("t",)}, deferred={"d": ("branch:to:d",)})
    # d ran (as a pull of this step): it is not carried over
    assert next_pending(spec, waiting, [("d", [Send("b", 1)])]) == Pending(push=(Send("b", 1),))


# -- update_chunk ---------------------------------------------------------------------


def test_update_chunk_shapes() -> None:
    assert update_chunk([]) is None
    assert update_chunk([("x", 1), ("log", ["a"])]) == {"x": 1, "log": ["a"]}
    assert update_chunk([("log", ["c1"]), ("log", ["c2"])]) == [
        {"log": ["c1"]},
        {"log": ["c2"]},
    ]


# -- schemas → channels ---------------------------------------------------------------


class TDState(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


@dataclasses.dataclass
class DCState:
    x: int = 0
    log: Annotated[list[str], operator.add] = dataclasses.field(default_factory=list)


@attrs.define
class AttrsState:
    x: int = 0
    log: Annotated[list[str], operator.add] = attrs.Factory(list)


class PydState(pydantic.BaseModel):
    x: int = 0
    log: Annotated[list[str], operator.add] = []


@pytest.mark.parametrize("schema", [TDState, DCState, AttrsState, PydState])
def test_schema_to_channels(schema: Any) -> None:
    channels = channel_specs(schema)
    assert schema_keys(schema) == ("x", "log")
    assert list(channels) == ["x", "log"]
    assert channels["x"].reducer is None
    assert channels["x"].default is None
    assert channels["log"].reducer is operator.add
    assert channels["log"].default is not None
    assert channels["log"].default() == []


def test_channel_specs_union_of_schemas_first_schema_wins() -> None:
    class Extra(TypedDict):
        x: Annotated[int, operator.add]
        y: str

    channels = channel_specs(TDState, Extra)
    assert list(channels) == ["x", "log", "y"]
    assert channels["x"].reducer is None  # TDState declared x first, as a plain key


def test_annotated_metadata_that_is_not_a_binary_function_is_not_a_reducer() -> None:
    class Doc(TypedDict):
        a: Annotated[int, "just a note"]
        b: Annotated[list[int], "note", operator.add]

    channels = channel_specs(Doc)
    assert channels["a"].reducer is None
    assert channels["b"].reducer is operator.add
