"""The streaming docs' joke graph, served by ``stepgraph serve``.

``joke`` is the docs' two-node graph (``refine_topic`` → ``generate_joke``); its nodes
also report progress through the stream writer, so ``stream_mode="custom"`` shows
something. ``custom`` is the docs' "stream custom data" graph: it takes ``{"query": ...}``
and writes custom chunks while it works.
"""

from __future__ import annotations

from typing import TypedDict

from stepgraph.config import get_stream_writer
from stepgraph.graph import START, StateGraph


class State(TypedDict):
    topic: str
    joke: str


def refine_topic(state: State) -> dict[str, str]:
    get_stream_writer()({"progress": "refining the topic"})
    return {"topic": state["topic"] + " and cats"}


def generate_joke(state: State) -> dict[str, str]:
    get_stream_writer()({"progress": "writing the joke"})
    return {"joke": f"This is a joke about {state['topic']}"}


graph = (
    StateGraph(State)
    .add_node(refine_topic)
    .add_node(generate_joke)
    .add_edge(START, "refine_topic")
    .add_edge("refine_topic", "generate_joke")
    .compile()
)


class QueryState(TypedDict, total=False):
    query: str
    answer: str


def answer(state: QueryState) -> dict[str, str]:
    writer = get_stream_writer()
    writer({"custom_key": f"Looking up {state['query']!r}"})
    writer({"custom_key": "Found 3 results"})
    return {"answer": f"Three results for {state['query']}"}


custom = StateGraph(QueryState).add_node(answer).add_edge(START, "answer").compile()
