"""Child process for test_crash_resume.py (run as a script; never imported by pytest).

    python crash_graph_child.py run    <sqlite|postgres> <path-or-url> <asyncio|trio> <threads> <gated>
    python crash_graph_child.py verify <sqlite|postgres> <path-or-url> <asyncio|trio> <threads>

``run`` brings every thread ``crash-<i>`` of a multi-step graph to its end, all threads
at once: a thread with no checkpoint, or only its input checkpoint, starts from its
input; one with next tasks is resumed with ``invoke(None, cfg)``; a finished one is left
alone. It prints ``ready``, then ``enter <thread> <node>`` when a node starts,
``saved <thread> <checkpoint_id> <step>`` once a checkpoint is committed,
``finished <thread>`` and finally ``done``. With ``gated`` = 1 every node waits for one
line on stdin after announcing itself, so the parent decides how far the run gets.

``verify`` prints one JSON object: each thread's final values, next, and
(source, step, next, checkpoint_id, parent checkpoint_id) history; and for SQLite the
result of ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import json
import operator
import sys
import threading
from typing import Annotated, Any

import anyio
from typing_extensions import TypedDict

from stepgraph.checkpoint import ThreadBusyError
from stepgraph.graph import END, START, StateGraph

_out = threading.Lock()
_in = threading.Lock()


def say(line: str) -> None:
    with _out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def build(saver: Any, gated: bool) -> Any:
    def node(name: str) -> Any:
        def run(state: State, config: dict[str, Any]) -> dict[str, Any]:
            say(f"enter {config['configurable']['thread_id']} {name}")
            if gated:
                with _in:
                    line = sys.stdin.readline()
                if not line:  # the parent is done with us: wait to be killed
                    threading.Event().wait()
            return {"log": [name]}

        return run

    builder = StateGraph(State)
    for name in ("a", "b1", "b2", "b3", "c", "d", "e"):
        builder.add_node(name, node(name))
    builder.add_edge(START, "a")
    for branch in ("b1", "b2", "b3"):
        builder.add_edge("a", branch)
    builder.add_edge(["b1", "b2", "b3"], "c")
    builder.add_edge("c", "d")
    builder.add_edge("d", "e")
    builder.add_edge("e", END)
    return builder.compile(checkpointer=saver)


def open_saver(kind: str, target: str) -> Any:
    if kind == "sqlite":
        from stepgraph.checkpoint.sqlite import SqliteSaver

        return SqliteSaver(target)
    from stepgraph.checkpoint.postgres import PostgresSaver

    return PostgresSaver(target)


async def finish_thread(graph: Any, index: int) -> None:
    thread_id = f"crash-{index}"
    cfg = {"configurable": {"thread_id": thread_id}}
    state = await graph.aget_state(cfg)
    if state.metadata is None or state.next == ("__start__",):
        input: Any = {"log": [f"in-{index}"]}  # never got past its input: start over
    elif state.next:
        input = None
    else:
        say(f"finished {thread_id}")
        return
    # a killed predecessor's lease may outlive it briefly (PostgreSQL notices the
    # closed session on its own schedule): poll the server, bounded
    with anyio.fail_after(60):
        while True:
            try:
                # "sync": a checkpoint is streamed only once it is stored ("async" streams
                # it while it is still being saved, as LangGraph does)
                async with graph.astream(
                    input, cfg, stream_mode="checkpoints", durability="sync"
                ) as stream:
                    async for chunk in stream:
                        cid = chunk["config"]["configurable"]["checkpoint_id"]
                        say(f"saved {thread_id} {cid} {chunk['metadata']['step']}")
                break
            except ThreadBusyError:
                await anyio.sleep(0.05)
    say(f"finished {thread_id}")


async def run(saver: Any, threads: int, gated: bool) -> None:
    graph = build(saver, gated)
    say("ready")
    async with anyio.create_task_group() as tg:
        for i in range(threads):
            tg.start_soon(finish_thread, graph, i)
    say("done")


async def verify(saver: Any, kind: str, target: str, threads: int) -> None:
    graph = build(saver, gated=False)
    report: dict[str, Any] = {"threads": {}}
    for i in range(threads):
        cfg = {"configurable": {"thread_id": f"crash-{i}"}}
        state = await graph.aget_state(cfg)
        hist = [
            [
                s.metadata["source"],
                s.metadata["step"],
                list(s.next),
                s.config["configurable"]["checkpoint_id"],
                s.parent_config["configurable"]["checkpoint_id"] if s.parent_config else None,
            ]
            async for s in graph.aget_state_history(cfg)
        ]
        report["threads"][f"crash-{i}"] = {
            "values": state.values,
            "next": list(state.next),
            "history": hist,
        }
    if kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(target)
        try:
            report["integrity"] = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    print(json.dumps(report), flush=True)


async def main(mode: str, kind: str, target: str, threads: int, gated: bool) -> None:
    saver = open_saver(kind, target)
    try:
        await saver.asetup()
        if mode == "run":
            await run(saver, threads, gated)
        else:
            await verify(saver, kind, target, threads)
    finally:
        await saver.aclose()


if __name__ == "__main__":
    mode, kind, target, backend, threads = sys.argv[1:6]
    gated = len(sys.argv) > 6 and sys.argv[6] == "1"
    anyio.run(main, mode, kind, target, int(threads), gated, backend=backend)
