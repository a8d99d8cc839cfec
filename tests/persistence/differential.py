"""Persistence scenarios written once against a LangGraph-shaped API, run on stepgraph and
on the real LangGraph, and reduced to comparable traces.

A scenario is ``fn(api, saver) -> list`` of observations (invoke results, snapshots,
history, stream chunks). :func:`normalize` turns them into plain data and replaces each
checkpoint id, task id and interrupt id by ``<id:n>`` in order of first appearance, so
two traces match when they agree on values *and* on which ids are the same.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Annotated, Any

from typing_extensions import TypedDict

__all__ = ["PENDING", "SCENARIOS", "Api", "langgraph_api", "normalize", "stepgraph_api"]


@dataclasses.dataclass(frozen=True)
class Api:
    name: str
    StateGraph: Any
    START: str
    END: str
    interrupt: Callable[[Any], Any]
    Command: Any
    Send: Any = None


def stepgraph_api() -> Api:
    from stepgraph.graph import END, START, StateGraph
    from stepgraph.types import Command, Send, interrupt

    return Api("stepgraph", StateGraph, START, END, interrupt, Command, Send)


def langgraph_api() -> Api:
    from langgraph.graph import END, START, StateGraph  # type: ignore[import-not-found]
    from langgraph.types import Command, Send, interrupt  # type: ignore[import-not-found]

    return Api("langgraph", StateGraph, START, END, interrupt, Command, Send)


def langgraph_saver() -> Any:
    from langgraph.checkpoint.memory import InMemorySaver  # type: ignore[import-not-found]

    return InMemorySaver()


# --- normalization ----------------------------------------------------------------------

_ID = re.compile(r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$")
_NS = re.compile(r"^([A-Za-z_][\w-]*):([0-9a-f-]{36})$")


class _Ids:
    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        if value not in self.seen:
            self.seen[value] = f"<id:{len(self.seen)}>"
        return self.seen[value]


def normalize(trace: Any, *, start_task: bool = False) -> Any:
    """Plain, comparable data. The ``__start__`` task of an input checkpoint is reduced
    to its name unless ``start_task`` (stepgraph and LangGraph differ there; see
    pending_bugs.py), so that difference does not shift every later id."""
    ids = _Ids()

    def walk(obj: Any, key: str | None = None) -> Any:
        kind = type(obj).__name__
        if kind == "StateSnapshot":
            return {
                "StateSnapshot": {
                    f: walk(getattr(obj, f), f)
                    for f in (
                        "values",
                        "next",
                        "config",
                        "metadata",
                        "created_at",
                        "parent_config",
                        "tasks",
                        "interrupts",
                    )
                }
            }
        if kind == "PregelTask" and obj.name == "__start__" and not start_task:
            return {"PregelTask": "__start__"}
        if kind == "PregelTask":
            return {
                "PregelTask": {
                    f: walk(getattr(obj, f), f)
                    for f in ("id", "name", "path", "error", "interrupts", "state", "result")
                }
            }
        if kind == "Interrupt":
            return {"Interrupt": {"value": walk(obj.value), "id": walk(obj.id, "id")}}
        if kind == "GraphOutput":
            return {"GraphOutput": {"value": walk(obj.value), "interrupts": walk(obj.interrupts)}}
        if isinstance(obj, dict):
            return {
                (walk(k) if isinstance(k, str) else k): walk(v, k)  # keys: namespaces too
                for k, v in obj.items()
                if k != "checkpoint_map"  # LangGraph-internal routing key, not compared
            }
        if isinstance(obj, (list, tuple)):
            items = [walk(v) for v in obj]
            return items if isinstance(obj, list) else tuple(items)
        if isinstance(obj, str):
            if key in ("created_at", "ts", "timestamp") and obj:
                return "<ts>"
            if _ID.match(obj):
                return ids(obj)
            parts = [_NS.match(part) for part in obj.split("|")]
            if all(parts):  # a namespace path: "child:<id>|grand:<id>"
                return "|".join(f"{m.group(1)}:{ids(m.group(2))}" for m in parts if m)
            return obj
        if isinstance(obj, BaseException):
            return f"{type(obj).__name__}({obj})"
        return obj

    return walk(trace)


# --- scenarios ------------------------------------------------------------------------------


class State(TypedDict):
    log: Annotated[list[str], operator.add]


class _Calls:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def hit(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1


def _node(api: Api, name: str, calls: _Calls, questions: int = 0) -> Any:
    def node(state: State) -> dict[str, Any]:
        calls.hit(name)
        answers = [str(api.interrupt(f"{name}?{i}")) for i in range(questions)]
        return {"log": [":".join([name, *answers])]}

    return node


def _chain(
    api: Api, saver: Any, names: str, calls: _Calls, asks: dict[str, int] | None = None, **kw: Any
) -> Any:
    asks = asks or {}
    b = api.StateGraph(State)
    for n in names:
        b.add_node(n, _node(api, n, calls, asks.get(n, 0)))
    b.add_edge(api.START, names[0])
    for x, y in itertools.pairwise(names):
        b.add_edge(x, y)
    b.add_edge(names[-1], api.END)
    return b.compile(checkpointer=saver, **kw)


def _fan(api: Api, saver: Any, calls: _Calls, asks: dict[str, int]) -> Any:
    """START → a → p1, p2, p3 → z → END (p1..p3 ask ``asks[name]`` questions)."""
    b = api.StateGraph(State)
    b.add_node("a", _node(api, "a", calls))
    b.add_node("z", _node(api, "z", calls))
    b.add_edge(api.START, "a")
    for n in ("p1", "p2", "p3"):
        b.add_node(n, _node(api, n, calls, asks.get(n, 0)))
        b.add_edge("a", n)
        b.add_edge(n, "z")
    b.add_edge("z", api.END)
    return b.compile(checkpointer=saver)


def _cfg(tid: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": tid, **extra}}


def _past(cfg: dict[str, Any], snapshot: Any) -> dict[str, Any]:
    return {
        "configurable": {
            **cfg["configurable"],
            "checkpoint_ns": "",
            "checkpoint_id": snapshot.config["configurable"]["checkpoint_id"],
        }
    }


def chain_state_and_updates(api: Api, saver: Any) -> list[Any]:
    calls = _Calls()
    g = _chain(api, saver, "ab", calls)
    cfg = _cfg("t")
    out: list[Any] = [
        g.invoke({"log": ["in"]}, cfg),
        g.get_state(cfg),
        list(g.get_state_history(cfg)),
    ]
    out.append(g.update_state(cfg, {"log": ["u"]}))
    out.append(g.get_state(cfg))
    out.append(g.update_state(cfg, {"log": ["u2"]}, as_node="a"))
    out += [g.get_state(cfg), list(g.stream(None, cfg, stream_mode="updates"))]
    out += [list(g.get_state_history(cfg)), dict(calls.counts)]
    fresh = _cfg("fresh")
    out += [g.update_state(fresh, {"log": ["seed"]}), g.get_state(fresh), g.invoke(None, fresh)]
    return out


def interrupt_and_resume(api: Api, saver: Any) -> list[Any]:
    calls = _Calls()
    g = _chain(api, saver, "axb", calls, asks={"x": 2})
    cfg = _cfg("t")
    out: list[Any] = [list(g.stream({"log": []}, cfg, stream_mode=["values", "updates"]))]
    out.append(g.get_state(cfg))
    out.append(list(g.stream(api.Command(resume="one"), cfg, stream_mode=["values", "updates"])))
    out.append(g.get_state(cfg))
    out += [g.invoke(api.Command(resume="two"), cfg), g.get_state(cfg), dict(calls.counts)]
    return out


def interrupt_history(api: Api, saver: Any) -> list[Any]:
    """History after a node was interrupted twice and then finished."""
    g = _chain(api, saver, "axb", _Calls(), asks={"x": 2})
    cfg = _cfg("t")
    g.invoke({"log": []}, cfg)
    g.invoke(api.Command(resume="one"), cfg)
    g.invoke(api.Command(resume="two"), cfg)
    return list(g.get_state_history(cfg))


def parallel_interrupts(api: Api, saver: Any) -> list[Any]:
    calls = _Calls()
    g = _fan(api, saver, calls, {"p1": 2, "p2": 1})
    cfg = _cfg("t")
    first = g.invoke({"log": []}, cfg)
    state = g.get_state(cfg)
    by_value = {i.value: i.id for i in state.interrupts}
    out: list[Any] = [sorted(i.value for i in first["__interrupt__"]), first["log"], state]
    out.append(g.invoke(api.Command(resume={by_value["p1?0"]: "A", by_value["p2?0"]: "B"}), cfg))
    out.append(g.get_state(cfg))
    out.append(g.invoke(api.Command(resume="C"), cfg))
    out += [g.get_state(cfg), list(g.get_state_history(cfg)), dict(calls.counts)]
    return out


def parallel_resume_map(api: Api, saver: Any) -> list[Any]:
    """Two parallel interrupts answered at once by id; the finished sibling is kept."""
    calls = _Calls()
    g = _fan(api, saver, calls, {"p1": 1, "p2": 1})
    cfg = _cfg("t")
    first = g.invoke({"log": []}, cfg)
    pending = sorted(first["__interrupt__"], key=lambda i: i.value)
    answers = {i.id: i.value.upper() for i in pending}
    out: list[Any] = [first["log"], [i.value for i in pending], g.get_state(cfg).interrupts]
    out += [g.invoke(api.Command(resume=answers), cfg), g.get_state(cfg), dict(calls.counts)]
    return out


def breakpoints(api: Api, saver: Any) -> list[Any]:
    out: list[Any] = []
    cases = [
        ({"interrupt_before": ["b"]}, {}),
        ({"interrupt_after": ["b"]}, {}),
        ({"interrupt_before": "*"}, {}),
        ({"interrupt_after": "*"}, {}),
        ({}, {"interrupt_before": ["c"]}),
        ({}, {"interrupt_after": ["a"]}),
    ]
    for i, (compile_kw, call_kw) in enumerate(cases):
        g = _chain(api, saver, "abc", _Calls(), **compile_kw)
        cfg = _cfg(f"bp-{i}")
        out.append(list(g.stream({"log": []}, cfg, stream_mode=["updates", "values"], **call_kw)))
        out.append(g.get_state(cfg))
        out.append(list(g.stream(None, cfg, stream_mode=["updates", "values"], **call_kw)))
        out.append(list(g.get_state_history(cfg)))
    return out


def _sub(api: Api, calls: _Calls) -> Any:
    sub = api.StateGraph(State)
    sub.add_node("sa", _node(api, "sa", calls))
    sub.add_node("sb", _node(api, "sb", calls, 1))
    sub.add_edge(api.START, "sa")
    sub.add_edge("sa", "sb")
    return sub.compile()


def _subgraph_host(api: Api, saver: Any, calls: _Calls) -> Any:
    b = api.StateGraph(State)
    b.add_node("pre", _node(api, "pre", calls))
    b.add_node("child", _sub(api, calls))
    b.add_node("post", _node(api, "post", calls))
    b.add_edge(api.START, "pre")
    b.add_edge("pre", "child")
    b.add_edge("child", "post")
    return b.compile(checkpointer=saver)


def subgraph_interrupt(api: Api, saver: Any) -> list[Any]:
    calls = _Calls()
    g = _subgraph_host(api, saver, calls)
    cfg = _cfg("t")
    out: list[Any] = [list(g.stream({"log": []}, cfg, stream_mode="updates", subgraphs=True))]
    out.append(g.get_state(cfg))
    out.append(
        list(g.stream(api.Command(resume="yes"), cfg, stream_mode="updates", subgraphs=True))
    )
    out += [g.get_state(cfg), dict(calls.counts)]
    return out


def subgraph_history(api: Api, saver: Any) -> list[Any]:
    """The host's history after its subgraph node was interrupted and resumed."""
    g = _subgraph_host(api, saver, _Calls())
    cfg = _cfg("t")
    g.invoke({"log": []}, cfg)
    g.invoke(api.Command(resume="yes"), cfg)
    return list(g.get_state_history(cfg))


