"""``create_react_agent``: a tool-calling agent loop as a ``StateGraph``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from typing_extensions import TypedDict

from .._builder import StateGraph
from .._spec import END, START
from ..graph.message import add_messages
from ..messages import ainvoke_model
from ._lc import require_langchain
from .tool_node import ToolNode, tool_call_packet

__all__ = ["AgentState", "create_react_agent", "resolve_chat_model"]


class AgentState(TypedDict):
    """The default agent state: a chat history merged by message id."""

    messages: Annotated[list[Any], add_messages]


def resolve_chat_model(model: str) -> Any:
    """A chat model for a ``"provider:model"`` string, through LangChain's
    ``langchain.chat_models.init_chat_model`` (looked up at call time, so a stub
    installed in ``sys.modules`` is honoured)."""
    try:
        from langchain.chat_models import init_chat_model  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise ImportError(
            f"create_react_agent(model={model!r}) resolves model names with LangChain's "
            "init_chat_model: pip install langchain (or pass a chat model object)"
        ) from exc
    return init_chat_model(model)


def _is_bound_with_tools(model: Any) -> bool:
    kwargs = getattr(model, "kwargs", None)
    return isinstance(kwargs, dict) and "tools" in kwargs


def _prompt_runner(prompt: Any) -> Callable[[Any], Any]:
    """Turn ``prompt`` into ``state -> model input``."""
    from langchain_core.messages import SystemMessage

    def messages_of(state: Any) -> list[Any]:
        if isinstance(state, dict):
            return list(state["messages"])
        return list(state.messages)

    if prompt is None:
        return messages_of
    if isinstance(prompt, str):
        system = SystemMessage(content=prompt)
        return lambda state: [system, *messages_of(state)]
    if isinstance(prompt, SystemMessage):
        return lambda state: [prompt, *messages_of(state)]
    if hasattr(prompt, "invoke"):
        return lambda state: prompt.invoke(state)
    if callable(prompt):
        return prompt  # type: ignore[no-any-return]
    raise TypeError(f"prompt must be a str, SystemMessage, callable or Runnable, got {prompt!r}")


class _AgentNode:
    """Calls the model with the state's messages (and the prompt)."""

    def __init__(self, model: Any, prompt: Any, name: str | None) -> None:
        self.model = model
        self.prompt = _prompt_runner(prompt)
        self.agent_name = name

    async def __call__(self, state: Any) -> dict[str, Any]:
        model_input = self.prompt(state)
        if hasattr(model_input, "__await__"):
            model_input = await model_input
        response = await ainvoke_model(self.model, model_input)
        if self.agent_name and getattr(response, "name", None) is None:
            response.name = self.agent_name
        return {"messages": [response]}


def _route_tool_calls(state: Any) -> Any:
    """After the agent: one ``Send`` to the tools node per tool call, or END."""
    from ..types import Send

    messages = state["messages"] if isinstance(state, dict) else state.messages
    last = messages[-1] if messages else None
    calls = getattr(last, "tool_calls", None)
    if not calls:
        return END
    return [Send("tools", tool_call_packet(call, state)) for call in calls]


def create_react_agent(
    model: Any,
    tools: Sequence[Any] | ToolNode,
    *,
    prompt: Any = None,
    state_schema: Any = None,
    checkpointer: Any = None,
    store: Any = None,
    interrupt_before: Sequence[str] | None = None,
    interrupt_after: Sequence[str] | None = None,
    debug: bool = False,
    name: str | None = None,
    **unsupported: Any,
) -> Any:
    """A compiled graph that loops model -> tools -> model until the model stops
    calling tools.

    ``model`` is a langchain-core chat model or a ``"provider:model"`` string
    (resolved with ``langchain.chat_models.init_chat_model``); ``tools`` are
    ``BaseTool``s, plain functions or a :class:`ToolNode`. ``prompt`` is a system
    prompt string, a ``SystemMessage``, or a callable / Runnable turning the state into
    the model's input. Nodes: ``"agent"`` (returns ``{"messages": [AIMessage]}``) and
    ``"tools"`` (one task per tool call, each returning ``{"messages": [ToolMessage]}``).
    """
    require_langchain()
    for key in ("response_format", "pre_model_hook", "post_model_hook"):
        if unsupported.get(key) is not None:
            raise NotImplementedError(f"create_react_agent({key}=...) is not supported yet")
    unknown = set(unsupported) - {
        "response_format",
        "pre_model_hook",
        "post_model_hook",
        "version",
        "config_schema",
        "context_schema",
    }
    if unknown:
        raise TypeError(f"create_react_agent() got unexpected arguments: {sorted(unknown)}")

    tool_node = tools if isinstance(tools, ToolNode) else ToolNode(list(tools))
    tool_list = list(tool_node.tools_by_name.values())
    if isinstance(model, str):
        model = resolve_chat_model(model)
    if tool_list and not _is_bound_with_tools(model):
        model = model.bind_tools(tool_list)

    builder: StateGraph[Any, Any, Any, Any] = StateGraph(state_schema or AgentState)
    builder.add_node("agent", _AgentNode(model, prompt, name))
    builder.add_edge(START, "agent")
    if tool_list:
        builder.add_node("tools", tool_node)
        builder.add_conditional_edges("agent", _route_tool_calls, ["tools", END])
        builder.add_edge("tools", "agent")
    else:
        builder.add_edge("agent", END)
    return builder.compile(
        checkpointer=checkpointer,
        store=store,
        interrupt_before=interrupt_before,
        interrupt_after=interrupt_after,
        debug=debug,
        name=name,
    )
