"""``messages`` mode without LangChain (``stepgraph.messages``) and with langchain-core.

The token sources are fakes shaped like the OpenAI and Anthropic SDK streams: objects
with ``choices[0].delta.content`` and ``content_block_delta`` events, sync and async.
"""

from __future__ import annotations

import asyncio
import dataclasses
import operator
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, TypedDict

import pytest

from stepgraph.graph import START, StateGraph
from stepgraph.messages import (
    Message,
    MessageChunk,
    astream_text,
    delta_text,
    emit_message,
    open_message,
    stream_text,
)

pytestmark = pytest.mark.anyio

TASK_KEYS = {
    "langgraph_step",
    "langgraph_node",
    "langgraph_triggers",
    "langgraph_path",
    "langgraph_checkpoint_ns",
    "checkpoint_ns",
    "tags",
}


class S(TypedDict, total=False):
    text: Annotated[list[str], operator.add]


# -- fake SDK streams ------------------------------------------------------------------------


@dataclasses.dataclass
class _Delta:
    content: str | None = None
    role: str | None = None


@dataclasses.dataclass
class _Choice:
    delta: _Delta
    finish_reason: str | None = None
    index: int = 0


@dataclasses.dataclass
class ChatCompletionChunk:
    """The shape of ``openai.types.chat.ChatCompletionChunk``."""

    choices: list[_Choice]
    id: str = "chatcmpl-fake"
    object: str = "chat.completion.chunk"


def openai_chunks(parts: list[str]) -> list[ChatCompletionChunk]:
    """A role-only first chunk, one chunk per part, a final chunk with no content."""
    return [
        ChatCompletionChunk([_Choice(_Delta(content="", role="assistant"))]),
        *(ChatCompletionChunk([_Choice(_Delta(content=p))]) for p in parts),
        ChatCompletionChunk([_Choice(_Delta(), finish_reason="stop")]),
    ]


@dataclasses.dataclass
class _TextDelta:
    text: str
    type: str = "text_delta"


@dataclasses.dataclass
class AnthropicEvent:
    """The shape of the Anthropic SDK's raw stream events."""

    type: str
    delta: Any = None
    index: int = 0


def anthropic_events(parts: list[str]) -> list[AnthropicEvent]:
    return [
        AnthropicEvent("message_start"),
        AnthropicEvent("content_block_start"),
        *(AnthropicEvent("content_block_delta", _TextDelta(p)) for p in parts),
        AnthropicEvent("content_block_stop"),
        AnthropicEvent("message_delta", {"stop_reason": "end_turn"}),
        AnthropicEvent("message_stop"),
    ]


class AsyncSDKStream:
    """An async iterator over events, like ``await client.chat.completions.create(stream=True)``."""

    def __init__(self, events: list[Any]) -> None:
        self._events = iter(events)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        try:
            return next(self._events)
        except StopIteration:
            raise StopAsyncIteration from None


def sync_stream(events: list[Any]) -> Iterator[Any]:
    yield from events


PARTS = ["Why ", "did ", "the cat ", "sit?"]
SHAPES = {"openai": openai_chunks, "anthropic": anthropic_events, "text": list}


def test_delta_text_reads_every_shape() -> None:
    for shape in SHAPES.values():
        assert "".join(delta_text(e) for e in shape(PARTS)) == "".join(PARTS)
    as_dicts = [
        {"choices": [{"delta": {"content": "a"}}]},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "b"}},
        {"content": "c"},
        {"type": "message_stop"},
        None,
    ]
    assert [delta_text(d) for d in as_dicts] == ["a", "b", "c", "", ""]


# -- one node streaming one message ----------------------------------------------------------


def _one_node_graph(node: Any) -> Any:
    return StateGraph(S).add_node("call_model", node).add_edge(START, "call_model").compile()