def subgraph_state(api: Api, saver: Any) -> list[Any]:
    """Only the nested snapshot of an interrupted subgraph node (config and metadata)."""
    calls = _Calls()
    b = api.StateGraph(State)
    b.add_node("pre", _node(api, "pre", calls))
    b.add_node("child", _sub(api, calls))
    b.add_edge(api.START, "pre")
    b.add_edge("pre", "child")
    g = b.compile(checkpointer=saver)
    cfg = _cfg("t")
    g.invoke({"log": []}, cfg)
    parent = g.get_state(cfg)
    return [parent.config, g.get_state(cfg, subgraphs=True).tasks[0].state]


def graph_called_in_a_node(api: Api, saver: Any) -> list[Any]:
    calls = _Calls()
    sub = _sub(api, calls)

    def host(state: State) -> dict[str, Any]:
        calls.hit("host")
        return {"log": ["host", *sub.invoke({"log": ["hin"]})["log"]]}

    b = api.StateGraph(State)
    b.add_node("host", host)
    b.add_edge(api.START, "host")
    g = b.compile(checkpointer=saver)
    cfg = _cfg("t")
    out: list[Any] = [g.invoke({"log": []}, cfg), g.get_state(cfg, subgraphs=True)]
    out += [g.invoke(api.Command(resume="ok"), cfg), dict(calls.counts)]
    return out


