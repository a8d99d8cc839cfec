"""``add_messages`` and ``MessagesState``: merge by id, append, remove, remove all.

Two paths: plain dict messages (what stepgraph does without langchain-core; forced here
by making ``stepgraph.graph.message._lc`` return None) and langchain-core message
objects (what LangGraph does, used whenever langchain-core is importable).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepgraph import END, START, MessagesState, StateGraph, add_messages
from stepgraph.graph import message as message_module
from stepgraph.graph.message import REMOVE_ALL_MESSAGES

pytestmark = pytest.mark.anyio


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behave as if langchain-core were not installed."""
    monkeypatch.setattr(message_module, "_lc", lambda: None)


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError):
        return False
    return True


def user(content: str, id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "user", "content": content}
    if id is not None:
        out["id"] = id
    return out


def ai(content: str, id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant", "content": content}
    if id is not None:
        out["id"] = id
    return out


# -- plain dicts -------------------------------------------------------------------------


@pytest.mark.usefixtures("plain")
def test_plain_append_new_ids() -> None:
    merged = add_messages([user("hi", "1")], [ai("yo", "2")])
    assert merged == [user("hi", "1"), ai("yo", "2")]


@pytest.mark.usefixtures("plain")
def test_plain_messages_without_ids_get_uuid_ids_and_inputs_are_not_mutated() -> None:
    left = [user("hi")]
    right = [ai("yo")]
    merged = add_messages(left, right)
    assert [m["content"] for m in merged] == ["hi", "yo"]
    assert all(_is_uuid(m["id"]) for m in merged)
    assert merged[0]["id"] != merged[1]["id"]
    assert left == [user("hi")]
    assert right == [ai("yo")]


@pytest.mark.usefixtures("plain")
def test_plain_same_id_replaces_in_place() -> None:
    merged = add_messages(
        [user("hi", "1"), ai("draft", "2"), user("more", "3")], [ai("final", "2")]
    )
    assert merged == [user("hi", "1"), ai("final", "2"), user("more", "3")]


@pytest.mark.usefixtures("plain")
def test_plain_single_message_string_and_tuple_are_accepted() -> None:
    merged = add_messages([user("hi", "1")], ai("single", "2"))
    assert merged == [user("hi", "1"), ai("single", "2")]
    (from_str,) = add_messages([], "hello")
    assert (from_str["role"], from_str["content"]) == ("user", "hello")
    (from_tuple,) = add_messages([], ("assistant", "sure"))
    assert (from_tuple["role"], from_tuple["content"]) == ("assistant", "sure")
    assert add_messages(None, [user("x", "1")]) == [user("x", "1")]


@pytest.mark.usefixtures("plain")
def test_plain_remove_by_id() -> None:
    merged = add_messages(
        [user("hi", "1"), ai("yo", "2")], [{"type": "remove", "id": "1"}, user("new", "3")]
    )
    assert merged == [ai("yo", "2"), user("new", "3")]


@pytest.mark.usefixtures("plain")
def test_plain_remove_then_readd_keeps_the_message() -> None:
    merged = add_messages([user("hi", "1")], [{"type": "remove", "id": "1"}, user("back", "1")])
    assert merged == [user("back", "1")]


@pytest.mark.usefixtures("plain")
def test_plain_remove_all_keeps_only_what_follows() -> None:
    merged = add_messages(
        [user("hi", "1"), ai("yo", "2")],
        [ai("dropped", "0"), {"type": "remove", "id": REMOVE_ALL_MESSAGES}, user("fresh", "3")],
    )
    assert merged == [user("fresh", "3")]


@pytest.mark.usefixtures("plain")
def test_plain_remove_of_unknown_id_raises() -> None:
    with pytest.raises(ValueError) as info:
        add_messages([user("hi", "1")], [{"type": "remove", "id": "9"}])
    assert str(info.value) == "Attempting to delete a message with an ID that doesn't exist ('9')"


@pytest.mark.usefixtures("plain")
def test_plain_unsupported_message_raises_type_error() -> None:
    with pytest.raises(TypeError) as info:
        add_messages([], [5])
    assert str(info.value) == (
        "Unsupported message 5: use a dict like {'role': 'user', 'content': 'hi'}, a string, "
        "a (role, content) tuple, or a langchain-core message"
    )


class ChatState(MessagesState):
    turns: int


def _chat_graph() -> Any:
    def bot(state: ChatState) -> dict[str, Any]:
        last = state["messages"][-1]
        content = last["content"] if isinstance(last, dict) else last.content
        return {"messages": [ai(f"echo {content}", "bot-1")], "turns": 1}

    def tool_a(state: ChatState) -> dict[str, Any]:
        return {"messages": [ai("from a", "a-1")]}

    def tool_b(state: ChatState) -> dict[str, Any]:
        return {"messages": [ai("from b", "b-1")]}

    def fix(state: ChatState) -> dict[str, Any]:
        return {"messages": [ai("echo fixed", "bot-1"), {"type": "remove", "id": "a-1"}]}

    return (
        StateGraph(ChatState)
        .add_node("bot", bot)
        .add_node("tool_b", tool_b)
        .add_node("tool_a", tool_a)
        .add_node("fix", fix)
        .add_edge(START, "bot")
        .add_edge("bot", "tool_b")
        .add_edge("bot", "tool_a")
        .add_edge(["tool_a", "tool_b"], "fix")
        .add_edge("fix", END)
        .compile()
    )


@pytest.mark.usefixtures("plain")
async def test_messages_state_with_plain_dicts() -> None:
    result = await _chat_graph().ainvoke({"messages": [user("hi", "u-1")]})
    # parallel writers fold in node-name order (tool_a before tool_b), then fix
    # replaces bot-1 in place and removes a-1
    assert result == {
        "messages": [user("hi", "u-1"), ai("echo fixed", "bot-1"), ai("from b", "b-1")],
        "turns": 1,
    }


@pytest.mark.usefixtures("plain")
async def test_messages_state_input_goes_through_the_reducer() -> None:
    def noop(state: MessagesState) -> None:
        return None

    graph = StateGraph(MessagesState).add_node("n", noop).add_edge(START, "n").compile()
    result = await graph.ainvoke({"messages": "hello"})
    (only,) = result["messages"]
    assert (only["role"], only["content"]) == ("user", "hello")
    assert _is_uuid(only["id"])
    chunks = [c async for c in graph.astream({"messages": []}, stream_mode="values")]
    assert chunks == [{"messages": []}]


# -- langchain-core objects ------------------------------------------------------------


def test_langchain_messages_merge_like_langgraph() -> None:
    lc = pytest.importorskip("langchain_core.messages")
    merged = add_messages(
        [lc.HumanMessage("hi", id="1"), lc.AIMessage("draft", id="2")],
        [lc.AIMessage("final", id="2"), {"role": "user", "content": "more", "id": "3"}],
    )
    assert [(type(m).__name__, m.content, m.id) for m in merged] == [
        ("HumanMessage", "hi", "1"),
        ("AIMessage", "final", "2"),
        ("HumanMessage", "more", "3"),
    ]
    removed = add_messages(merged, [lc.RemoveMessage(id="1")])
    assert [m.id for m in removed] == ["2", "3"]
    cleared = add_messages(
        merged, [lc.RemoveMessage(id=REMOVE_ALL_MESSAGES), lc.HumanMessage("n", id="4")]
    )
    assert [(m.content, m.id) for m in cleared] == [("n", "4")]
    (converted,) = add_messages([], "hello")
    assert isinstance(converted, lc.HumanMessage)
    assert _is_uuid(converted.id)
    with pytest.raises(ValueError) as info:
        add_messages(merged, [lc.RemoveMessage(id="9")])
    assert str(info.value) == "Attempting to delete a message with an ID that doesn't exist ('9')"


def test_langchain_path_matches_langgraphs_add_messages() -> None:
    lc = pytest.importorskip("langchain_core.messages")
    lg = pytest.importorskip("langgraph.graph.message")
    cases: list[tuple[Any, Any]] = [
        ([lc.HumanMessage("hi", id="1")], lc.AIMessage("yo", id="2")),
        (
            [{"role": "user", "content": "hi", "id": "1"}],
            [{"role": "ai", "content": "a", "id": "2"}],
        ),
        ([lc.HumanMessage("hi", id="1"), lc.AIMessage("a", id="2")], [lc.AIMessage("b", id="2")]),
        ([lc.HumanMessage("hi", id="1"), lc.AIMessage("a", id="2")], [lc.RemoveMessage(id="1")]),
        (
            [lc.HumanMessage("hi", id="1")],
            [lc.RemoveMessage(id=REMOVE_ALL_MESSAGES), lc.HumanMessage("n", id="3")],
        ),
    ]
    for left, right in cases:
        ours = add_messages(left, right)
        theirs = lg.add_messages(left, right)
        assert [(type(m), m.content, m.id) for m in ours] == [
            (type(m), m.content, m.id) for m in theirs
        ]


async def test_messages_state_with_langchain_objects() -> None:
    lc = pytest.importorskip("langchain_core.messages")
    result = await _chat_graph().ainvoke({"messages": [lc.HumanMessage("hi", id="u-1")]})
    assert result["turns"] == 1
    assert [(type(m).__name__, m.content, m.id) for m in result["messages"]] == [
        ("HumanMessage", "hi", "u-1"),
        ("AIMessage", "echo fixed", "bot-1"),
        ("AIMessage", "from b", "b-1"),
    ]


# -- the incremental path: merging onto an earlier result ----------------------------------

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(["a", "b", "c", "d", None])),
        st.tuples(st.just("remove"), st.sampled_from(["a", "b", "c", "d"])),
        st.tuples(st.just("remove_all"), st.none()),
    ),
    min_size=1,
    max_size=4,
)


