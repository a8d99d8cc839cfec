"""Feed ``messages`` stream mode from any token source — no LangChain required.

Inside a node, hand any sync or async iterator of text deltas to :func:`stream_text`
(sync) or :func:`astream_text` (async). Each delta reaches ``stream_mode="messages"``
consumers as ``(MessageChunk, metadata)`` — all chunks of one message share an id —
and the call returns the complete :class:`Message`::

    from openai import AsyncOpenAI
    from stepgraph.messages import astream_text

    async def call_model(state):
        stream = await AsyncOpenAI().chat.completions.create(..., stream=True)
        message = await astream_text(stream, tags=["joke"])
        return {"joke": message.content}

Deltas may be strings, OpenAI ``ChatCompletionChunk``s, Anthropic stream events, or
dicts of those shapes. ``metadata`` carries LangGraph's keys: ``langgraph_step``,
``langgraph_node``, ``langgraph_triggers``, ``langgraph_path``,
``langgraph_checkpoint_ns``, ``checkpoint_ns`` and ``tags`` (run tags + yours).
Tag a call ``"nostream"`` to keep it out of the stream. When nobody streams
``messages``, nothing is emitted and the call only assembles the message.

With langchain-core installed, chat models called inside nodes stream into the same
mode automatically (no config passing needed, on every Python version).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, Iterable, Sequence
from typing import Any

import attrs

from ._context import TaskContext, current_task_context
from ._events import MessageEvent

__all__ = [
    "Message",
    "MessageChunk",
    "MessageWriter",
    "ainvoke_model",
    "astream_text",
    "delta_text",
    "emit_message",
    "open_message",
    "stream_text",
]


@attrs.frozen
class MessageChunk:
    """One streamed piece of a message; ``id`` is shared by every chunk of a message."""

    content: str
    id: str
    role: str = "assistant"
    index: int = 0
    """Position of this chunk within its message (0, 1, 2, …)."""

    @property
    def type(self) -> str:
        return "AIMessageChunk"


@attrs.frozen
class Message:
    """A complete message (what :func:`stream_text` returns)."""

    content: str
    id: str
    role: str = "assistant"

    @property
    def type(self) -> str:
        return "ai" if self.role == "assistant" else self.role

    def to_dict(self) -> dict[str, Any]:
        """As a plain dict message (``{"role", "content", "id"}``), e.g. for add_messages."""
        return {"role": self.role, "content": self.content, "id": self.id}


def delta_text(delta: Any) -> str:
    """The text in one streamed delta (``""`` if it carries none).

    Understands strings, OpenAI chat-completion chunks (``choices[0].delta.content``),
    Anthropic ``content_block_delta`` events (``delta.text``), and dicts of those shapes.
    """
    if delta is None:
        return ""
    if isinstance(delta, str):
        return delta
    if isinstance(delta, dict):
        choices = delta.get("choices")
        if choices:
            inner = choices[0].get("delta") or {}
            return str(inner.get("content") or "")
        if delta.get("type") == "content_block_delta":
            return str((delta.get("delta") or {}).get("text") or "")
        for key in ("content", "text"):
            if isinstance(delta.get(key), str):
                return str(delta[key])
        return ""
    choices = getattr(delta, "choices", None)
    if choices:
        inner = getattr(choices[0], "delta", None)
        return str(getattr(inner, "content", None) or "")
    if getattr(delta, "type", None) == "content_block_delta":
        return str(getattr(getattr(delta, "delta", None), "text", None) or "")
    for key in ("content", "text"):
        value = getattr(delta, key, None)
        if isinstance(value, str):
            return value
    return ""


def _metadata(ctx: TaskContext, tags: Sequence[str]) -> dict[str, Any]:
    config = ctx.config
    run_tags = list(config.get("tags") or ())
    return {
        **config.get("metadata", {}),
        "checkpoint_ns": config["metadata"].get("langgraph_checkpoint_ns", ""),
        "tags": [*run_tags, *tags],
    }


class MessageWriter:
    """Writes one message chunk by chunk into ``messages`` mode (see :func:`open_message`)."""

    def __init__(
        self, *, id: str | None = None, tags: Sequence[str] = (), role: str = "assistant"
    ) -> None:
        self.id = id or f"msg-{uuid.uuid4()}"
        self.role = role
        self._parts: list[str] = []
        ctx = current_task_context()
        self._emitter = None
        if ctx is not None and "messages" in ctx.emitter.wants and "nostream" not in tags:
            self._emitter = ctx.emitter
            self._ns = ctx.writer_ns
            self._metadata = _metadata(ctx, tags)

    def write(self, text: str) -> None:
        """Append ``text`` and stream it as the next chunk (empty text is not streamed)."""
        if not text:
            return
        index = len(self._parts)
        self._parts.append(text)
        if self._emitter is not None:
            chunk = MessageChunk(content=text, id=self.id, role=self.role, index=index)
            self._emitter.send_from_sync(MessageEvent(self._ns, chunk, self._metadata))

    async def awrite(self, text: str) -> None:
        """Like :meth:`write`, but waits while the consumer is behind (backpressure)."""
        if not text:
            return
        index = len(self._parts)
        self._parts.append(text)
        if self._emitter is not None:
            chunk = MessageChunk(content=text, id=self.id, role=self.role, index=index)
            await self._emitter.send(MessageEvent(self._ns, chunk, self._metadata))

    @property
    def message(self) -> Message:
        """The message so far."""
        return Message(content="".join(self._parts), id=self.id, role=self.role)

    def __enter__(self) -> MessageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def open_message(
    *, id: str | None = None, tags: Sequence[str] = (), role: str = "assistant"
) -> MessageWriter:
    """A :class:`MessageWriter` for the running node: ``with open_message() as m: m.write(t)``."""
    return MessageWriter(id=id, tags=tags, role=role)


def stream_text(
    source: Iterable[Any],
    *,
    id: str | None = None,
    tags: Sequence[str] = (),
    role: str = "assistant",
) -> Message:
    """Stream every delta of ``source`` into ``messages`` mode; return the whole message."""
    writer = MessageWriter(id=id, tags=tags, role=role)
    for delta in source:
        writer.write(delta_text(delta))
    return writer.message


async def astream_text(
    source: AsyncIterable[Any] | Iterable[Any],
    *,
    id: str | None = None,
    tags: Sequence[str] = (),
    role: str = "assistant",
) -> Message:
    """Async :func:`stream_text`: ``source`` may be an async or a sync iterable; waits
    for the consumer when it falls behind."""
    writer = MessageWriter(id=id, tags=tags, role=role)
    if hasattr(source, "__aiter__"):
        async for delta in source:
            await writer.awrite(delta_text(delta))
    else:
        for delta in source:
            await writer.awrite(delta_text(delta))
    return writer.message


def emit_message(message: Any, *, tags: Sequence[str] = ()) -> None:
    """Put one whole message (or chunk) into ``messages`` mode as is."""
    ctx = current_task_context()
    if ctx is None:
        raise RuntimeError(
            "Called emit_message outside of a runnable context: call it from a node while "
            "the graph runs"
        )
    if "messages" in ctx.emitter.wants and "nostream" not in tags:
        ctx.emitter.send_from_sync(MessageEvent(ctx.writer_ns, message, _metadata(ctx, tags)))


async def ainvoke_model(model: Any, input: Any, config: Any = None, **kwargs: Any) -> Any:
    """``await model.ainvoke(input)`` for a langchain-core chat model, on any backend.

    langchain-core's async API needs asyncio; on trio this calls the model's sync
    ``invoke`` in a worker thread instead (its tokens still stream into ``messages``).
    """
    try:
        import asyncio

        asyncio.get_running_loop()
    except RuntimeError:
        import functools

        import anyio.to_thread

        return await anyio.to_thread.run_sync(
            functools.partial(model.invoke, input, config, **kwargs)
        )
    return await model.ainvoke(input, config, **kwargs)