def subgraph_edit_and_resume(api: Api, saver: Any) -> list[Any]:
    """Read, edit and resume a paused subgraph through its task's config."""
    calls = _Calls()
    g = _subgraph_host(api, saver, calls)
    cfg = _cfg("t")
    out: list[Any] = [g.invoke({"log": []}, cfg)]
    sub_cfg = g.get_state(cfg).tasks[0].state
    out += [sub_cfg, g.get_state(sub_cfg), list(g.get_state_history(sub_cfg))]
    out += [g.update_state(sub_cfg, {"log": ["edit"]}), g.get_state(cfg, subgraphs=True)]
    out += [g.invoke(api.Command(resume="r"), cfg), g.get_state(cfg, subgraphs=True)]
    return [*out, list(g.get_state_history(sub_cfg)), dict(calls.counts)]


def nested_subgraph_state(api: Api, saver: Any) -> list[Any]:
    """A subgraph in a subgraph, paused: every level's state, then an edit two levels down."""
    calls = _Calls()
    grand = api.StateGraph(State)
    grand.add_node("g1", _node(api, "g1", calls))
    grand.add_node("g2", _node(api, "g2", calls, 1))
    grand.add_edge(api.START, "g1")
    grand.add_edge("g1", "g2")
    child = api.StateGraph(State)
    child.add_node("c1", _node(api, "c1", calls))
    child.add_node("grand", grand.compile())
    child.add_edge(api.START, "c1")
    child.add_edge("c1", "grand")
    b = api.StateGraph(State)
    b.add_node("child", child.compile())
    b.add_edge(api.START, "child")
    g = b.compile(checkpointer=saver)
    cfg = _cfg("t")
    out: list[Any] = [g.invoke({"log": []}, cfg), g.get_state(cfg, subgraphs=True)]
    child_cfg = g.get_state(cfg).tasks[0].state
    grand_cfg = g.get_state(child_cfg).tasks[0].state
    out += [grand_cfg, g.get_state(grand_cfg), list(g.get_state_history(grand_cfg))]
    out += [g.update_state(grand_cfg, {"log": ["E"]}, as_node="g1")]
    out += [g.invoke(api.Command(resume="R"), cfg), g.get_state(cfg), dict(calls.counts)]
    return out


