"""``stepgraph.prebuilt``: create_react_agent, ToolNode and tools_condition with
langchain-core's fake chat models (offline, deterministic)."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool

from stepgraph.checkpoint.memory import InMemorySaver
from stepgraph.config import get_stream_writer
from stepgraph.graph import END, START, MessagesState, StateGraph
from stepgraph.prebuilt import ToolNode, create_react_agent, tools_condition
from stepgraph.prebuilt._lc import require_langchain


class ToolCallingFake(GenericFakeChatModel):
    """Calls the tools in ``calls`` once (on a human message), then answers with the
    tool results, streamed word by word. Records every prompt it was given."""

    messages: Iterator[Any] = iter(())  # unused: replies are computed from the prompt
    calls: list[dict[str, Any]] = []
    seen: list[list[BaseMessage]] = []

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _reply(self, messages: list[BaseMessage], tools: Any) -> AIMessage:
        self.seen.append(list(messages))
        last = messages[-1]
        if tools and isinstance(last, HumanMessage) and self.calls:
            return AIMessage(content="", tool_calls=self.calls)
        results = [str(m.content) for m in messages if isinstance(m, ToolMessage)]
        return AIMessage(content="answer: " + " | ".join(results or [str(last.content)]))

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:  # fmt: skip
        return ChatResult(
            generations=[ChatGeneration(message=self._reply(messages, kwargs.get("tools")))]
        )

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:  # fmt: skip
        message = self._reply(messages, kwargs.get("tools"))
        if message.tool_calls:
            chunks = [
                AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "name": c["name"],
                            "args": json.dumps(c["args"]),
                            "id": c["id"],
                            "index": i,
                        }
                        for i, c in enumerate(message.tool_calls)
                    ],
                )
            ]
        else:
            words = str(message.content).split(" ")
            chunks = [AIMessageChunk(content=w if i == 0 else " " + w) for i, w in enumerate(words)]
        chunks[-1].chunk_position = "last"  # else langchain-core appends an empty chunk
        for chunk in chunks:
            generation = ChatGenerationChunk(message=chunk)
            if run_manager:
                run_manager.on_llm_new_token(str(chunk.content), chunk=generation)
            yield generation


def get_weather(city: str) -> str:
    """Get weather for a given city."""
    return f"It's always sunny in {city}!"


def weather_model(*cities: str) -> ToolCallingFake:
    calls = [
        {"name": "get_weather", "args": {"city": c}, "id": f"call_{i}"}
        for i, c in enumerate(cities, 1)
    ]
    return ToolCallingFake(calls=calls, seen=[])


QUESTION = {"messages": [{"role": "user", "content": "what is the weather in sf"}]}


# ------------------------------------------------------------------ create_react_agent


def test_agent_loop_one_tool_call_then_answer() -> None:
    agent = create_react_agent(weather_model("sf"), [get_weather])
    result = agent.invoke(QUESTION)
    human, call, tool_msg, answer = result["messages"]
    assert isinstance(human, HumanMessage)
    assert isinstance(call, AIMessage)
    assert call.tool_calls[0]["name"] == "get_weather"
    assert call.tool_calls[0]["args"] == {"city": "sf"}
    assert isinstance(tool_msg, ToolMessage)
    assert tool_msg.content == "It's always sunny in sf!"
    assert tool_msg.name == "get_weather"
    assert tool_msg.tool_call_id == "call_1"
    assert isinstance(answer, AIMessage)
    assert answer.content == "answer: It's always sunny in sf!"
    assert not answer.tool_calls
    # every message got an id from add_messages
    assert all(m.id for m in result["messages"])


def _check_update_shapes(chunks: list[dict[str, Any]]) -> None:
    assert [list(c) for c in chunks] == [["agent"], ["tools"], ["agent"]]
    for chunk in chunks:
        (update,) = chunk.values()
        assert list(update) == ["messages"]
        assert len(update["messages"]) == 1
    first, tools, last = (next(iter(c.values()))["messages"][0] for c in chunks)
    assert type(first) is AIMessage
    assert first.tool_calls
    assert type(tools) is ToolMessage
    assert tools.tool_call_id == "call_1"
    assert tools.id
    assert type(last) is AIMessage
    assert last.content == "answer: It's always sunny in sf!"


def test_updates_shapes_sync() -> None:
    agent = create_react_agent(weather_model("sf"), [get_weather])
    _check_update_shapes(list(agent.stream(QUESTION, stream_mode="updates")))


@pytest.mark.anyio
async def test_updates_shapes_async() -> None:
    agent = create_react_agent(weather_model("sf"), [get_weather])
    _check_update_shapes([c async for c in agent.astream(QUESTION, stream_mode="updates")])


@pytest.mark.anyio
async def test_parallel_tool_calls_one_tools_task_each() -> None:
    agent = create_react_agent(weather_model("sf", "nyc"), [get_weather])
    chunks = [c async for c in agent.astream(QUESTION, stream_mode="updates")]
    assert [list(c) for c in chunks] == [["agent"], ["tools"], ["tools"], ["agent"]]
    contents = sorted(c["tools"]["messages"][0].content for c in chunks[1:3])
    assert contents == ["It's always sunny in nyc!", "It's always sunny in sf!"]
    final = chunks[-1]["agent"]["messages"][0].content
    # tool results reach the model in tool-call order
    assert final == "answer: It's always sunny in sf! | It's always sunny in nyc!"


@tool("get_weather")
def _weather_with_progress(city: str) -> str:
    """Get weather for a given city (and say so in ``custom`` mode)."""
    get_stream_writer()(f"Looking up data for city: {city}")
    return f"It's always sunny in {city}!"


def test_tool_streams_custom_chunks_sync() -> None:
    agent = create_react_agent(weather_model("sf"), [_weather_with_progress])
    assert list(agent.stream(QUESTION, stream_mode="custom")) == ["Looking up data for city: sf"]


@pytest.mark.anyio
async def test_tool_streams_custom_chunks_async() -> None:
    agent = create_react_agent(weather_model("sf"), [_weather_with_progress])
    chunks = [c async for c in agent.astream(QUESTION, stream_mode=["custom", "updates"])]
    modes = [mode for mode, _ in chunks]
    assert modes == ["updates", "custom", "updates", "updates"]
    assert chunks[1][1] == "Looking up data for city: sf"


@pytest.mark.anyio
async def test_messages_mode_streams_model_tokens_and_tool_message() -> None:
    agent = create_react_agent(weather_model("sf"), [get_weather])
    parts = [p async for p in agent.astream(QUESTION, stream_mode="messages")]
    nodes = [meta["langgraph_node"] for _, meta in parts]
    assert nodes[0] == "agent"
    assert nodes[1] == "tools"
    assert set(nodes[2:]) == {"agent"}
    call_chunk = parts[0][0]
    assert isinstance(call_chunk, AIMessageChunk)
    assert call_chunk.tool_calls[0]["args"] == {"city": "sf"}
    assert isinstance(parts[1][0], ToolMessage)
    assert parts[1][0].id  # the id the state keeps, already when streamed
    tokens = [m.content for m, _ in parts[2:]]
    assert tokens == ["answer:", " It's", " always", " sunny", " in", " sf!"]
    assert len({m.id for m, _ in parts[2:]}) == 1  # one message, many chunks
    assert [meta["langgraph_step"] for _, meta in parts] == [1, 2] + [3] * len(tokens)


def test_messages_mode_sync() -> None:
    agent = create_react_agent(weather_model("sf"), [get_weather])
    tokens = [m.content for m, meta in agent.stream(QUESTION, stream_mode="messages")
              if meta["langgraph_node"] == "agent"]  # fmt: skip
    assert "".join(tokens) == "answer: It's always sunny in sf!"


@pytest.mark.anyio
async def test_async_tool_runs_on_both_backends() -> None:
    @tool
    async def get_weather(city: str) -> str:
        """Get weather for a given city."""
        return f"async sunny in {city}"

    agent = create_react_agent(weather_model("sf"), [get_weather])
    result = await agent.ainvoke(QUESTION)
    assert result["messages"][2].content == "async sunny in sf"
    assert result["messages"][-1].content == "answer: async sunny in sf"


def test_prompt_string_becomes_system_message() -> None:
    model = weather_model("sf")
    agent = create_react_agent(model, [get_weather], prompt="Be brief.")
    agent.invoke(QUESTION)
    assert len(model.seen) == 2
    for prompt in model.seen:
        assert isinstance(prompt[0], SystemMessage)
        assert prompt[0].content == "Be brief."
    # the system prompt is not stored in the state
    out = agent.invoke(QUESTION)
    assert not any(isinstance(m, SystemMessage) for m in out["messages"])


def test_prompt_callable() -> None:
    model = weather_model()
    agent = create_react_agent(
        model, [get_weather], prompt=lambda state: [SystemMessage("hi"), *state["messages"]]
    )
    out = agent.invoke(QUESTION)
    assert model.seen[0][0].content == "hi"
    assert out["messages"][-1].content == "answer: what is the weather in sf"


def test_no_tools_is_a_single_model_call() -> None:
    model = weather_model("sf")
    agent = create_react_agent(model, [])
    out = agent.invoke(QUESTION)
    assert [type(m) for m in out["messages"]] == [HumanMessage, AIMessage]
    assert out["messages"][-1].content == "answer: what is the weather in sf"


def test_model_string_resolved_with_init_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def init_chat_model(model: str, **kwargs: Any) -> ToolCallingFake:
        asked.append(model)
        return weather_model("sf")

    chat_models = types.ModuleType("langchain.chat_models")
    chat_models.init_chat_model = init_chat_model  # type: ignore[attr-defined]
    package = types.ModuleType("langchain")
    package.__path__ = []
    package.chat_models = chat_models  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain", package)
    monkeypatch.setitem(sys.modules, "langchain.chat_models", chat_models)
    agent = create_react_agent("anthropic:claude-3-7-sonnet-latest", [get_weather])
    assert asked == ["anthropic:claude-3-7-sonnet-latest"]
    assert agent.invoke(QUESTION)["messages"][-1].content == "answer: It's always sunny in sf!"


def test_checkpointer_keeps_the_conversation() -> None:
    agent = create_react_agent(weather_model("sf"), [get_weather], checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    agent.invoke(QUESTION, config)
    out = agent.invoke({"messages": [("user", "and tomorrow?")]}, config)
    # the second question gets its own tool call and answer
    assert len(out["messages"]) == 8


def test_named_agent() -> None:
    agent = create_react_agent(weather_model(), [get_weather], name="weather_agent")
    assert agent.name == "weather_agent"
    assert agent.invoke(QUESTION)["messages"][-1].name == "weather_agent"


def test_unsupported_options_are_refused() -> None:
    with pytest.raises(NotImplementedError, match="response_format"):
        create_react_agent(weather_model(), [get_weather], response_format=dict)
    with pytest.raises(TypeError, match="bogus"):
        create_react_agent(weather_model(), [get_weather], bogus=1)


def test_missing_langchain_core_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_core", None)
    with pytest.raises(ImportError, match=r"pip install 'stepgraph\[langchain\]'"):
        require_langchain()


# ------------------------------------------------------------------ ToolNode


def _ai_calls(*calls: tuple[str, dict[str, Any]]) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": n, "args": a, "id": f"id{i}"} for i, (n, a) in enumerate(calls)],
    )


def _tool_graph(node: ToolNode) -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node("tools", node)
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    return builder.compile()


@pytest.mark.anyio
async def test_tool_node_runs_all_calls_in_order() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    node = ToolNode([get_weather, add])
    graph = _tool_graph(node)
    message = _ai_calls(("add", {"a": 1, "b": 2}), ("get_weather", {"city": "sf"}))
    out = await graph.ainvoke({"messages": [message]})
    first, second = out["messages"][1:]
    assert (first.content, first.name, first.tool_call_id) == ("3", "add", "id0")
    assert (second.content, second.name, second.tool_call_id) == (
        "It's always sunny in sf!",
        "get_weather",
        "id1",
    )


@pytest.mark.anyio
async def test_tool_node_errors_become_tool_messages() -> None:
    def broken(x: str) -> str:
        """Always fails."""
        raise ValueError("nope")

    graph = _tool_graph(ToolNode([broken]))
    out = await graph.ainvoke({"messages": [_ai_calls(("broken", {"x": "1"}), ("missing", {}))]})
    failed, unknown = out["messages"][1:]
    assert failed.status == "error"
    assert "nope" in failed.content
    assert unknown.status == "error"
    assert "not a valid tool" in unknown.content
    with pytest.raises(ValueError, match="nope"):
        await _tool_graph(ToolNode([broken], handle_tool_errors=False)).ainvoke(
            {"messages": [_ai_calls(("broken", {"x": "1"}))]}
        )


@pytest.mark.anyio
async def test_tool_node_list_input() -> None:
    out = await ToolNode([get_weather])([_ai_calls(("get_weather", {"city": "x"}))])
    assert isinstance(out, list)
    assert out[0].content == "It's always sunny in x!"


def test_tools_condition() -> None:
    assert tools_condition({"messages": [_ai_calls(("get_weather", {"city": "x"}))]}) == "tools"
    assert tools_condition({"messages": [AIMessage("done")]}) == END
    assert tools_condition([HumanMessage("hi")]) == END


def test_hand_built_graph_with_tool_node_and_tools_condition() -> None:
    model = weather_model("sf").bind_tools([get_weather])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([get_weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    out = builder.compile().invoke(QUESTION)
    assert out["messages"][-1].content == "answer: It's always sunny in sf!"