def _check_message(chunks: list[tuple[Any, dict[str, Any]]], parts: list[str]) -> None:
    assert [c.content for c, _ in chunks] == parts
    assert all(isinstance(c, MessageChunk) for c, _ in chunks)
    assert len({c.id for c, _ in chunks}) == 1, "every chunk of a message shares its id"
    assert [c.index for c, _ in chunks] == list(range(len(parts)))
    for _, meta in chunks:
        assert set(meta) >= TASK_KEYS
        assert meta["langgraph_step"] == 1
        assert meta["langgraph_node"] == "call_model"
        assert meta["langgraph_triggers"] == ("branch:to:call_model",)
        assert meta["langgraph_path"] == ("__pregel_pull", "call_model")
        assert meta["langgraph_checkpoint_ns"].startswith("call_model:")
        assert meta["checkpoint_ns"] == meta["langgraph_checkpoint_ns"]


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_async_node_streams_an_async_sdk_stream(shape: str) -> None:
    returned: list[Message] = []

    async def call_model(state: S) -> dict[str, Any]:
        message = await astream_text(AsyncSDKStream(SHAPES[shape](PARTS)), tags=["joke"])
        returned.append(message)
        return {"text": [message.content]}

    graph = _one_node_graph(call_model)
    chunks = [c async for c in graph.astream({"text": []}, stream_mode="messages")]
    _check_message(chunks, PARTS)
    assert all(meta["tags"] == ["joke"] for _, meta in chunks)
    (message,) = returned
    assert (message.content, message.id) == ("".join(PARTS), chunks[0][0].id)
    assert await graph.ainvoke({"text": []}) == {"text": ["".join(PARTS)]}


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_sync_node_streams_a_sync_sdk_stream(shape: str) -> None:
    """A sync node runs in a worker thread; its chunks still reach the async consumer."""

    def call_model(state: S) -> dict[str, Any]:
        return {"text": [stream_text(sync_stream(SHAPES[shape](PARTS))).content]}

    graph = _one_node_graph(call_model)
    chunks = [c async for c in graph.astream({"text": []}, stream_mode="messages")]
    _check_message(chunks, PARTS)


def test_sync_api() -> None:
    def sync_node(state: S) -> dict[str, Any]:
        return {"text": [stream_text(sync_stream(openai_chunks(PARTS))).content]}

    async def async_node(state: S) -> dict[str, Any]:
        return {"text": [(await astream_text(AsyncSDKStream(openai_chunks(PARTS)))).content]}

    for node in (sync_node, async_node):
        graph = _one_node_graph(node)
        _check_message(list(graph.stream({"text": []}, stream_mode="messages")), PARTS)
        modes = list(graph.stream({"text": []}, stream_mode=["messages", "updates"]))
        assert [m for m, _ in modes] == ["messages"] * len(PARTS) + ["updates"]


async def test_run_tags_and_metadata_reach_the_chunks() -> None:
    async def call_model(state: S) -> dict[str, Any]:
        return {"text": [(await astream_text(PARTS, tags=["mine"])).content]}

    graph = _one_node_graph(call_model)
    config = {"tags": ["run"], "metadata": {"user": "u1"}}
    chunks = [c async for c in graph.astream({}, config, stream_mode="messages")]
    assert {(tuple(m["tags"]), m["user"]) for _, m in chunks} == {(("run", "mine"), "u1")}


# -- several messages, ids, filtering ---------------------------------------------------------


async def test_each_message_has_its_own_stable_id() -> None:
    async def call_model(state: S) -> dict[str, Any]:
        first = await astream_text(["a", "b"])
        second = await astream_text(AsyncSDKStream(["c", "d"]), id="fixed-id")
        with open_message() as third:
            third.write("e")
            third.write("")  # empty deltas are not streamed
            await third.awrite("f")
        return {"text": [first.content, second.content, third.message.content]}

    graph = _one_node_graph(call_model)
    chunks = [c async for c, _ in graph.astream({}, stream_mode="messages")]
    assert [c.content for c in chunks] == ["a", "b", "c", "d", "e", "f"]
    ids = [c.id for c in chunks]
    assert ids[0] == ids[1]
    assert ids[4] == ids[5]
    assert ids[2] == ids[3] == "fixed-id"
    assert len({ids[0], ids[2], ids[4]}) == 3
    assert all(i.startswith("msg-") for i in (ids[0], ids[4]))