def subgraph_breakpoints(api: Api, saver: Any) -> list[Any]:
    """A subgraph compiled with a static breakpoint pauses its host; None continues it."""
    out: list[Any] = []
    for i, kw in enumerate(({"interrupt_before": ["sb"]}, {"interrupt_after": ["sa"]})):
        sub = api.StateGraph(State)
        sub.add_node("sa", _node(api, "sa", _Calls()))
        sub.add_node("sb", _node(api, "sb", _Calls()))
        sub.add_edge(api.START, "sa")
        sub.add_edge("sa", "sb")
        b = api.StateGraph(State)
        b.add_node("pre", _node(api, "pre", _Calls()))
        b.add_node("child", sub.compile(**kw))
        b.add_node("post", _node(api, "post", _Calls()))
        b.add_edge(api.START, "pre")
        b.add_edge("pre", "child")
        b.add_edge("child", "post")
        g = b.compile(checkpointer=saver)
        cfg = _cfg(f"bp-{i}")
        modes = ["updates", "values"]
        out += [list(g.stream({"log": []}, cfg, stream_mode=modes))]
        out += [g.get_state(cfg, subgraphs=True), list(g.stream(None, cfg, stream_mode=modes))]
        out += [g.get_state(cfg), list(g.get_state_history(cfg))]
    return out


