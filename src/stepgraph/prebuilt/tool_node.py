"""``ToolNode`` and ``tools_condition``: run the tool calls an AI message asks for."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
import anyio.to_thread

from .._spec import END
from ._lc import require_langchain, running_on_asyncio

__all__ = ["ToolNode", "tool_call_packet", "tools_condition"]

# The payload ``create_react_agent`` sends to the tools node for one tool call.
_PACKET = "__stepgraph_tool_call__"


def tool_call_packet(call: Mapping[str, Any], state: Any) -> dict[str, Any]:
    """The input for one tool call sent with ``Send`` (keeps the state for context)."""
    return {_PACKET: dict(call), "state": state}


def _messages_of(state: Any, key: str) -> list[Any]:
    if isinstance(state, list):
        return state
    messages = state.get(key) if isinstance(state, Mapping) else getattr(state, key, None)
    if messages is None:
        raise ValueError(f"No messages found in input: expected a list or a {key!r} key")
    return list(messages)


def _last_ai_message(messages: Sequence[Any]) -> Any:
    from langchain_core.messages import AIMessage

    for message in reversed(messages):
        if isinstance(message, AIMessage):
            return message
    raise ValueError("No AIMessage found in input")


def _as_tool(tool: Any) -> Any:
    from langchain_core.tools import BaseTool
    from langchain_core.tools import tool as make_tool

    if isinstance(tool, BaseTool):
        return tool
    if callable(tool):
        return make_tool(tool)
    raise TypeError(f"Expected a BaseTool or a function, got {tool!r}")


def tools_condition(state: Any, messages_key: str = "messages") -> str:
    """``"tools"`` if the last message is an AI message with tool calls, else ``END``."""
    messages = _messages_of(state, messages_key)
    if not messages:
        raise ValueError(f"No messages found in input state: {state!r}")
    last = messages[-1]
    return "tools" if getattr(last, "tool_calls", None) else END


class ToolNode:
    """A node that runs the tool calls of the last AI message, concurrently.

    Input: the graph state (``{"messages": [...]}``), a list of messages, or one tool
    call sent by :func:`~stepgraph.prebuilt.create_react_agent`. Output:
    ``{"messages": [ToolMessage, ...]}`` (a list when the input was a list), one message
    per call, in the calls' order. Tools may be langchain-core ``BaseTool``s or plain
    functions (wrapped with ``langchain_core.tools.tool``); they run inside the node's
    task, so ``get_stream_writer()`` works in them. A tool error becomes a ToolMessage
    with ``status="error"`` unless ``handle_tool_errors=False``.
    """

    def __init__(
        self,
        tools: Sequence[Any],
        *,
        name: str = "tools",
        messages_key: str = "messages",
        handle_tool_errors: bool | str | Callable[[Exception], str] = True,
    ) -> None:
        require_langchain()
        self.name = name
        self.messages_key = messages_key
        self.handle_tool_errors = handle_tool_errors
        self.tools_by_name: dict[str, Any] = {}
        for tool in tools:
            converted = _as_tool(tool)
            self.tools_by_name[converted.name] = converted

    # The engine calls async callables on the event loop: one code path for both
    # ``invoke`` and ``ainvoke`` (sync graphs run their nodes through the same loop).
    async def __call__(self, state: Any) -> Any:
        calls, as_list = self._calls(state)
        results: list[Any] = [None] * len(calls)

        async def run(index: int, call: dict[str, Any]) -> None:
            message = await self._run_one(call)
            # An id now, not when the reducer merges it: ``messages`` mode shows the
            # node's output as soon as the node returns, with the id the state keeps.
            if getattr(message, "id", "") is None:
                message.id = str(uuid.uuid4())
            results[index] = message

        if len(calls) == 1:
            await run(0, calls[0])
        else:
            async with anyio.create_task_group() as tg:
                for index, call in enumerate(calls):
                    tg.start_soon(run, index, call)
        return results if as_list else {self.messages_key: results}

    def _calls(self, state: Any) -> tuple[list[dict[str, Any]], bool]:
        if isinstance(state, Mapping) and _PACKET in state:
            return [dict(state[_PACKET])], False
        messages = _messages_of(state, self.messages_key)
        last = _last_ai_message(messages)
        return [dict(call) for call in last.tool_calls], isinstance(state, list)

    async def _run_one(self, call: dict[str, Any]) -> Any:
        from langchain_core.messages import ToolMessage

        name = call.get("name")
        tool = self.tools_by_name.get(name)  # type: ignore[arg-type]
        if tool is None:
            available = ", ".join(self.tools_by_name)
            return ToolMessage(
                content=f"Error: {name!r} is not a valid tool, try one of [{available}].",
                name=name,
                tool_call_id=call.get("id"),
                status="error",
            )
        tool_call = {**call, "type": "tool_call"}
        try:
            if running_on_asyncio():
                output = await tool.ainvoke(tool_call)
            elif getattr(tool, "func", None) is None and getattr(tool, "coroutine", None):
                # an async-only tool off asyncio (trio): langchain-core's async API
                # needs asyncio, so await the tool's coroutine function directly
                output = await tool.coroutine(**call.get("args", {}))
            else:
                output = await anyio.to_thread.run_sync(functools.partial(tool.invoke, tool_call))
        except Exception as exc:
            if self.handle_tool_errors is False:
                raise
            return ToolMessage(
                content=self._error_text(exc),
                name=name,
                tool_call_id=call.get("id"),
                status="error",
            )
        return self._as_message(output, name, call.get("id"))

    def _error_text(self, exc: Exception) -> str:
        handler = self.handle_tool_errors
        if isinstance(handler, str):
            return handler
        if callable(handler):
            return str(handler(exc))
        return f"Error: {exc!r}\n Please fix your mistakes."

    @staticmethod
    def _as_message(output: Any, name: Any, call_id: Any) -> Any:
        from langchain_core.messages import ToolMessage

        # ``tool.invoke(tool_call)`` already returns a ToolMessage; a Command or other
        # values are passed through or wrapped.
        if isinstance(output, ToolMessage):
            return output
        if type(output).__name__ == "Command":
            return output
        if isinstance(output, str):
            content: Any = output
        else:
            try:
                content = json.dumps(output, ensure_ascii=False)
            except (TypeError, ValueError):
                content = str(output)
        return ToolMessage(content=content, name=name, tool_call_id=call_id)
