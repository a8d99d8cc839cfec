"""The seed docs' joke graph, streamed on trio, on asyncio and through the sync API.

Run: python examples/joke_stream.py
"""

from __future__ import annotations

from typing import TypedDict

import anyio

from stepgraph.config import get_stream_writer
from stepgraph.graph import END, START, StateGraph


class State(TypedDict):
    topic: str
    joke: str


def refine_topic(state: State) -> dict[str, str]:
    return {"topic": state["topic"] + " and cats"}


async def generate_joke(state: State) -> dict[str, str]:
    writer = get_stream_writer()  # works in async nodes on every Python, trio included
    writer({"progress": "thinking about " + state["topic"]})
    return {"joke": f"This is a joke about {state['topic']}"}


graph = (
    StateGraph(State)
    .add_node(refine_topic)
    .add_node(generate_joke)
    .add_edge(START, "refine_topic")
    .add_edge("refine_topic", "generate_joke")
    .add_edge("generate_joke", END)
    .compile()
)


async def main(backend: str) -> None:
    print(f"--- {backend}")
    async with graph.astream({"topic": "ice cream"}, stream_mode=["updates", "custom"]) as chunks:
        async for mode, chunk in chunks:
            print(mode, chunk)


if __name__ == "__main__":
    for backend in ("trio", "asyncio"):
        anyio.run(main, backend, backend=backend)
    print("--- sync")
    for chunk in graph.stream({"topic": "ice cream"}, stream_mode="updates"):
        print(chunk)
    print("invoke ->", graph.invoke({"topic": "ice cream"}))