def parallel_subgraph_interrupts(api: Api, saver: Any) -> list[Any]:
    """Two Sends to one subgraph node, both paused; answered at once by id."""
    calls = _Calls()
    b = api.StateGraph(State)
    b.add_node("child", _sub(api, calls))
    b.add_conditional_edges(
        api.START, lambda s: [api.Send("child", {"log": ["x"]}), api.Send("child", {"log": ["y"]})]
    )
    g = b.compile(checkpointer=saver)
    cfg = _cfg("t")
    first = g.invoke({"log": []}, cfg)
    state = g.get_state(cfg, subgraphs=True)
    answers = {i.id: "A" for i in state.interrupts}
    out: list[Any] = [sorted(i.value for i in first["__interrupt__"]), state]
    out += [g.invoke(api.Command(resume=answers), cfg), g.get_state(cfg, subgraphs=True)]
    return [*out, dict(calls.counts)]


def subgraph_paused_host_inputs(api: Api, saver: Any) -> list[Any]:
    """invoke(None) on a host paused inside its subgraph asks again; the subgraph's own
    config given to invoke runs the host thread."""
    calls = _Calls()
    g = _subgraph_host(api, saver, calls)
    cfg = _cfg("t")
    out: list[Any] = [g.invoke({"log": []}, cfg)]
    sub_cfg = g.get_state(cfg).tasks[0].state
    out += [g.invoke(None, cfg), dict(calls.counts), g.invoke(None, sub_cfg)]
    out += [g.invoke(api.Command(resume="x"), sub_cfg), g.invoke({"log": ["new"]}, sub_cfg)]
    return [*out, g.get_state(cfg, subgraphs=True), dict(calls.counts)]


def graph_called_twice_then_interrupted(api: Api, saver: Any) -> list[Any]:
    """A node invokes a graph twice (independent runs), then asks; on resume the
    finished nested runs are not run again."""
    calls = _Calls()
    sub = api.StateGraph(State)
    sub.add_node("sa", _node(api, "sa", calls))
    sub.add_edge(api.START, "sa")
    nested = sub.compile()

    def host(state: State) -> dict[str, Any]:
        calls.hit("host")
        first = nested.invoke({"log": ["1"]})["log"]
        second = nested.invoke({"log": ["2"]})["log"]
        return {"log": [*first, *second, str(api.interrupt("q"))]}

    b = api.StateGraph(State)
    b.add_node("host", host)
    b.add_edge(api.START, "host")
    g = b.compile(checkpointer=saver)
    cfg = _cfg("t")
    out: list[Any] = [g.invoke({"log": []}, cfg), dict(calls.counts)]
    out += [g.invoke(api.Command(resume="A"), cfg), dict(calls.counts)]
    return out


def replay_past_checkpoint(api: Api, saver: Any) -> list[Any]:
    calls = _Calls()
    g = _chain(api, saver, "abc", calls)
    cfg = _cfg("t")
    g.invoke({"log": ["in"]}, cfg)
    past = list(g.get_state_history(cfg))[2]
    calls.counts.clear()
    out: list[Any] = [list(g.stream(None, _past(cfg, past), stream_mode="updates"))]
    out += [dict(calls.counts), list(g.get_state_history(cfg))]
    return out


def replay_interrupted_checkpoint(api: Api, saver: Any) -> list[Any]:
    """Replaying a checkpoint whose interrupt was answered asks again (on a fork copy);
    replaying the thread's latest update does not fork it again."""
    g = _chain(api, saver, "axb", _Calls(), asks={"x": 1})
    cfg = _cfg("t")
    g.invoke({"log": []}, cfg)
    g.invoke(api.Command(resume="r"), cfg)
    past = next(s for s in g.get_state_history(cfg) if s.next == ("x",))
    out: list[Any] = [g.invoke(None, _past(cfg, past)), list(g.get_state_history(cfg))]
    update = g.update_state(_past(cfg, past), {"log": ["u"]})
    out += [g.invoke(None, update), list(g.get_state_history(cfg))]
    out += [g.invoke(api.Command(resume="again"), cfg), g.get_state(cfg)]
    return out