def _two_writers() -> Any:
    """Two nodes in parallel, each streaming a message with its own tag (seed docs shape)."""

    async def write_joke(state: S) -> dict[str, Any]:
        return {"text": [(await astream_text(["joke ", "text"], tags=["joke"])).content]}

    async def write_poem(state: S) -> dict[str, Any]:
        return {"text": [(await astream_text(["poem ", "text"], tags=["poem"])).content]}

    return (
        StateGraph(S)
        .add_node("write_joke", write_joke)
        .add_node("write_poem", write_poem)
        .add_edge(START, "write_joke")
        .add_edge(START, "write_poem")
        .compile()
    )


async def test_filter_by_tag_and_by_node() -> None:
    graph = _two_writers()
    by_tag: list[str] = []
    by_node: list[str] = []
    async for chunk, meta in graph.astream({}, stream_mode="messages"):
        if meta["tags"] == ["joke"]:
            by_tag.append(chunk.content)
        if meta["langgraph_node"] == "write_poem":
            by_node.append(chunk.content)
    assert "".join(by_tag) == "joke text"
    assert "".join(by_node) == "poem text"


async def test_nostream_tag_and_unrequested_mode_emit_nothing() -> None:
    async def call_model(state: S) -> dict[str, Any]:
        hidden = await astream_text(["x", "y"], tags=["nostream"])
        emit_message(Message(content="whole", id="w1"), tags=["nostream"])
        return {"text": [hidden.content]}

    graph = _one_node_graph(call_model)
    assert [c async for c in graph.astream({}, stream_mode="messages")] == []
    # without messages mode the call still assembles the message
    assert [c async for c in graph.astream({}, stream_mode="updates")] == [
        {"call_model": {"text": ["xy"]}}
    ]


async def test_emit_message_streams_a_whole_message() -> None:
    async def call_model(state: S) -> dict[str, Any]:
        emit_message(Message(content="whole", id="w1"), tags=["t"])
        return {}

    graph = _one_node_graph(call_model)
    ((message, meta),) = [c async for c in graph.astream({}, stream_mode="messages")]
    assert (message.content, message.id, meta["tags"], meta["langgraph_node"]) == (
        "whole",
        "w1",
        ["t"],
        "call_model",
    )


# -- subgraphs ---------------------------------------------------------------------------------


def _subgraph_host(invoked_in_node: bool) -> Any:
    async def inner(state: S) -> dict[str, Any]:
        return {"text": [(await astream_text(["in", "ner"])).content]}

    child = StateGraph(S).add_node("inner", inner).add_edge(START, "inner").compile()
    host = StateGraph(S)
    if invoked_in_node:

        async def outer(state: S) -> dict[str, Any]:
            return await child.ainvoke({})

        host.add_node("outer", outer)
    else:
        host.add_node("outer", child)
    return host.add_edge(START, "outer").compile()


@pytest.mark.parametrize("invoked_in_node", [False, True], ids=["node", "invoked"])
async def test_subgraph_messages_carry_their_namespace(invoked_in_node: bool) -> None:
    graph = _subgraph_host(invoked_in_node)
    parts = [p async for p in graph.astream({}, stream_mode="messages", subgraphs=True)]
    assert [c.content for _, (c, _) in parts] == ["in", "ner"]
    for ns, (_, meta) in parts:
        assert len(ns) == 1
        assert ns[0].startswith("outer:")
        assert meta["langgraph_node"] == "inner"
        assert meta["langgraph_checkpoint_ns"].startswith(ns[0] + "|inner:")
    # hidden without subgraphs=True
    assert [p async for p in graph.astream({}, stream_mode="messages")] == []


# -- outside a run -----------------------------------------------------------------------------


def test_outside_a_run() -> None:
    """``stream_text`` only assembles (so a node function can be unit-tested);
    ``emit_message`` has nothing to emit to and says so."""
    message = stream_text(openai_chunks(PARTS), id="m")
    assert message == Message(content="".join(PARTS), id="m")
    assert message.to_dict() == {"role": "assistant", "content": "".join(PARTS), "id": "m"}
    with pytest.raises(RuntimeError, match="outside of a runnable context"):
        emit_message(message)


# -- langchain-core chat models, no config passed ----------------------------------------------


def _fake_model(text: str = "a b c") -> Any:
    """langchain-core's fake streaming chat model (the tests below skip without it)."""
    chat_models = pytest.importorskip("langchain_core.language_models.fake_chat_models")
    messages = pytest.importorskip("langchain_core.messages")
    return chat_models.GenericFakeChatModel(messages=iter([messages.AIMessage(content=text)]))


