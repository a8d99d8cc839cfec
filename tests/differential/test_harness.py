"""The normalizer and the canonical forms: what the differential tests erase and keep."""

from __future__ import annotations

import dataclasses

import pytest

from .harness import Case, ModeSpec, canonical, segment_sizes
from .normalize import Normalizer, error_name


class Interrupt:  # named like LangGraph's: recognised by name and attributes
    def __init__(self, value: object, id: str) -> None:
        self.value = value
        self.id = id


class HumanMessage:
    type = "human"

    def __init__(self, content: str, id: str | None = None) -> None:
        self.content = content
        self.id = id


@dataclasses.dataclass
class Msg:
    role: str
    content: str
    id: str | None = None


class InvalidUpdateError(ValueError):
    pass


class PrivateConflict(InvalidUpdateError):
    pass


def test_uuids_become_placeholders_in_order_of_appearance() -> None:
    norm = Normalizer()
    a, b = "0b8c7a9e-1d2f-4a5b-8c6d-7e8f9a0b1c2d", "11111111-2222-4333-8444-555555555555"
    assert norm([f"sub:{b}", a, b]) == ["sub:<uuid-1>", "<uuid-2>", "<uuid-1>"]


def test_interrupt_ids_are_named_by_value() -> None:
    norm = Normalizer()
    first = norm(Interrupt("ask b", "f" * 32))
    second = norm(Interrupt("ask a", "e" * 32))
    assert first == {"value": "ask b", "id": '<interrupt "ask b">'}
    assert second["id"] == '<interrupt "ask a">'
    # the same raw id as a plain dict (tasks mode) or a bare string maps alike
    assert norm({"value": "ask b", "id": "f" * 32})["id"] == first["id"]
    assert norm("e" * 32) == second["id"]


def test_equal_interrupt_values_get_distinct_placeholders() -> None:
    norm = Normalizer()
    one = norm(Interrupt("same", "a" * 32))["id"]
    two = norm(Interrupt("same", "b" * 32))["id"]
    assert one != two


def test_tuples_and_lists_stay_distinct() -> None:
    norm = Normalizer()
    assert norm((1, [2])) == {"$tuple": [1, [2]]}
    assert norm((1, [2])) != norm([1, [2]])


def test_messages_compare_by_role_and_content() -> None:
    norm = Normalizer()
    generated = "0b8c7a9e-1d2f-4a5b-8c6d-7e8f9a0b1c2d"
    assert norm(HumanMessage("hi", id=generated)) == norm(Msg("user", "hi"))
    assert norm(HumanMessage("hi", id="m1")) == {"$msg": "human", "content": "hi", "id": "m1"}
    assert norm(HumanMessage("hi")) != norm(Msg("assistant", "hi"))


def test_exceptions_map_to_langgraph_names_without_notes() -> None:
    exc = PrivateConflict("At key 'x': ...")
    if hasattr(exc, "add_note"):  # Python 3.11+
        exc.add_note("During task with name 'a'")
    assert error_name(exc) == "InvalidUpdateError"
    assert Normalizer().error(exc) == ["InvalidUpdateError", "At key 'x': ..."]
    assert error_name(KeyError("k")) == "KeyError"


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("invoke", ModeSpec(invoke=True, stream_mode=None, subgraphs=False)),
        ("invoke:updates", ModeSpec(invoke=True, stream_mode="updates", subgraphs=False)),
        ("values", ModeSpec(invoke=False, stream_mode="values", subgraphs=False)),
        ("updates+custom@sub", ModeSpec(False, ["updates", "custom"], True)),
    ],
)
def test_mode_names(name: str, spec: ModeSpec) -> None:
    assert ModeSpec.parse(name) == spec


def _t(*items: object) -> dict:
    return {"$tuple": list(items)}


def test_parallel_updates_sorted_within_steps_only() -> None:
    case = Case(graph=None, input=None, parallel=True)
    combined = [
        {
            "chunks": [
                _t("values", {"log": []}),
                _t("updates", {"b": 1}),
                _t("updates", {"a": 1}),
                _t("values", {"log": ["a", "b"]}),
                _t("updates", {"c": 1}),
            ],
            "error": None,
        }
    ]
    assert segment_sizes(combined) == [[2, 1]]
    got = canonical(case, "updates+values", combined)[0]["chunks"]
    assert got[1:3] == [_t("updates", {"a": 1}), _t("updates", {"b": 1})]

    sizes = segment_sizes(combined)
    swapped = [{"chunks": [{"b": 1}, {"a": 1}, {"c": 1}], "error": None}]
    in_order = [{"chunks": [{"a": 1}, {"b": 1}, {"c": 1}], "error": None}]
    wrong_step = [{"chunks": [{"c": 1}, {"a": 1}, {"b": 1}], "error": None}]
    assert canonical(case, "updates", swapped, sizes) == canonical(case, "updates", in_order, sizes)
    assert canonical(case, "updates", wrong_step, sizes) != canonical(
        case, "updates", in_order, sizes
    )


def test_sequential_cases_keep_their_order() -> None:
    case = Case(graph=None, input=None)
    records = [{"chunks": [{"b": 1}, {"a": 1}], "error": None}]
    assert canonical(case, "updates", records) == records