def replay_first_and_last_checkpoint(api: Api, saver: Any) -> list[Any]:
    """Replaying the input checkpoint runs the whole graph again on a fork; replaying
    the final one only forks it."""
    g = _chain(api, saver, "ab", _Calls())
    modes = ["checkpoints", "values", "updates"]
    out: list[Any] = []
    for name, pick in (("first", -1), ("last", 0)):
        cfg = _cfg(name)
        g.invoke({"log": ["in"]}, cfg)
        past = list(g.get_state_history(cfg))[pick]
        out += [list(g.stream(None, _past(cfg, past), stream_mode=modes))]
        out += [list(g.get_state_history(cfg))]
    return out


def command_continues_a_thread(api: Api, saver: Any) -> list[Any]:
    """Command(update=...) on a thread paused before a node runs that node (as a resume
    does); Command(goto=...) on a finished thread streams its state, then runs the node.
    (Only streams and state values: LangGraph keeps a Command's update as a pending
    write of the current checkpoint, stepgraph saves it as an 'update' checkpoint.)"""
    modes = ["updates", "values"]
    g = _chain(api, saver, "abc", _Calls(), interrupt_before=["b"])
    cfg = _cfg("paused")
    g.invoke({"log": ["in"]}, cfg)
    out: list[Any] = [list(g.stream(api.Command(update={"log": ["upd"]}), cfg, stream_mode=modes))]
    state = g.get_state(cfg)
    out.append((state.values, state.next))
    f = _chain(api, saver, "ab", _Calls())
    fin = _cfg("finished")
    f.invoke({"log": ["in"]}, fin)
    out.append(list(f.stream(api.Command(goto="b"), fin, stream_mode=modes)))
    state = f.get_state(fin)
    out.append((state.values, state.next))
    return out


def fork_past_checkpoint(api: Api, saver: Any) -> list[Any]:
    calls = _Calls()
    g = _chain(api, saver, "abc", calls)
    cfg = _cfg("t")
    g.invoke({"log": ["in"]}, cfg)
    snaps = list(g.get_state_history(cfg))
    fork = g.update_state(_past(cfg, snaps[2]), {"log": ["fork"]})
    out: list[Any] = [fork, g.get_state(fork), g.get_state(cfg)]
    out += [g.invoke(None, cfg), list(g.get_state_history(cfg)), dict(calls.counts)]
    return out


def update_as_node_replaces_pending(api: Api, saver: Any) -> list[Any]:
    calls = _Calls()
    g = _chain(api, saver, "abc", calls)
    cfg = _cfg("t")
    g.invoke({"log": ["in"]}, cfg)
    step0 = list(g.get_state_history(cfg))[-2]
    cfg2 = g.update_state(_past(cfg, step0), {"log": ["f"]}, as_node="b")
    out: list[Any] = [g.get_state(cfg2)]
    p = _fan(api, saver, calls, {"p1": 1, "p2": 1})
    pc = _cfg("p")
    p.invoke({"log": []}, pc)
    p.update_state(pc, {"log": ["u1"]}, as_node="p1")
    out += [p.get_state(pc).next, p.invoke(None, pc)]
    return out


def durability_exit(api: Api, saver: Any) -> list[Any]:
    g = _chain(api, saver, "abc", _Calls())
    cfg = _cfg("t")
    g.invoke({"log": ["1"]}, cfg, durability="exit")
    g.invoke({"log": ["2"]}, cfg, durability="exit")
    out: list[Any] = [list(g.get_state_history(cfg))]
    q = _chain(api, saver, "axb", _Calls(), asks={"x": 1})
    qc = _cfg("q")
    out.append(q.invoke({"log": []}, qc, durability="exit"))
    out.append(list(q.get_state_history(qc)))
    out.append(q.invoke(api.Command(resume="r"), qc, durability="exit"))
    out.append(list(q.get_state_history(qc)))
    return out


def durability_exit_breakpoint(api: Api, saver: Any) -> list[Any]:
    g = _chain(api, saver, "abc", _Calls(), interrupt_before=["b"])
    cfg = _cfg("t")
    out: list[Any] = [g.invoke({"log": []}, cfg, durability="exit")]
    out.append(list(g.get_state_history(cfg)))
    out.append(g.invoke(None, cfg, durability="exit"))
    out.append(list(g.get_state_history(cfg)))
    return out