@pytest.mark.parametrize("how", ["invoke", "stream"])
async def test_langchain_model_in_a_sync_node_streams_without_config(how: str) -> None:
    """Works on asyncio and trio alike (the node runs in a worker thread)."""
    model = _fake_model()

    def call_model(state: S) -> dict[str, Any]:
        if how == "invoke":
            return {"text": [model.invoke("hi").content]}
        return {"text": ["".join(str(c.content) for c in model.stream("hi"))]}

    graph = _one_node_graph(call_model)
    chunks = [c async for c in graph.astream({}, stream_mode="messages")]
    assert [c.content for c, _ in chunks] == ["a", " ", "b", " ", "c"]
    assert {m["langgraph_node"] for _, m in chunks} == {"call_model"}
    assert TASK_KEYS - {"tags"} <= set(chunks[0][1])


async def test_langchain_model_awaited_in_an_async_node(anyio_backend: str) -> None:
    """``await model.ainvoke`` on asyncio; on trio (langchain-core's async API is
    asyncio-only) ``ainvoke_model`` runs the model's sync API in a worker thread."""
    from stepgraph.messages import ainvoke_model

    model = _fake_model()

    async def call_model(state: S) -> dict[str, Any]:
        if anyio_backend == "asyncio":
            message = await model.ainvoke("hi")
        else:
            message = await ainvoke_model(model, "hi")
        return {"text": [message.content]}

    graph = _one_node_graph(call_model)
    chunks = [c async for c in graph.astream({}, stream_mode="messages")]
    assert [c.content for c, _ in chunks] == ["a", " ", "b", " ", "c"]
    assert {m["langgraph_node"] for _, m in chunks} == {"call_model"}


CALL_CONFIGS: list[dict[str, Any] | None] = [
    None,
    {"tags": ["x"]},
    {"metadata": {"k": 2}},
    {"tags": ["y"], "metadata": {"k": 3}},
]


def _lc_metadata_trace(StateGraph_: Any, START_: str, call_config: Any, sync: bool) -> Any:
    model = _fake_model("a b")
    if sync:

        def node(state: S) -> dict[str, Any]:
            return {"text": [model.invoke("hi", config=call_config).content]}
    else:

        async def node(state: S) -> dict[str, Any]:  # type: ignore[misc]
            return {"text": [(await model.ainvoke("hi", config=call_config)).content]}

    graph = StateGraph_(S)
    graph.add_node("n", node)
    graph.add_edge(START_, "n")
    compiled = graph.compile()
    run_config = {"tags": ["run"], "metadata": {"user": 1}}

    async def collect() -> list[Any]:
        out = []
        async for chunk, meta in compiled.astream({}, run_config, stream_mode="messages"):
            kept = {k: v for k, v in meta.items() if "checkpoint_ns" not in k}
            kept.pop("lc_versions", None)
            out.append((chunk.content, sorted(kept.items())))
        return out

    return asyncio.run(collect())


@pytest.mark.parametrize("sync", [True, False], ids=["sync-node", "async-node"])
@pytest.mark.parametrize("call", range(len(CALL_CONFIGS)))
def test_langchain_metadata_and_tags_match_langgraph(call: int, sync: bool) -> None:
    """A model called with its own ``config`` (tags, metadata) still carries the run's
    tags and the task's ``langgraph_*`` keys, merged as LangGraph merges them."""
    _fake_model()
    got = _lc_metadata_trace(StateGraph, START, CALL_CONFIGS[call], sync)
    for _, meta in got:
        keys = dict(meta)
        assert keys["langgraph_node"] == "n"
        assert keys["user"] == 1
        assert keys["tags"][0] == "run"
    assert [c for c, _ in got] == ["a", " ", "b"]
    lg_graph = pytest.importorskip("langgraph.graph")
    if sys.version_info < (3, 11):
        # both programs run through astream: LangGraph's async API loses the task's
        # callbacks on 3.10 (its documented gap), so it streams no messages at all
        pytest.skip("LangGraph's async API loses the callbacks on Python 3.10")
    assert got == _lc_metadata_trace(lg_graph.StateGraph, lg_graph.START, CALL_CONFIGS[call], sync)
