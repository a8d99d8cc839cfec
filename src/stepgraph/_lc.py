"""Optional langchain-core bridge: chat models called inside nodes feed ``messages``
mode, and langchain's own config lookup sees the task config — without passing
``config`` around, on every Python version (the task sets langchain's context
variable itself, inside the task)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

from ._events import MessageEvent

__all__ = ["config_var", "iter_messages", "make_handler", "task_callbacks"]

_handler_cls: Any = None


def config_var() -> Any:
    """langchain's config ContextVar if langchain-core is in use, else None."""
    module = sys.modules.get("langchain_core.runnables.config")
    return None if module is None else module.var_child_runnable_config


def _base_message() -> Any:
    module = sys.modules.get("langchain_core.messages")
    return None if module is None else module.BaseMessage


def iter_messages(value: Any) -> Iterator[Any]:
    """langchain messages (and stepgraph Message objects) found in a node's output."""
    from .messages import Message

    base = _base_message()
    kinds: tuple[type, ...] = (Message,) if base is None else (Message, base)
    if isinstance(value, kinds):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from iter_messages(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from iter_messages(v)
    else:
        update = getattr(value, "update", None)
        if update is not None and type(value).__name__ == "Command":
            yield from iter_messages(update)


def _cls() -> Any:
    global _handler_cls
    if _handler_cls is not None:
        return _handler_cls
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import ChatGenerationChunk

    class StepgraphMessagesHandler(BaseCallbackHandler):  # type: ignore[misc]
        """Streams a task's chat-model tokens into ``messages`` mode."""

        run_inline = True  # called in place: no asyncio executor, so it works on trio

        def __init__(self, emitter: Any, ns: tuple[str, ...], ns_str: str, seen: set[Any]) -> None:
            self.emitter = emitter
            self.ns = ns
            self.ns_str = ns_str
            self.seen = seen
            self.runs: dict[Any, dict[str, Any]] = {}

        def on_chat_model_start(
            self,
            serialized: Any,
            messages: Any,
            *,
            run_id: Any,
            tags: list[str] | None = None,
            metadata: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            if tags and "nostream" in tags:
                return
            # LangGraph's shape: the run is tagged ls_integration="langgraph" first (the
            # model overrides the value, not the position); tags only when there are some
            meta = {"ls_integration": "langgraph", **(metadata or {})}
            user_tags = [t for t in tags or () if not t.startswith(("seq:step:", "langsmith:"))]
            if user_tags:
                meta["tags"] = user_tags
            self.runs[run_id] = meta

        def on_llm_new_token(
            self, token: str, *, chunk: Any = None, run_id: Any, **kwargs: Any
        ) -> None:
            meta = self.runs.get(run_id)
            if meta is None or not isinstance(chunk, ChatGenerationChunk):
                return
            message = chunk.message
            if message.id is not None:
                self.seen.add(message.id)
            self.emitter.send_from_sync(MessageEvent(self.ns, message, meta))

        def on_llm_end(self, response: Any, *, run_id: Any, **kwargs: Any) -> None:
            meta = self.runs.pop(run_id, None)
            if meta is None:
                return
            for generations in response.generations:
                for generation in generations:
                    message = getattr(generation, "message", None)
                    if message is None or message.id in self.seen:
                        continue
                    self.seen.add(message.id)
                    self.emitter.send_from_sync(MessageEvent(self.ns, message, meta))

        def on_llm_error(self, error: BaseException, *, run_id: Any, **kwargs: Any) -> None:
            self.runs.pop(run_id, None)

        # Having these two makes langchain-core treat the handler as a streaming one,
        # so `model.invoke()` inside a node streams its tokens too (as in LangGraph).
        def tap_output_aiter(self, run_id: Any, output: Any) -> Any:
            return output

        def tap_output_iter(self, run_id: Any, output: Any) -> Any:
            return output

    _handler_cls = StepgraphMessagesHandler
    return _handler_cls


def make_handler(emitter: Any, ns: tuple[str, ...], ns_str: str, seen: set[Any]) -> Any:
    """A langchain callback handler streaming into ``emitter`` (langchain-core needed)."""
    return _cls()(emitter, ns, ns_str, seen)


def task_callbacks(
    callbacks: Any, handler: Any, tags: list[str], metadata: Mapping[str, Any]
) -> Any:
    """The ``callbacks`` of a task's config: the caller's callbacks plus ``handler``, in a
    callback manager that hands the run's tags and the task's metadata (``langgraph_node``
    and friends) down to every model call — also to calls that pass their own ``config``
    with ``tags`` or ``metadata``, which would otherwise replace the task's."""
    from langchain_core.callbacks import BaseCallbackManager, CallbackManager

    if isinstance(callbacks, BaseCallbackManager):
        manager = callbacks.copy()
        manager.add_handler(handler, inherit=True)
    else:
        handlers = [*(callbacks or ()), handler]
        manager = CallbackManager(handlers=handlers, inheritable_handlers=handlers)
    if tags:
        manager.add_tags(tags, inherit=True)
    if metadata:
        manager.add_metadata(dict(metadata), inherit=True)
    return manager
