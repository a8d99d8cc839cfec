"""Graphs the server tests run (beside the examples' joke graphs)."""

from __future__ import annotations

import operator
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio

from stepgraph.config import get_config, get_stream_writer
from stepgraph.graph import START, StateGraph
from stepgraph.messages import astream_text
from stepgraph.runtime import get_runtime
from stepgraph.types import interrupt


class State(TypedDict, total=False):
    marker: str
    forever: bool
    n: int
    text: str
    log: Annotated[list[str], operator.add]


async def wait(state: State) -> dict[str, Any]:
    """Says it started, then waits until cancelled; its ``finally`` leaves a marker."""
    get_stream_writer()({"started": True})
    try:
        if state.get("forever", True):
            await anyio.sleep_forever()
    finally:
        if state.get("marker"):
            Path(state["marker"]).write_text("finally ran")
    return {"text": "done waiting", "log": ["wait"]}


slow = StateGraph(State).add_node("wait", wait).add_edge(START, "wait").compile()
nested_slow = StateGraph(State).add_node("outer", slow).add_edge(START, "outer").compile()


def explode(state: State) -> dict[str, Any]:
    raise ValueError("boom: deliberate failure from the failing graph")


fail = StateGraph(State).add_node("explode", explode).add_edge(START, "explode").compile()


def ask_color(state: State) -> dict[str, Any]:
    answer = interrupt({"question": "color?"})
    return {"text": f"color: {answer}", "log": ["ask"]}


ask = StateGraph(State).add_node("ask_color", ask_color).add_edge(START, "ask_color").compile()


def inner_a(state: State) -> dict[str, Any]:
    get_stream_writer()({"node": "inner_a"})
    return {"text": state.get("text", "") + "|inner_a", "log": ["inner_a"]}


def first(state: State) -> dict[str, Any]:
    return {"text": state.get("text", "") + "|first", "log": ["first"]}


child = StateGraph(State).add_node(inner_a).add_edge(START, "inner_a").compile()
nested = (
    StateGraph(State)
    .add_node(first)
    .add_node("child", child)
    .add_edge(START, "first")
    .add_edge("first", "child")
    .compile()
)


async def speak(state: State) -> dict[str, Any]:
    """``n`` tokens into ``messages`` mode and ``n`` custom chunks, in a burst."""
    n = state.get("n", 5)
    writer = get_stream_writer()

    async def tokens() -> AsyncIterator[str]:
        for i in range(n):
            writer({"i": i})
            yield f"t{i} "

    message = await astream_text(tokens())
    return {"text": message.content}


talker = StateGraph(State).add_node(speak).add_edge(START, "speak").compile()
nested_talker = StateGraph(State).add_node("voice", talker).add_edge(START, "voice").compile()


class Seen(TypedDict, total=False):
    text: str
    seen: dict[str, Any]


def look(state: Seen) -> dict[str, Any]:
    """Reports what the run handed the graph: context, configurable, tags, metadata."""
    config = get_config()
    return {
        "seen": {
            "context": get_runtime().context,
            "user": config.get("configurable", {}).get("user"),
            "tags": config.get("tags"),
            "run_id": config.get("metadata", {}).get("run_id"),
            "env": os.environ.get("STEPGRAPH_TEST_ENV"),
        }
    }


inspect_builder = StateGraph(Seen).add_node(look).add_edge(START, "look")


def make_inspect(config: dict[str, Any]) -> Any:
    """A factory (``module:attr`` in langgraph.json): called with the run's config."""
    return inspect_builder.compile()


class Memo(TypedDict, total=False):
    user: str
    text: str
    notes: list[str]


def remember(state: Memo) -> dict[str, Any]:
    """A sync node (a worker thread) writing to the server's store."""
    store = get_runtime().store
    namespace = ("memos", state["user"])
    count = len(store.search(namespace, limit=100))
    store.put(namespace, f"memo-{count}", {"text": state["text"]})
    return {}


async def recall(state: Memo) -> dict[str, Any]:
    """An async node reading it back."""
    store = get_runtime().store
    found = await store.asearch(("memos", state["user"]), limit=100)
    return {"notes": sorted(item.value["text"] for item in found)}


memory = (
    StateGraph(Memo)
    .add_node(remember)
    .add_node(recall)
    .add_edge(START, "remember")
    .add_edge("remember", "recall")
    .compile()
)