def _right(batch: list[tuple[str, Any]], turn: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind, mid in batch:
        if kind == "add":
            out.append(user(f"t{turn}", mid))
        elif kind == "remove":
            out.append({"type": "remove", "id": mid})
        else:
            out.append({"type": "remove", "id": REMOVE_ALL_MESSAGES})
    return out


def _fresh(value: Any) -> Any:
    return [dict(m) if isinstance(m, dict) else m.model_copy() for m in value]


def _shape(value: Any) -> list[tuple[Any, Any]]:
    return [
        (m.get("id"), m.get("content")) if isinstance(m, dict) else (m.id, m.content) for m in value
    ]


@pytest.mark.parametrize("use_lc", [False, True], ids=["plain", "langchain"])
@settings(max_examples=150, deadline=None)
@given(turns=st.lists(_ops, min_size=1, max_size=6))
def test_merging_onto_an_earlier_result_equals_merging_copies(
    use_lc: bool, turns: list[list[tuple[str, Any]]]
) -> None:
    """Feeding a result back as ``left`` (what a graph does each step) gives the same
    history as merging fresh copies, for any mix of appends, replacements and removals."""
    real_lc = message_module._lc
    if not use_lc:
        message_module._lc = lambda: None  # type: ignore[assignment]
    try:
        state: Any = []
        for turn, batch in enumerate(turns):
            right = _right(batch, turn)
            try:
                expected = add_messages(_fresh(state), _fresh(right))
            except ValueError:
                with pytest.raises(ValueError, match="doesn't exist"):
                    add_messages(state, _fresh(right))
                continue
            merged = add_messages(state, _fresh(right))
            got, want = _shape(merged), _shape(expected)
            # ids made up for id-less messages differ between the two runs
            assert [c for _, c in got] == [c for _, c in want]
            assert [i for i, _ in got if not _is_uuid(i)] == [i for i, _ in want if not _is_uuid(i)]
            state = merged
    finally:
        message_module._lc = real_lc  # type: ignore[assignment]
