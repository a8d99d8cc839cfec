"""Offline, deterministic stand-ins for the model clients the seed docs import.

The seed examples are run with their imports rewritten (see ``extract.rewrite``):

* ``from langchain.chat_models import init_chat_model`` -> :func:`init_chat_model`
* ``from langchain_openai import ChatOpenAI``           -> :func:`ChatOpenAI`
* ``from openai import AsyncOpenAI``                     -> :class:`AsyncOpenAI`

The chat models are langchain-core's ``GenericFakeChatModel`` with a reply chosen from the
prompt (never from call order, so concurrent nodes get the same replies on every run),
streamed as several tokens, with the LangSmith parameters ``ChatOpenAI`` reports.  The
same fakes run under LangGraph and under stepgraph, so their stdout can be compared.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

# Replies whose text the docs print: the fake says exactly what the model said there,
# split into the same tokens, so the printed token stream can be compared with the docs.
SCRIPTED: dict[str, tuple[str, ...]] = {
    # 001 "Stream LLM tokens": Why| did| the| cat| ... | 🍦|🐱|
    "Generate a joke about ice cream and cats": (
        "Why", " did", " the", " cat", " sit", " on", " the", " ice", " cream", " cone",
        "?\n\n", "Because", " it", " wanted", " to", " be", " a", ' "', "p", "urr", "-f",
        "ect", '"', " scoop", "!", " 🍦", "🐱",
    ),
}  # fmt: skip


def reply_tokens(prompt: str) -> tuple[str, ...]:
    """The tokens the fake model answers ``prompt`` with (several, deterministic)."""
    if prompt in SCRIPTED:
        return SCRIPTED[prompt]
    return tuple(re.findall(r"\s*\S+", f"Fake reply to: {prompt}"))


def your_custom_streaming_client(topic: str) -> Iterator[str]:
    """The "streaming client that yields chunks" the 'Use with any LLM' example assumes."""
    yield from reply_tokens(f"Tell me about {topic}")


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


class FakeChatModel(GenericFakeChatModel):
    """A ``GenericFakeChatModel`` that answers by prompt and calls tools once.

    With tools bound and no tool result yet, it calls the first tool with the last word of
    the user's message as the tool's first argument ("what is the weather in sf" ->
    ``get_weather(city="sf")``); after a tool result it answers with that result.
    """

    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    model_name: str = "gpt-4o-mini"
    provider: str = "openai"
    # ChatOpenAI's default when the docs were rendered (their metadata shows 0.7)
    temperature: float | None = 0.7

    @property
    def _llm_type(self) -> str:
        return f"fake-{self.provider}-chat"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=self.provider, ls_model_name=self.model_name, ls_model_type="chat"
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _reply(self, messages: list[BaseMessage], tools: list[dict[str, Any]] | None) -> AIMessage:
        last = messages[-1] if messages else HumanMessage("")
        if tools and isinstance(last, HumanMessage):
            function = tools[0]["function"]
            params = list(function.get("parameters", {}).get("properties", {}))
            words = re.findall(r"\w+", _text(last))
            args = {params[0]: words[-1] if words else ""} if params else {}
            return AIMessage(
                content="",
                tool_calls=[{"name": function["name"], "args": args, "id": "call_1"}],
            )
        if isinstance(last, ToolMessage):
            return AIMessage(content="".join(reply_tokens(_text(last))))
        return AIMessage(content="".join(reply_tokens(_text(last))))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self._reply(messages, kwargs.get("tools"))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._reply(messages, kwargs.get("tools"))
        chunks: list[AIMessageChunk] = []
        if message.tool_calls:
            call = message.tool_calls[0]
            chunks.append(
                AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "name": call["name"],
                            "args": json.dumps(call["args"]),
                            "id": call["id"],
                            "index": 0,
                        }
                    ],
                )
            )
        else:
            last = messages[-1] if messages else HumanMessage("")
            prompt = _text(last)
            chunks.extend(AIMessageChunk(content=token) for token in reply_tokens(prompt))
        chunks[-1].chunk_position = "last"
        for chunk in chunks:
            generation = ChatGenerationChunk(message=chunk)
            if run_manager:
                run_manager.on_llm_new_token(str(chunk.content), chunk=generation)
            yield generation


def init_chat_model(
    model: str | None = None, *, model_provider: str | None = None, **kwargs: Any
) -> FakeChatModel:
    """Stands in for ``langchain.chat_models.init_chat_model("provider:model", ...)``."""
    provider, _, name = (model or "").rpartition(":")
    provider = model_provider or provider or "openai"
    if provider != "openai":
        kwargs.setdefault("temperature", None)
    return FakeChatModel(model_name=name, provider=provider, **kwargs)


def ChatOpenAI(*, model: str = "gpt-3.5-turbo", **kwargs: Any) -> FakeChatModel:
    """Stands in for ``langchain_openai.ChatOpenAI(model=..., ...)``."""
    return FakeChatModel(model_name=model, provider="openai", **kwargs)


# ------------------------------------------------------------------ AsyncOpenAI


@dataclass(frozen=True)
class Delta:
    role: str | None
    content: str | None


@dataclass(frozen=True)
class Choice:
    index: int
    delta: Delta
    finish_reason: str | None


@dataclass(frozen=True)
class ChatCompletionChunk:
    id: str
    model: str
    choices: list[Choice]
    object: str = "chat.completion.chunk"


class _AsyncStream:
    def __init__(self, chunks: list[ChatCompletionChunk]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ChatCompletionChunk]:
        for chunk in self._chunks:
            yield chunk


class _Completions:
    async def create(
        self, *, messages: list[dict[str, Any]], model: str, stream: bool = False, **_: Any
    ) -> _AsyncStream:
        if not stream:
            raise NotImplementedError("the fake AsyncOpenAI only streams")
        prompt = str(messages[-1].get("content") or "") if messages else ""

        def chunk(delta: Delta, finish: str | None = None) -> ChatCompletionChunk:
            return ChatCompletionChunk(
                id="chatcmpl-fake", model=model, choices=[Choice(0, delta, finish)]
            )

        # Shaped like OpenAI's stream: a role-only first chunk, the tokens, an empty stop.
        chunks = [chunk(Delta("assistant", ""))]
        chunks += [chunk(Delta(None, token)) for token in reply_tokens(prompt)]
        chunks.append(chunk(Delta(None, None), "stop"))
        return _AsyncStream(chunks)


class _Chat:
    def __init__(self) -> None:
        self.completions = _Completions()


class AsyncOpenAI:
    """Stands in for ``openai.AsyncOpenAI``: ``chat.completions.create(stream=True)``."""

    def __init__(self, **_: Any) -> None:
        self.chat = _Chat()