def none_on_a_finished_thread(api: Api, saver: Any) -> list[Any]:
    g = _chain(api, saver, "ab", _Calls())
    cfg = _cfg("t")
    g.invoke({"log": []}, cfg)
    return [g.invoke(None, cfg), list(g.stream(None, cfg, stream_mode="values"))]


def checkpoints_stream(api: Api, saver: Any) -> list[Any]:
    g = _chain(api, saver, "axb", _Calls(), asks={"x": 1})
    cfg = _cfg("t", user="u")
    first = list(g.stream({"log": []}, cfg, stream_mode="checkpoints"))
    resumed = list(g.stream(api.Command(resume="r"), cfg, stream_mode="checkpoints"))
    return [first, resumed]


def checkpoint_metadata_and_order(api: Api, saver: Any) -> list[Any]:
    """Checkpoint payloads among values/updates chunks (first run, resume, replay of a
    past checkpoint), and what saved metadata records of the caller's config."""
    g = _chain(api, saver, "axb", _Calls(), asks={"x": 1})
    modes = ["checkpoints", "values", "updates"]
    cfg = {
        "configurable": {"thread_id": "t", "user": "u", "n": 3, "obj": {"a": 1}, "nul": "a\x00b"},
        "metadata": {"m": "mv", "user": "from-metadata", "blob": [1], "__x": 1},
    }
    out: list[Any] = [list(g.stream({"log": []}, cfg, stream_mode=modes))]
    other = {"configurable": {"thread_id": "t", "flag": True}}
    out.append(list(g.stream(api.Command(resume="r"), other, stream_mode=modes)))
    history = list(g.get_state_history(cfg))
    out.append([s.metadata for s in history])
    past = next(s for s in history if s.next == ("b",))
    replay = {"configurable": {**_past(cfg, past)["configurable"], "r": 1.5}}
    out.append(list(g.stream(None, replay, stream_mode=modes)))
    update = {"configurable": {"thread_id": "t", "upd": "x"}, "metadata": {"why": "fix"}}
    g.update_state(update, {"log": ["u"]})
    out.append([s.metadata for s in g.get_state_history(cfg)])
    return out


def checkpoints_stream_parallel_resume(api: Api, saver: Any) -> list[Any]:
    """The checkpoint a resumed run starts from lists its finished tasks' results; the
    debug stream's checkpoint/task events keep their order and steps."""
    g = _fan(api, saver, _Calls(), {"p1": 1})
    cfg = _cfg("t")
    # (no updates: parallel tasks report in completion order)
    out: list[Any] = [list(g.stream({"log": []}, cfg, stream_mode="checkpoints"))]
    out.append(list(g.stream(api.Command(resume="A"), cfg, stream_mode=["checkpoints", "values"])))
    q = _chain(api, saver, "axb", _Calls(), asks={"x": 1})
    qc = _cfg("q")
    for value in ({"log": []}, api.Command(resume="r")):
        chunks = q.stream(value, qc, stream_mode=["debug", "updates"])
        out.append([(m, (c["type"], c["step"])) if m == "debug" else (m, c) for m, c in chunks])
    return out


SCENARIOS: dict[str, Callable[[Api, Any], list[Any]]] = {
    f.__name__: f
    for f in (
        chain_state_and_updates,
        interrupt_and_resume,
        interrupt_history,
        parallel_interrupts,
        parallel_resume_map,
        breakpoints,
        subgraph_interrupt,
        subgraph_history,
        subgraph_state,
        graph_called_in_a_node,
        subgraph_edit_and_resume,
        nested_subgraph_state,
        subgraph_breakpoints,
        parallel_subgraph_interrupts,
        subgraph_paused_host_inputs,
        graph_called_twice_then_interrupted,
        replay_past_checkpoint,
        replay_interrupted_checkpoint,
        replay_first_and_last_checkpoint,
        command_continues_a_thread,
        fork_past_checkpoint,
        update_as_node_replaces_pending,
        durability_exit,
        durability_exit_breakpoint,
        none_on_a_finished_thread,
        checkpoints_stream,
        checkpoint_metadata_and_order,
        checkpoints_stream_parallel_resume,
    )
}

# Scenarios where stepgraph still differs (engine bugs; see pending_bugs.py).
PENDING: set[str] = set()  # scenarios that still differ (run by pending_bugs.py)
