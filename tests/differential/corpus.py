"""Small graph programs that must behave identically on LangGraph and on stepgraph.

Each ``case_<name>(lib)`` builds a graph only from the names on ``lib`` (see
``libs.py``) and returns a :class:`~.harness.Case`.  A case is built afresh for every
run, so counters and checkpointers in closures start clean each time.

Conventions:
* no ``from __future__ import annotations`` here: schemas and reducers defined inside a
  case function must stay resolvable by ``get_type_hints``;
* async cases are named ``case_async_*``, set ``is_async=True`` and sleep with
  ``anyio.sleep`` so the same node runs on asyncio and on trio;
* explicit message ids are short (``"m1"``) -- the normalizer keeps those and drops
  generated ones;
* cases where several tasks share a step set ``parallel=True`` (LangGraph streams their
  updates in completion order); sleeps only make a *completion* order likely, the
  comparison never depends on it.
"""

import itertools
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
import pydantic
from typing_extensions import TypedDict

from .harness import Case, Followup

# --------------------------------------------------------------------------------------
# shared schemas and helpers (module level: resolvable by get_type_hints)


class ChainState(TypedDict):
    text: str
    steps: int


class LogState(TypedDict):
    log: Annotated[list, operator.add]


class LogAndValue(TypedDict):
    log: Annotated[list, operator.add]
    value: str


class JokeState(TypedDict):
    topic: str
    joke: str


class LoopState(TypedDict):
    n: int
    log: Annotated[list, operator.add]


def appender(name: str, delay: float = 0.0) -> Callable[[Any], dict]:
    """A sync node appending its name to ``log`` (after an optional sleep)."""

    def node(state: Any) -> dict:
        if delay:
            time.sleep(delay)
        return {"log": [name]}

    node.__name__ = name
    return node


def async_appender(name: str, delay: float = 0.0) -> Callable[[Any], Any]:
    async def node(state: Any) -> dict:
        await anyio.sleep(delay)
        return {"log": [name]}

    node.__name__ = name
    return node


def log_graph(lib: Any, names: list[str], state: Any = LogState) -> Any:
    """A builder holding one appender node per name (no edges)."""
    builder = lib.StateGraph(state)
    for name in names:
        builder.add_node(name, appender(name))
    return builder


def chain(lib: Any, names: list[str], state: Any = LogState) -> Any:
    builder = log_graph(lib, names, state)
    builder.add_edge(lib.START, names[0])
    for left, right in itertools.pairwise(names):
        builder.add_edge(left, right)
    builder.add_edge(names[-1], lib.END)
    return builder


def saver_config(thread: str = "t1", **extra: Any) -> dict:
    return {"configurable": {"thread_id": thread}, **extra}


# --------------------------------------------------------------------------------------
# linear chains and the docs example


def case_linear_chain(lib):
    def a(state: ChainState):
        return {"text": state["text"] + "a", "steps": 1}

    def b(state: ChainState):
        return {"text": state["text"] + "b", "steps": state["steps"] + 1}

    def c(state: ChainState):
        return {"text": state["text"] + "c", "steps": state["steps"] + 1}

    builder = lib.StateGraph(ChainState)
    builder.add_node(a).add_node(b).add_node(c)
    builder.add_edge(lib.START, "a").add_edge("a", "b").add_edge("b", "c").add_edge("c", lib.END)
    return Case(builder.compile(), {"text": ">"})


def case_docs_joke(lib):
    """The streaming docs' example: refine_topic -> generate_joke."""

    def refine_topic(state: JokeState):
        return {"topic": state["topic"] + " and cats"}

    def generate_joke(state: JokeState):
        return {"joke": f"This is a joke about {state['topic']}"}

    graph = (
        lib.StateGraph(JokeState)
        .add_node(refine_topic)
        .add_node(generate_joke)
        .add_edge(lib.START, "refine_topic")
        .add_edge("refine_topic", "generate_joke")
        .add_edge("generate_joke", lib.END)
        .compile()
    )
    return Case(
        graph,
        {"topic": "ice cream"},
        extra_modes=("invoke:updates", "tasks", "updates+tasks", "custom"),
    )


def case_plain_keys_absent_until_written(lib):
    """Plain keys are missing from the state (and from values chunks) until written."""

    class S(TypedDict):
        a: int
        b: int
        c: Any

    def first(state: S):
        return {"b": state["a"] + 1}

    def second(state: S):
        return {"c": sorted(state)}

    builder = lib.StateGraph(S).add_node(first).add_node(second)
    builder.add_edge(lib.START, "first").add_edge("first", "second")
    return Case(builder.compile(), {"a": 1})


def case_empty_input_nothing_written(lib):
    """invoke({}) where nothing is ever written: invoke returns None, no values chunk."""

    class S(TypedDict):
        x: int

    def noop(state: S):
        return None

    builder = lib.StateGraph(S).add_node(noop).add_edge(lib.START, "noop")
    return Case(builder.compile(), {})


# --------------------------------------------------------------------------------------
# state schemas


@dataclass
class DataState:
    x: int
    log: Annotated[list, operator.add] = field(default_factory=list)
    note: str = "default"


def case_dataclass_state(lib):
    def bump(state: DataState):
        return {"x": state.x + 1, "log": [f"{type(state).__name__}:{state.note}:{state.x}"]}

    def again(state: DataState):
        return {"log": [f"again:{state.x}:{len(state.log)}"], "note": "changed"}

    builder = lib.StateGraph(DataState).add_node(bump).add_node(again)
    builder.add_edge(lib.START, "bump").add_edge("bump", "again")
    return Case(builder.compile(), {"x": 3})


class PydState(pydantic.BaseModel):
    x: int
    label: str = "none"
    log: Annotated[list[str], operator.add] = []


def case_pydantic_state(lib):
    """Channel values stay raw ("7"); the node's instance is validated (x == 7)."""

    def check(state: PydState):
        return {
            "log": [f"{type(state).__name__} x={state.x!r} {type(state.x).__name__} {state.label}"],
            "label": "seen",
        }

    def after(state: PydState):
        return {"log": [f"after label={state.label} n={len(state.log)}"]}

    builder = lib.StateGraph(PydState).add_node(check).add_node(after)
    builder.add_edge(lib.START, "check").add_edge("check", "after")
    return Case(builder.compile(), {"x": "7"})


def case_pydantic_validation_error(lib):
    """Validation fails when the node's input instance is built: no chunk before it."""

    def check(state: PydState):
        return {"label": "never"}

    builder = lib.StateGraph(PydState).add_node(check).add_edge(lib.START, "check")
    return Case(builder.compile(), {"x": "not-int"})


# --------------------------------------------------------------------------------------
# reducers


def case_reducer_operator_add(lib):
    """operator.add reducer; the input goes through the reducer too."""
    return Case(chain(lib, ["a", "b", "c"]).compile(), {"log": ["in"]})


def fold_numbered(left: list, right: list) -> list:
    return left + [f"{len(left)}:{item}" for item in right]


class FoldState(TypedDict):
    items: Annotated[list, fold_numbered]
    plain: str


def case_reducer_custom_function(lib):
    def a(state: FoldState):
        return {"items": ["x", "y"], "plain": "a"}

    def b(state: FoldState):
        return {"items": [f"seen {len(state['items'])}"]}

    builder = lib.StateGraph(FoldState).add_node(a).add_node(b)
    builder.add_edge(lib.START, "a").add_edge("a", "b")
    return Case(builder.compile(), {"items": ["in"]})


def merge_dicts(left: dict, right: dict) -> dict:
    return {**left, **right}


class DefaultsState(TypedDict):
    log: Annotated[list, operator.add]
    total: Annotated[int, operator.add]
    seen: Annotated[dict, merge_dicts]
    plain: str


def case_reducer_defaults_present(lib):
    """Reducer keys exist from the first values chunk with T(); plain keys do not."""

    def a(state: DefaultsState):
        return {"total": 2, "seen": {"a": sorted(state)}}

    def b(state: DefaultsState):
        return {"total": 3, "log": [state["total"]], "plain": "set"}

    builder = lib.StateGraph(DefaultsState).add_node(a).add_node(b)
    builder.add_edge(lib.START, "a").add_edge("a", "b")
    return Case(builder.compile(), {"total": 1})


def join_text(left: Any, right: Any) -> Any:
    return f"{left}+{right}"


class UnionState(TypedDict):
    v: Annotated[int | str, join_text]


def case_reducer_without_default(lib):
    """T() fails for Union: the first write is stored verbatim (reducer not called)."""

    def a(state: UnionState):
        return {"v": "x"}

    def b(state: UnionState):
        return {"v": "y"}

    builder = lib.StateGraph(UnionState).add_node(a).add_node(b)
    builder.add_edge(lib.START, "a").add_edge("a", "b")
    return Case(builder.compile(), {"v": 1})


# --------------------------------------------------------------------------------------
# messages


def case_add_messages_dicts(lib):
    class S(TypedDict):
        messages: Annotated[list, lib.add_messages]

    def bot(state: S):
        last = state["messages"][-1]
        return {"messages": [{"role": "assistant", "content": f"echo: {last.content}"}]}

    def count(state: S):
        contents = [m.content for m in state["messages"]]
        return {"messages": [{"role": "system", "content": " | ".join(contents)}]}

    builder = lib.StateGraph(S).add_node(bot).add_node(count)
    builder.add_edge(lib.START, "bot").add_edge("bot", "count")
    return Case(builder.compile(), {"messages": [{"role": "user", "content": "hi"}]})


def case_messages_state(lib):
    class S(lib.MessagesState):
        turns: int

    def chatbot(state: S):
        return {
            "messages": [{"role": "assistant", "content": f"turn {state['turns']}"}],
            "turns": state["turns"] + 1,
        }

    def again(state: S):
        return {"messages": [{"role": "user", "content": f"n={len(state['messages'])}"}]}

    builder = lib.StateGraph(S).add_node(chatbot).add_node(again)
    builder.add_edge(lib.START, "chatbot").add_edge("chatbot", "again")
    return Case(
        builder.compile(),
        {"messages": [{"role": "user", "content": "hello"}], "turns": 0},
    )


def case_add_messages_replace_by_id(lib):
    """A message with an existing id replaces it in place; new ids append."""

    class S(TypedDict):
        messages: Annotated[list, lib.add_messages]

    def edit(state: S):
        return {
            "messages": [
                {"role": "user", "content": "final", "id": "m1"},
                {"role": "assistant", "content": "ok", "id": "m3"},
            ]
        }

    builder = lib.StateGraph(S).add_node(edit).add_edge(lib.START, "edit")
    return Case(
        builder.compile(),
        {
            "messages": [
                {"role": "user", "content": "draft", "id": "m1"},
                {"role": "assistant", "content": "hmm", "id": "m2"},
            ]
        },
    )


# --------------------------------------------------------------------------------------
# fan-out, reducer order, joins


def case_fanout_reducer_order(lib):
    """Parallel nodes fold in node-name order, whatever order they finish in."""
    builder = lib.StateGraph(LogState)
    # zeta finishes first, alpha last; added in neither alphabetical nor finish order
    builder.add_node("zeta", appender("zeta", 0.0))
    builder.add_node("alpha", appender("alpha", 0.03))
    builder.add_node("mid", appender("mid", 0.015))
    builder.add_node("end", appender("end"))
    for name in ("zeta", "alpha", "mid"):
        builder.add_edge(lib.START, name)
        builder.add_edge(name, "end")
    return Case(builder.compile(), {"log": []}, parallel=True)


def case_two_edges_same_step_trigger_once(lib):
    """Two plain edges into c from nodes of the same step run c once."""
    builder = log_graph(lib, ["a", "b", "c"])
    builder.add_edge(lib.START, "a").add_edge(lib.START, "b")
    builder.add_edge("a", "c").add_edge("b", "c")
    return Case(builder.compile(), {"log": []}, parallel=True)


def case_join_uneven_branches(lib):
    """add_edge(["a", "b2"], "c") waits for both: c runs once, after b2."""
    builder = log_graph(lib, ["a", "b1", "b2", "c"])
    builder.add_edge(lib.START, "a").add_edge(lib.START, "b1").add_edge("b1", "b2")
    builder.add_edge(["a", "b2"], "c").add_edge("c", lib.END)
    return Case(builder.compile(), {"log": []}, parallel=True)


def case_plain_edges_uneven_branches(lib):
    """a->c and b2->c as plain edges: c runs once per triggering step (twice)."""
    builder = log_graph(lib, ["a", "b1", "b2", "c"])
    builder.add_edge(lib.START, "a").add_edge(lib.START, "b1").add_edge("b1", "b2")
    builder.add_edge("a", "c").add_edge("b2", "c").add_edge("c", lib.END)
    return Case(builder.compile(), {"log": []}, parallel=True)


def case_defer_node(lib):
    """A deferred node waits until nothing else is pending."""
    builder = lib.StateGraph(LogState)
    for name in ("a", "b1", "b2", "b3"):
        builder.add_node(name, appender(name))
    builder.add_node("final", appender("final"), defer=True)
    builder.add_edge(lib.START, "a").add_edge(lib.START, "b1")
    builder.add_edge("b1", "b2").add_edge("b2", "b3")
    builder.add_edge("a", "final").add_edge("b3", "final")
    return Case(builder.compile(), {"log": []}, parallel=True)


# --------------------------------------------------------------------------------------
# conditional edges


def case_cond_edge_returns_name(lib):
    def route(state: LogAndValue):
        return "left" if state["value"] == "L" else "right"

    builder = log_graph(lib, ["start", "left", "right"], LogAndValue)
    builder.add_edge(lib.START, "start").add_conditional_edges("start", route)
    return Case(builder.compile(), {"log": [], "value": "L"})


def case_cond_edge_loop_until_end(lib):
    """A counter loop; the router returns END after three rounds."""

    def step(state: LoopState):
        return {"n": state["n"] + 1, "log": [f"step{state['n']}"]}

    def route(state: LoopState):
        return lib.END if state["n"] >= 3 else "step"

    builder = lib.StateGraph(LoopState).add_node(step)
    builder.add_edge(lib.START, "step").add_conditional_edges("step", route)
    return Case(builder.compile(), {"n": 0})


def case_cond_edge_returns_list(lib):
    def route(state: LogState):
        return ["c", "b"]

    builder = log_graph(lib, ["a", "b", "c", "d"])
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route)
    builder.add_edge("b", "d").add_edge("c", "d")
    return Case(builder.compile(), {"log": []}, parallel=True)


def case_cond_edge_router_sees_own_writes(lib):
    """The router runs in its node's task: it sees that node's writes, not siblings'."""

    class S(TypedDict):
        a: str
        b: str
        seen: Annotated[list, operator.add]

    def na(state: S):
        return {"a": "A"}

    def nb(state: S):
        time.sleep(0.01)
        return {"b": "B"}

    def route(state: S):
        return "record" if state.get("a") == "A" and state.get("b") is None else "other"

    def record(state: S):
        return {"seen": [f"a={state.get('a')} b={state.get('b')}"]}

    def other(state: S):
        return {"seen": ["other"]}

    builder = lib.StateGraph(S)
    builder.add_node(na).add_node(nb).add_node(record).add_node(other)
    builder.add_edge(lib.START, "na").add_edge(lib.START, "nb")
    builder.add_conditional_edges("na", route)
    return Case(builder.compile(), {"seen": []}, parallel=True)


def case_cond_edge_returns_send(lib):
    def route(state: LogAndValue):
        return lib.Send("worker", {"item": state["value"]})

    def worker(arg: dict):
        return {"log": [f"worker got {arg}"]}

    builder = log_graph(lib, ["src"], LogAndValue).add_node("worker", worker)
    builder.add_edge(lib.START, "src").add_conditional_edges("src", route)
    return Case(builder.compile(), {"log": [], "value": "v"}, extra_modes=("tasks",))


def case_cond_edge_mixed_names_and_sends(lib):
    """[Send, Send, name]: pull tasks fold first (by name), then Sends in send order."""

    def route(state: LogState):
        return [lib.Send("w", 1), lib.Send("w", 2), "p"]

    def w(arg: int):
        time.sleep(0.02 if arg == 1 else 0.0)
        return {"log": [f"w{arg}"]}

    builder = lib.StateGraph(LogState)
    builder.add_node("src", appender("src")).add_node("p", appender("p", 0.03)).add_node("w", w)
    builder.add_edge(lib.START, "src").add_conditional_edges("src", route)
    return Case(builder.compile(), {"log": []}, parallel=True)


def case_path_map_dict(lib):
    def route(state: LogAndValue):
        return state["value"] == "yes"

    builder = log_graph(lib, ["a", "yes_node", "no_node"], LogAndValue)
    builder.add_edge(lib.START, "a")
    builder.add_conditional_edges("a", route, {True: "yes_node", False: "no_node"})
    return Case(builder.compile(), {"log": [], "value": "yes"})


def case_path_map_dict_to_end(lib):
    def route(state: LogAndValue):
        return "stop"

    builder = log_graph(lib, ["a", "b"], LogAndValue)
    builder.add_edge(lib.START, "a")
    builder.add_conditional_edges("a", route, {"stop": lib.END, "go": "b"})
    return Case(builder.compile(), {"log": [], "value": "x"})


def case_path_map_list(lib):
    def route(state: LogState):
        return "c"

    builder = log_graph(lib, ["a", "b", "c"])
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route, ["b", "c"])
    return Case(builder.compile(), {"log": []})


def case_path_map_missing_key(lib):
    """A route value missing from a dict path map raises KeyError at run time."""

    def route(state: LogState):
        return "zzz"

    builder = log_graph(lib, ["a", "b"])
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route, {"go": "b"})
    return Case(builder.compile(), {"log": []})


def case_unknown_destination_ignored(lib):
    """An unknown node name without a path map is silently ignored."""

    def route(state: LogState):
        return "zzz"

    builder = log_graph(lib, ["a", "b"])
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route)
    return Case(builder.compile(), {"log": []})


def case_send_to_end_rejected(lib):
    def route(state: LogState):
        return lib.Send(lib.END, {"x": 1})

    builder = log_graph(lib, ["a"])
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route)
    return Case(builder.compile(), {"log": []})


# --------------------------------------------------------------------------------------
# Send fan-out


class MapState(TypedDict):
    items: list
    results: Annotated[list, operator.add]
    total: int


def case_send_fanout_twelve(lib):
    """12 Sends to one worker; Send 0 finishes last; results fold in Send order."""

    def plan(state: MapState):
        return {"items": list(range(12))}

    def fan(state: MapState):
        return [lib.Send("worker", {"i": i}) for i in state["items"]]

    def worker(arg: dict):
        if arg["i"] == 0:
            time.sleep(0.03)
        return {"results": [arg["i"]]}

    def reduce(state: MapState):
        return {"total": sum(state["results"])}

    builder = lib.StateGraph(MapState)
    builder.add_node(plan).add_node(worker).add_node(reduce)
    builder.add_edge(lib.START, "plan").add_conditional_edges("plan", fan)
    builder.add_edge("worker", "reduce")
    return Case(builder.compile(), {"items": []}, parallel=True)


def case_send_with_state_copy(lib):
    """Map-reduce style: each Send carries a copy of the state plus its item."""

    class S(TypedDict):
        subjects: list
        jokes: Annotated[list, operator.add]
        subject: str

    def fan(state: S):
        return [lib.Send("joke", {**state, "subject": s}) for s in state["subjects"]]

    def joke(state: S):
        return {"jokes": [f"{state['subject']} ({len(state['subjects'])} total)"]}

    builder = lib.StateGraph(S).add_node(joke)
    builder.add_conditional_edges(lib.START, fan)
    return Case(builder.compile(), {"subjects": ["cats", "dogs", "owls"]}, parallel=True)


# --------------------------------------------------------------------------------------
# Command


def case_command_goto_and_update(lib):
    def a(state: LogState):
        return lib.Command(goto="c", update={"log": ["a"]})

    builder = lib.StateGraph(LogState).add_node(a)
    builder.add_node("b", appender("b")).add_node("c", appender("c"))
    builder.add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []})


def case_command_list_same_key(lib):
    """A list of Commands writing one key twice: the task's update becomes a list."""

    def a(state: LogState):
        return [
            lib.Command(update={"log": ["c1"]}),
            lib.Command(update={"log": ["c2"]}, goto="b"),
        ]

    builder = lib.StateGraph(LogState).add_node(a).add_node("b", appender("b"))
    builder.add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []}, extra_modes=("invoke:updates", "tasks"))


def case_command_update_as_tuples(lib):
    def a(state: LogAndValue):
        return lib.Command(update=[("log", ["x"]), ("value", "set")], goto="b")

    builder = lib.StateGraph(LogAndValue).add_node(a).add_node("b", appender("b"))
    builder.add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": [], "value": "v"})


def case_command_goto_additive_to_edges(lib):
    """a -> b edge plus Command(goto="c"): both b and c run."""

    def a(state: LogState):
        return lib.Command(goto="c", update={"log": ["a"]})

    builder = lib.StateGraph(LogState).add_node(a)
    builder.add_node("b", appender("b")).add_node("c", appender("c"))
    builder.add_edge(lib.START, "a").add_edge("a", "b")
    return Case(builder.compile(), {"log": []}, parallel=True)


def case_command_only_routing(lib):
    """Command(goto=...) without update: updates show {'a': None}, no values chunk."""

    def a(state: LogState):
        return lib.Command(goto="b")

    builder = lib.StateGraph(LogState).add_node(a).add_node("b", appender("b"))
    builder.add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": ["in"]})


def case_command_goto_send(lib):
    def a(state: LogState):
        return lib.Command(goto=[lib.Send("w", "one"), lib.Send("w", "two")], update={"log": ["a"]})

    def w(arg: str):
        return {"log": [f"w:{arg}"]}

    builder = lib.StateGraph(LogState).add_node(a).add_node("w", w)
    builder.add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []}, parallel=True)


def case_command_parent_from_subgraph(lib):
    """Command.PARENT routes in the parent; the update is reported under the host node."""

    def child(state: LogState):
        return lib.Command(graph=lib.Command.PARENT, goto="after", update={"log": ["from child"]})

    sub = lib.StateGraph(LogState).add_node(child).add_edge(lib.START, "child").compile()

    builder = lib.StateGraph(LogState)
    builder.add_node("sub", sub).add_node("after", appender("after"))
    builder.add_edge(lib.START, "sub")
    return Case(builder.compile(), {"log": []})


def case_command_as_input_without_checkpointer(lib):
    """Command(update=...) as input without a checkpointer runs like plain input."""
    return Case(chain(lib, ["a", "b"]).compile(), lib.Command(update={"log": ["cmd"]}))


# --------------------------------------------------------------------------------------
# subgraphs


class ParentState(TypedDict):
    topic: str
    log: Annotated[list, operator.add]
    other: str


class ChildState(TypedDict):
    topic: str
    log: Annotated[list, operator.add]
    inner: str


def case_subgraph_as_node(lib):
    """A compiled graph as a node: shared keys in, shared keys out, private keys stay."""

    def c1(state: ChildState):
        return {"inner": "private", "log": ["c1"], "topic": state["topic"] + "!"}

    def c2(state: ChildState):
        return {"log": [f"c2 saw {state['inner']}"]}

    sub = lib.StateGraph(ChildState).add_node(c1).add_node(c2)
    sub = sub.add_edge(lib.START, "c1").add_edge("c1", "c2").compile()

    def after(state: ParentState):
        return {"other": f"{state['topic']} {sorted(state)}"}

    builder = lib.StateGraph(ParentState).add_node("sub", sub).add_node(after)
    builder.add_edge(lib.START, "sub").add_edge("sub", "after")
    return Case(
        builder.compile(),
        {"topic": "t", "log": []},
        extra_modes=("updates@sub", "values@sub", "updates+values@sub"),
    )


def case_subgraph_called_in_node(lib):
    """A node function invokes a compiled subgraph and maps its result."""

    class Sub(TypedDict):
        x: int
        y: int

    def double(state: Sub):
        return {"y": state["x"] * 2}

    sub = lib.StateGraph(Sub).add_node(double).add_edge(lib.START, "double").compile()

    class S(TypedDict):
        value: int
        log: Annotated[list, operator.add]

    def call(state: S):
        out = sub.invoke({"x": state["value"]})
        return {"value": out["y"], "log": [sorted(out.items())]}

    builder = lib.StateGraph(S).add_node(call).add_edge(lib.START, "call")
    return Case(
        builder.compile(), {"value": 21}, extra_modes=("updates@sub",), needs_task_context=True
    )


def case_nested_subgraphs(lib):
    inner = chain(lib, ["i1", "i2"]).compile()
    middle = lib.StateGraph(LogState).add_node("inner", inner).add_node("m", appender("m"))
    middle = middle.add_edge(lib.START, "inner").add_edge("inner", "m").compile()
    builder = lib.StateGraph(LogState).add_node("middle", middle).add_node("o", appender("o"))
    builder.add_edge(lib.START, "middle").add_edge("middle", "o")
    return Case(builder.compile(), {"log": ["in"]}, extra_modes=("updates@sub", "values@sub"))


# --------------------------------------------------------------------------------------
# schemas: input / output / node input


class Overall(TypedDict):
    question: str
    scratch: str
    answer: str


class InSchema(TypedDict):
    question: str


class OutSchema(TypedDict):
    answer: str


def case_input_output_schema(lib):
    def think(state: Overall):
        return {"scratch": f"saw {sorted(state)}"}

    def answer(state: Overall):
        return {"answer": f"{state['question']} -> {state['scratch']}"}

    builder = lib.StateGraph(Overall, input_schema=InSchema, output_schema=OutSchema)
    builder.add_node(think).add_node(answer)
    builder.add_edge(lib.START, "think").add_edge("think", "answer")
    return Case(builder.compile(), {"question": "q", "scratch": "x", "answer": "y"})


class Narrow(TypedDict):
    question: str


def case_node_input_schema(lib):
    def peek(state):
        return {"scratch": f"peek saw {sorted(state)}"}

    def full(state: Overall):
        return {"answer": f"full saw {sorted(state)}"}

    builder = lib.StateGraph(Overall)
    builder.add_node("peek", peek, input_schema=Narrow).add_node(full)
    builder.add_edge(lib.START, "peek").add_edge("peek", "full")
    return Case(builder.compile(), {"question": "q", "answer": "a0"})


def case_node_annotation_narrows_input(lib):
    def peek(state: Narrow):
        return {"scratch": f"peek saw {sorted(state)}"}

    builder = lib.StateGraph(Overall).add_node(peek).add_edge(lib.START, "peek")
    return Case(builder.compile(), {"question": "q", "answer": "a0"})


# --------------------------------------------------------------------------------------
# node return values and errors


def case_none_and_empty_returns(lib):
    """None and {} are no-ops: {'n': None} updates, no values chunk for those steps."""

    def none_node(state: LogState):
        return None

    def empty_node(state: LogState):
        return {}

    builder = lib.StateGraph(LogState).add_node(none_node).add_node(empty_node)
    builder.add_node("last", appender("last"))
    builder.add_edge(lib.START, "none_node").add_edge("none_node", "empty_node")
    builder.add_edge("empty_node", "last")
    return Case(builder.compile(), {"log": ["in"]})


def case_unknown_keys_ignored(lib):
    def a(state: LogAndValue):
        return {"value": "ok", "bogus": 2, "log": ["a"]}

    builder = lib.StateGraph(LogAndValue).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []})


def case_conflicting_plain_writes(lib):
    """Two tasks writing a plain key in one step: InvalidUpdateError after the updates."""

    class S(TypedDict):
        x: str

    def a(state: S):
        return {"x": "from a"}

    def b(state: S):
        return {"x": "from b"}

    builder = lib.StateGraph(S).add_node(a).add_node(b)
    builder.add_edge(lib.START, "a").add_edge(lib.START, "b")
    return Case(builder.compile(), {"x": "in"}, parallel=True)


def case_same_task_writes_plain_key_twice(lib):
    class S(TypedDict):
        x: str

    def a(state: S):
        return [lib.Command(update={"x": "1"}), lib.Command(update={"x": "2"})]

    builder = lib.StateGraph(S).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"x": "in"})


def case_bad_return_value(lib):
    def a(state: LogState):
        return 5

    builder = lib.StateGraph(LogState).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []})


def case_recursion_limit_too_low(lib):
    """A 3-node chain with recursion_limit=3: three steps stream, then the error."""
    return Case(chain(lib, ["a", "b", "c"]).compile(), {"log": []}, {"recursion_limit": 3})


def case_recursion_limit_enough(lib):
    return Case(chain(lib, ["a", "b", "c"]).compile(), {"log": []}, {"recursion_limit": 4})


def case_recursion_limit_infinite_loop(lib):
    def step(state: LoopState):
        return {"n": state["n"] + 1}

    builder = lib.StateGraph(LoopState).add_node(step)
    builder.add_edge(lib.START, "step").add_edge("step", "step")
    return Case(builder.compile(), {"n": 0}, {"recursion_limit": 5})


def case_recursion_limit_zero(lib):
    return Case(chain(lib, ["a"]).compile(), {"log": []}, {"recursion_limit": 0})


def case_node_raises_after_parallel_step(lib):
    """Siblings of an earlier step are streamed; the ValueError propagates unchanged."""

    def boom(state: LogState):
        raise ValueError(f"boom after {state['log']}")

    builder = log_graph(lib, ["a", "b"]).add_node(boom)
    builder.add_edge(lib.START, "a").add_edge(lib.START, "b")
    builder.add_edge(["a", "b"], "boom")
    return Case(builder.compile(), {"log": []}, parallel=True)


def case_node_raises_custom_exception(lib):
    class Oops(Exception):
        pass

    def boom(state: LogState):
        raise Oops("custom", 2)

    builder = log_graph(lib, ["a"]).add_node(boom)
    builder.add_edge(lib.START, "a").add_edge("a", "boom")
    return Case(builder.compile(), {"log": []}, extra_modes=("tasks",))


class Flaky(Exception):
    pass


def case_retry_then_succeed(lib):
    """Fails twice, succeeds on the third attempt: one task, one update."""
    attempts = []

    def flaky(state: LogState):
        attempts.append(1)
        if len(attempts) < 3:
            raise Flaky(f"attempt {len(attempts)}")
        return {"log": [f"ok after {len(attempts)}"]}

    policy = lib.RetryPolicy(initial_interval=0, jitter=False, max_attempts=3)
    builder = lib.StateGraph(LogState).add_node(flaky, retry_policy=policy)
    builder.add_edge(lib.START, "flaky")
    return Case(builder.compile(), {"log": []})


def case_retry_exhausted(lib):
    attempts = []

    def flaky(state: LogState):
        attempts.append(1)
        raise Flaky(f"attempt {len(attempts)}")

    policy = lib.RetryPolicy(initial_interval=0, jitter=False, max_attempts=2)
    builder = lib.StateGraph(LogState).add_node(flaky, retry_policy=policy)
    builder.add_edge(lib.START, "flaky")
    return Case(builder.compile(), {"log": []})


def case_retry_skips_value_error(lib):
    """default_retry_on does not retry ValueError: one attempt only."""
    attempts = []

    def flaky(state: LogState):
        attempts.append(1)
        raise ValueError(f"attempt {len(attempts)}")

    policy = lib.RetryPolicy(initial_interval=0, jitter=False, max_attempts=5)
    builder = lib.StateGraph(LogState).add_node(flaky, retry_policy=policy)
    builder.add_edge(lib.START, "flaky")
    return Case(builder.compile(), {"log": []})


def case_retry_on_custom_predicate(lib):
    attempts = []

    def flaky(state: LogState):
        attempts.append(1)
        if len(attempts) < 2:
            raise KeyError("transient")
        return {"log": [f"attempts={len(attempts)}"]}

    policy = lib.RetryPolicy(initial_interval=0, jitter=False, retry_on=KeyError)
    builder = lib.StateGraph(LogState).add_node(flaky, retry_policy=policy)
    builder.add_edge(lib.START, "flaky")
    return Case(builder.compile(), {"log": []})


# --------------------------------------------------------------------------------------
# output_keys and builder shortcuts


class ABState(TypedDict):
    a: str
    b: str


def _ab_graph(lib):
    def first(state: ABState):
        return {"a": "A1"}

    def second(state: ABState):
        return {"b": "B1"}

    def third(state: ABState):
        return {"a": "A2"}

    builder = lib.StateGraph(ABState).add_node(first).add_node(second).add_node(third)
    builder.add_edge(lib.START, "first").add_edge("first", "second").add_edge("second", "third")
    return builder.compile()


def case_output_keys_single(lib):
    return Case(_ab_graph(lib), {"a": "A0"}, kwargs={"output_keys": "b"})


def case_output_keys_list(lib):
    return Case(_ab_graph(lib), {"a": "A0"}, kwargs={"output_keys": ["a"]})


def case_add_sequence(lib):
    def one(state: LogState):
        return {"log": ["one"]}

    def three(state: LogState):
        return {"log": ["three"]}

    builder = lib.StateGraph(LogState)
    builder.add_sequence([one, ("two", appender("two_fn")), three])
    builder.add_edge(lib.START, "one")
    return Case(builder.compile(), {"log": []})


def case_entry_and_finish_point(lib):
    builder = log_graph(lib, ["a", "b"])
    builder.set_entry_point("a").add_edge("a", "b").set_finish_point("b")
    return Case(builder.compile(), {"log": []})


def case_conditional_entry_point(lib):
    def route(state: LogAndValue):
        return state["value"]

    builder = log_graph(lib, ["x", "y"], LogAndValue)
    builder.set_conditional_entry_point(route, {"go-x": "x", "go-y": "y"})
    return Case(builder.compile(), {"log": [], "value": "go-y"})


def case_node_name_from_function_and_metadata(lib):
    def named(state: LogState, config):
        meta = config["metadata"]
        return {"log": [meta["langgraph_node"], meta.get("who")]}

    builder = lib.StateGraph(LogState).add_node(named, metadata={"who": "me"})
    builder.add_edge(lib.START, "named")
    return Case(builder.compile(), {"log": []})


# --------------------------------------------------------------------------------------
# config and stream-writer access


def case_get_config_step_and_node(lib):
    def a(state: LogState):
        meta = lib.get_config()["metadata"]
        return {"log": [(meta["langgraph_node"], meta["langgraph_step"])]}

    def b(state: LogState, config):
        meta = config["metadata"]
        return {
            "log": [
                (meta["langgraph_node"], meta["langgraph_step"], config["configurable"]["user_key"])
            ]
        }

    builder = lib.StateGraph(LogState).add_node(a).add_node(b)
    builder.add_edge(lib.START, "a").add_edge("a", "b")
    return Case(builder.compile(), {"log": []}, {"configurable": {"user_key": "u1"}})


def case_get_config_triggers_and_path(lib):
    def a(state: LogState):
        meta = lib.get_config()["metadata"]
        return {"log": [meta["langgraph_triggers"], meta["langgraph_path"]]}

    def fan(state: LogState):
        return [lib.Send("w", 0)]

    def w(arg: int):
        meta = lib.get_config()["metadata"]
        return {"log": [meta["langgraph_triggers"], meta["langgraph_path"][0]]}

    builder = lib.StateGraph(LogState).add_node(a).add_node("w", w)
    builder.add_edge(lib.START, "a").add_conditional_edges("a", fan)
    return Case(builder.compile(), {"log": []})


def case_stream_writer_is_noop_without_custom(lib):
    def a(state: LogState, writer):
        writer({"via": "param"})
        lib.get_stream_writer()("via getter")
        return {"log": ["wrote"]}

    builder = lib.StateGraph(LogState).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []})


# --------------------------------------------------------------------------------------
# interrupts and breakpoints


class AskState(TypedDict):
    question: str
    answer: str
    log: Annotated[list, operator.add]


def case_interrupt_and_resume(lib):
    def prepare(state: AskState):
        return {"log": ["prepare"]}

    def ask(state: AskState):
        reply = lib.interrupt({"question": state["question"]})
        return {"answer": reply, "log": ["ask"]}

    builder = lib.StateGraph(AskState).add_node(prepare).add_node(ask)
    builder.add_node("done", appender("done"))
    builder.add_edge(lib.START, "prepare").add_edge("prepare", "ask").add_edge("ask", "done")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"question": "why?", "log": []},
        saver_config(),
        followups=(lib.Command(resume="because"),),
        extra_modes=("tasks", "updates+tasks"),
    )


def case_interrupt_without_checkpointer(lib):
    def ask(state: AskState):
        return {"answer": lib.interrupt("need input")}

    builder = lib.StateGraph(AskState).add_node(ask).add_edge(lib.START, "ask")
    return Case(builder.compile(), {"question": "q"})


def case_resume_without_checkpointer(lib):
    def ask(state: AskState):
        return {"answer": lib.interrupt("need input")}

    builder = lib.StateGraph(AskState).add_node(ask).add_edge(lib.START, "ask")
    return Case(builder.compile(), lib.Command(resume="x"))


def case_interrupt_twice_in_one_node(lib):
    """Each interrupt() call needs its own resume; the node re-runs from the start."""

    def ask(state: AskState):
        first = lib.interrupt("first?")
        second = lib.interrupt(f"second after {first}?")
        return {"answer": f"{first}/{second}"}

    builder = lib.StateGraph(AskState).add_node(ask).add_edge(lib.START, "ask")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"question": "q"},
        saver_config(),
        followups=(lib.Command(resume="one"), lib.Command(resume="two")),
    )


def case_interrupt_parallel_resume_map(lib):
    """Two parallel branches interrupt; one resume map keyed by interrupt id."""

    def ask_a(state: AskState):
        return {"log": [f"a:{lib.interrupt('ask a')}"]}

    def ask_b(state: AskState):
        return {"log": [f"b:{lib.interrupt('ask b')}"]}

    builder = lib.StateGraph(AskState).add_node(ask_a).add_node(ask_b)
    builder.add_node("join", appender("join"))
    builder.add_edge(lib.START, "ask_a").add_edge(lib.START, "ask_b")
    builder.add_edge(["ask_a", "ask_b"], "join")
    graph = builder.compile(checkpointer=lib.MemorySaver())

    def resume_all(ctx):
        return lib.Command(resume={i.id: f"answer to {i.value}" for i in ctx.interrupts})

    return Case(
        graph, {"log": []}, saver_config(), followups=(Followup(resume_all),), parallel=True
    )


def case_interrupt_parallel_plain_resume_rejected(lib):
    """With two pending interrupts a plain resume value is an error."""

    def ask_a(state: AskState):
        return {"log": [f"a:{lib.interrupt('ask a')}"]}

    def ask_b(state: AskState):
        return {"log": [f"b:{lib.interrupt('ask b')}"]}

    builder = lib.StateGraph(AskState).add_node(ask_a).add_node(ask_b)
    builder.add_edge(lib.START, "ask_a").add_edge(lib.START, "ask_b")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"log": []},
        saver_config(),
        followups=(lib.Command(resume="same for all"),),
        parallel=True,
    )


def case_interrupt_with_finished_sibling(lib):
    """The sibling that finished is not re-run on resume; its update is replayed."""
    runs = []

    def worker(state: AskState):
        runs.append("worker")
        time.sleep(0.01)
        return {"log": [f"worker run {len(runs)}"]}

    def ask(state: AskState):
        return {"answer": lib.interrupt("ok?")}

    builder = lib.StateGraph(AskState).add_node(worker).add_node(ask)
    builder.add_edge(lib.START, "worker").add_edge(lib.START, "ask")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"log": []},
        saver_config(),
        followups=(lib.Command(resume="yes"),),
        parallel=True,
    )


def case_interrupt_before(lib):
    graph = chain(lib, ["a", "b", "c"]).compile(
        checkpointer=lib.MemorySaver(), interrupt_before=["b"]
    )
    return Case(graph, {"log": []}, saver_config(), followups=(None,))


def case_interrupt_after(lib):
    graph = chain(lib, ["a", "b", "c"]).compile(
        checkpointer=lib.MemorySaver(), interrupt_after=["a"]
    )
    return Case(graph, {"log": []}, saver_config(), followups=(None,))


def case_interrupt_before_resumed_with_command(lib):
    graph = chain(lib, ["a", "b"]).compile(checkpointer=lib.MemorySaver(), interrupt_before=["b"])
    return Case(graph, {"log": []}, saver_config(), followups=(lib.Command(resume="go"),))


def case_interrupt_before_all_nodes(lib):
    graph = chain(lib, ["a", "b"]).compile(checkpointer=lib.MemorySaver(), interrupt_before="*")
    return Case(graph, {"log": []}, saver_config(), followups=(None, None))


def case_interrupt_before_call_kwarg(lib):
    graph = chain(lib, ["a", "b"]).compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"log": []},
        saver_config(),
        kwargs={"interrupt_before": ["b"]},
        followups=(None,),
    )


def case_new_input_discards_pending(lib):
    """New input on a paused thread starts over; the state keeps its reducer history."""
    graph = chain(lib, ["a", "b"]).compile(checkpointer=lib.MemorySaver(), interrupt_before=["b"])
    return Case(graph, {"log": ["first"]}, saver_config(), followups=({"log": ["second"]},))


def case_invoke_none_without_checkpointer(lib):
    return Case(chain(lib, ["a"]).compile(), None)


def case_invoke_none_on_fresh_thread(lib):
    graph = chain(lib, ["a"]).compile(checkpointer=lib.MemorySaver())
    return Case(graph, None, saver_config())


def case_checkpointer_needs_thread_id(lib):
    graph = chain(lib, ["a"]).compile(checkpointer=lib.MemorySaver())
    return Case(graph, {"log": []})


def case_thread_accumulates_across_runs(lib):
    """Two invocations on one thread: reducer state carries over."""
    graph = chain(lib, ["a"]).compile(checkpointer=lib.MemorySaver())
    return Case(graph, {"log": ["one"]}, saver_config(), followups=({"log": ["two"]},))


def case_failed_task_rerun_on_resume(lib):
    """With a checkpointer, invoke(None) re-runs only the failed task."""
    attempts = []

    def shaky(state: LogState):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return {"log": [f"shaky ok on call {len(attempts)}"]}

    builder = log_graph(lib, ["a", "c"]).add_node(shaky)
    builder.add_edge(lib.START, "a").add_edge("a", "shaky").add_edge("shaky", "c")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(graph, {"log": []}, saver_config(), followups=(None,))


def case_command_update_on_existing_thread(lib):
    """Command(update=...) on an existing thread applies the update, runs nothing."""
    graph = chain(lib, ["a"]).compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"log": ["one"]},
        saver_config(),
        followups=(lib.Command(update={"log": ["patched"]}),),
    )


# --------------------------------------------------------------------------------------
# async nodes and routers (ainvoke / astream)


def case_async_chain(lib):
    builder = lib.StateGraph(LogState)
    for name in ("a", "b", "c"):
        builder.add_node(name, async_appender(name))
    builder.add_edge(lib.START, "a").add_edge("a", "b").add_edge("b", "c")
    return Case(builder.compile(), {"log": []}, is_async=True)


def case_async_router(lib):
    async def route(state: LoopState):
        await anyio.sleep(0)
        return "step" if state["n"] < 2 else lib.END

    async def step(state: LoopState):
        await anyio.sleep(0)
        return {"n": state["n"] + 1, "log": [state["n"]]}

    builder = lib.StateGraph(LoopState).add_node(step)
    builder.add_edge(lib.START, "step").add_conditional_edges("step", route)
    return Case(builder.compile(), {"n": 0}, is_async=True)


def case_async_fanout_reducer_order(lib):
    builder = lib.StateGraph(LogState)
    builder.add_node("zeta", async_appender("zeta", 0.0))
    builder.add_node("alpha", async_appender("alpha", 0.02))
    builder.add_node("mid", async_appender("mid", 0.01))
    builder.add_node("end", async_appender("end"))
    for name in ("zeta", "alpha", "mid"):
        builder.add_edge(lib.START, name).add_edge(name, "end")
    return Case(builder.compile(), {"log": []}, is_async=True, parallel=True)


def case_async_send_fanout(lib):
    async def fan(state: MapState):
        return [lib.Send("worker", {"i": i}) for i in range(6)]

    async def worker(arg: dict):
        await anyio.sleep(0.005 * (6 - arg["i"]))
        return {"results": [arg["i"] * 10]}

    builder = lib.StateGraph(MapState).add_node(worker)
    builder.add_conditional_edges(lib.START, fan)
    return Case(builder.compile(), {"items": []}, is_async=True, parallel=True)


def case_async_sibling_finishes_before_failure(lib):
    """A fast sibling's update is streamed before the slow node's error propagates."""

    async def fast(state: LogState):
        return {"log": ["fast"]}

    async def slow(state: LogState):
        await anyio.sleep(0.02)
        raise ValueError("slow failed")

    builder = lib.StateGraph(LogState).add_node(fast).add_node(slow)
    builder.add_edge(lib.START, "fast").add_edge(lib.START, "slow")
    return Case(builder.compile(), {"log": []}, is_async=True)


def case_async_subgraph_called_in_node(lib):
    sub = lib.StateGraph(LogState).add_node("s", async_appender("s")).add_edge(lib.START, "s")
    sub = sub.compile()

    async def call(state: LogState):
        out = await sub.ainvoke({"log": ["sub-in"]})
        return {"log": out["log"]}

    builder = lib.StateGraph(LogState).add_node(call).add_edge(lib.START, "call")
    return Case(builder.compile(), {"log": []}, is_async=True)


def case_async_interrupt_and_resume(lib):
    async def ask(state: AskState):
        await anyio.sleep(0)
        return {"answer": lib.interrupt("async question")}

    builder = lib.StateGraph(AskState).add_node(ask).add_node("done", async_appender("done"))
    builder.add_edge(lib.START, "ask").add_edge("ask", "done")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"question": "q"},
        saver_config(),
        followups=(lib.Command(resume="async answer"),),
        is_async=True,
    )


def case_async_retry_then_succeed(lib):
    attempts = []

    async def flaky(state: LogState):
        attempts.append(1)
        await anyio.sleep(0)
        if len(attempts) < 3:
            raise Flaky(f"attempt {len(attempts)}")
        return {"log": [f"ok after {len(attempts)}"]}

    policy = lib.RetryPolicy(initial_interval=0, jitter=False)
    builder = lib.StateGraph(LogState).add_node(flaky, retry_policy=policy)
    builder.add_edge(lib.START, "flaky")
    return Case(builder.compile(), {"log": []}, is_async=True)


def case_async_get_config(lib):
    async def a(state: LogState):
        await anyio.sleep(0)
        meta = lib.get_config()["metadata"]
        return {"log": [(meta["langgraph_node"], meta["langgraph_step"])]}

    builder = lib.StateGraph(LogState).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []}, is_async=True)


def case_async_command_goto(lib):
    async def a(state: LogState):
        await anyio.sleep(0)
        return lib.Command(goto="b", update={"log": ["a"]})

    builder = lib.StateGraph(LogState).add_node(a).add_node("b", async_appender("b"))
    builder.add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []}, is_async=True)


# --------------------------------------------------------------------------------------
# custom stream mode and subgraph streaming

CUSTOM_MODES = ("custom", "updates+custom", "custom+values")


def case_custom_writer_param_and_getter(lib):
    """Custom events from the writer parameter and from get_stream_writer()."""

    def a(state: LogState, writer):
        writer({"progress": 1})
        lib.get_stream_writer()("text event")
        return {"log": ["a"]}

    def b(state: LogState):
        lib.get_stream_writer()(("tuple", 2))
        return {"log": ["b"]}

    builder = lib.StateGraph(LogState).add_node(a).add_node(b)
    builder.add_edge(lib.START, "a").add_edge("a", "b")
    return Case(builder.compile(), {"log": []}, extra_modes=CUSTOM_MODES)


def case_custom_events_from_subgraph(lib):
    """Custom events inside a subgraph are dropped unless subgraphs=True."""

    def inner(state: LogState):
        lib.get_stream_writer()({"from": "inner"})
        return {"log": ["inner"]}

    sub = lib.StateGraph(LogState).add_node(inner).add_edge(lib.START, "inner").compile()

    def outer(state: LogState):
        lib.get_stream_writer()({"from": "outer"})
        return {"log": ["outer"]}

    builder = lib.StateGraph(LogState).add_node("sub", sub).add_node(outer)
    builder.add_edge(lib.START, "sub").add_edge("sub", "outer")
    return Case(
        builder.compile(),
        {"log": []},
        extra_modes=(*CUSTOM_MODES, "custom@sub", "updates+custom@sub"),
    )


def case_async_custom_writer(lib):
    async def a(state: LogState, writer):
        writer("param")
        await anyio.sleep(0)
        lib.get_stream_writer()("getter")
        return {"log": ["a"]}

    builder = lib.StateGraph(LogState).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []}, is_async=True, extra_modes=CUSTOM_MODES)


def case_interrupt_inside_subgraph(lib):
    """An interrupt raised in a subgraph node surfaces in the parent and resumes there."""
    runs = []

    def ask(state: AskState):
        runs.append("ask")
        return {"answer": lib.interrupt("sub question"), "log": ["ask"]}

    sub = lib.StateGraph(AskState).add_node(ask).add_edge(lib.START, "ask").compile()
    builder = lib.StateGraph(AskState)
    builder.add_node("prep", appender("prep")).add_node("sub", sub)
    builder.add_node("done", appender("done"))
    builder.add_edge(lib.START, "prep").add_edge("prep", "sub").add_edge("sub", "done")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"question": "q", "log": []},
        saver_config(),
        followups=(lib.Command(resume="sub answer"),),
        observe=lambda: list(runs),
        extra_modes=("updates@sub",),
    )


# --------------------------------------------------------------------------------------
# v2 output, Overwrite, runtime context


def case_version_v2(lib):
    return Case(_ab_graph(lib), {"a": "A0"}, kwargs={"version": "v2"})


def case_version_v2_interrupt(lib):
    def ask(state: AskState):
        return {"answer": lib.interrupt("v2?")}

    builder = lib.StateGraph(AskState).add_node(ask).add_edge(lib.START, "ask")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"question": "q"},
        saver_config(),
        followups=(lib.Command(resume="v2!"),),
        kwargs={"version": "v2"},
    )


def case_overwrite_bypasses_reducer(lib):
    def a(state: LogState):
        return {"log": lib.Overwrite(["reset"])}

    builder = log_graph(lib, ["first", "after"]).add_node(a)
    builder.add_edge(lib.START, "first").add_edge("first", "a").add_edge("a", "after")
    return Case(builder.compile(), {"log": ["in"]})


@dataclass
class UserContext:
    user: str
    level: int = 1


def case_runtime_context(lib):
    """invoke(context=dict) is coerced to context_schema; runtime and get_runtime see it."""

    def a(state: LogState, runtime: lib.Runtime[UserContext]):
        ctx = runtime.context
        return {"log": [type(ctx).__name__, ctx.user, ctx.level]}

    def b(state: LogState):
        return {"log": [lib.get_runtime(UserContext).context.user]}

    builder = lib.StateGraph(LogState, context_schema=UserContext).add_node(a).add_node(b)
    builder.add_edge(lib.START, "a").add_edge("a", "b")
    return Case(builder.compile(), {"log": []}, kwargs={"context": {"user": "ann"}})


# --------------------------------------------------------------------------------------
# side effects: re-runs, cancellation, early close


def case_interrupt_node_reruns_from_start(lib):
    """On resume the interrupted node runs again from its first line."""
    runs = []

    def ask(state: AskState):
        runs.append("before interrupt")
        reply = lib.interrupt("again?")
        runs.append(f"after interrupt: {reply}")
        return {"answer": reply}

    builder = lib.StateGraph(AskState).add_node(ask).add_edge(lib.START, "ask")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"question": "q"},
        saver_config(),
        followups=(lib.Command(resume="yes"),),
        observe=lambda: list(runs),
    )


def case_stream_closed_early(lib):
    """Closing the stream after two chunks: later steps never run."""
    ran = []

    def make(name):
        def node(state: LogState):
            ran.append(name)
            return {"log": [name]}

        return node

    builder = lib.StateGraph(LogState)
    for name in ("a", "b", "c", "d"):
        builder.add_node(name, make(name))
    builder.add_edge(lib.START, "a").add_edge("a", "b").add_edge("b", "c").add_edge("c", "d")
    return Case(builder.compile(), {"log": []}, take=2, observe=lambda: list(ran))


def case_async_sibling_cancelled_on_failure(lib):
    """A failing task cancels its in-flight async sibling (whose finally runs)."""
    seen = []

    async def slow(state: LogState):
        seen.append("slow started")
        try:
            await anyio.sleep(5)
            seen.append("slow finished")
        finally:
            seen.append("slow left")
        return {"log": ["slow"]}

    async def boom(state: LogState):
        await anyio.sleep(0.01)
        raise ValueError("boom")

    builder = lib.StateGraph(LogState).add_node(slow).add_node(boom)
    builder.add_edge(lib.START, "slow").add_edge(lib.START, "boom")
    return Case(builder.compile(), {"log": []}, is_async=True, observe=lambda: list(seen))


def case_async_stream_closed_early(lib):
    ran = []

    def make(name):
        async def node(state: LogState):
            ran.append(name)
            await anyio.sleep(0)
            return {"log": [name]}

        return node

    builder = lib.StateGraph(LogState)
    for name in ("a", "b", "c"):
        builder.add_node(name, make(name))
    builder.add_edge(lib.START, "a").add_edge("a", "b").add_edge("b", "c")
    return Case(builder.compile(), {"log": []}, is_async=True, take=1, observe=lambda: list(ran))


# --------------------------------------------------------------------------------------
# state inspection on a checkpointed thread


def _snapshot(graph, config):
    snap = graph.get_state(config)
    return {
        "values": snap.values,
        "next": snap.next,
        "tasks": [(t.name, [i.value for i in t.interrupts]) for t in snap.tasks],
        "interrupts": [i.value for i in snap.interrupts],
        "history": [
            (s.metadata["source"], s.metadata["step"], s.next)
            for s in graph.get_state_history(config)
        ],
    }


def case_get_state_after_interrupt(lib):
    def ask(state: AskState):
        return {"answer": lib.interrupt("state?")}

    builder = log_graph(lib, ["a"], AskState).add_node(ask)
    builder.add_edge(lib.START, "a").add_edge("a", "ask")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(graph, {"log": []}, saver_config(), inspect=_snapshot)


def case_get_state_after_run(lib):
    graph = chain(lib, ["a", "b"]).compile(checkpointer=lib.MemorySaver())
    return Case(graph, {"log": ["in"]}, saver_config(), inspect=_snapshot)


def case_update_state_then_continue(lib):
    """update_state goes through reducers; invoke(None) continues a paused thread."""

    def inspect(graph, config):
        graph.update_state(config, {"log": ["patched"]})
        before = graph.get_state(config)
        graph.invoke(None, config)
        after = graph.get_state(config)
        return {"before": (before.values, before.next), "after": (after.values, after.next)}

    graph = chain(lib, ["a", "b"]).compile(checkpointer=lib.MemorySaver(), interrupt_before=["b"])
    return Case(graph, {"log": []}, saver_config(), inspect=inspect)


def case_get_state_after_failure(lib):
    """After a failed step: next names the failed node, its task carries the error."""

    def boom(state: LogState):
        raise RuntimeError("step failed")

    def inspect(graph, config):
        snap = graph.get_state(config)
        return {
            "values": snap.values,
            "next": snap.next,
            "tasks": [(t.name, t.error) for t in snap.tasks],
        }

    builder = log_graph(lib, ["a"]).add_node(boom)
    builder.add_edge(lib.START, "a").add_edge("a", "boom")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(graph, {"log": []}, saver_config(), inspect=inspect)


def case_durability_exit(lib):
    """durability="exit" changes when checkpoints are written, not what is streamed."""

    def ask(state: AskState):
        return {"answer": lib.interrupt("durable?")}

    builder = log_graph(lib, ["a"], AskState).add_node(ask)
    builder.add_edge(lib.START, "a").add_edge("a", "ask")
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(
        graph,
        {"log": []},
        saver_config(),
        followups=(lib.Command(resume="yes"),),
        kwargs={"durability": "exit"},
    )


# --------------------------------------------------------------------------------------
# more routing and messages


def case_cond_edge_list_with_end(lib):
    def route(state: LogState):
        return ["b", lib.END]

    builder = log_graph(lib, ["a", "b"])
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route)
    return Case(builder.compile(), {"log": []})


def case_command_goto_end(lib):
    def a(state: LogState):
        return lib.Command(goto=lib.END, update={"log": ["a"]})

    builder = lib.StateGraph(LogState).add_node(a).add_node("b", appender("b"))
    builder.add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []})


def case_retry_policy_list(lib):
    """With several policies, the first whose retry_on matches is used."""
    attempts = []

    def flaky(state: LogState):
        attempts.append(1)
        if len(attempts) < 3:
            raise Flaky(f"attempt {len(attempts)}")
        return {"log": [f"attempts={len(attempts)}"]}

    policies = [
        lib.RetryPolicy(retry_on=KeyError, max_attempts=1, initial_interval=0, jitter=False),
        lib.RetryPolicy(retry_on=Flaky, max_attempts=3, initial_interval=0, jitter=False),
    ]
    builder = lib.StateGraph(LogState).add_node(flaky, retry_policy=policies)
    builder.add_edge(lib.START, "flaky")
    return Case(builder.compile(), {"log": []}, observe=lambda: len(attempts))


def case_messages_tuple_and_tool_formats(lib):
    class S(TypedDict):
        messages: Annotated[list, lib.add_messages]

    def tool(state: S):
        return {
            "messages": [
                {"role": "tool", "content": "42", "tool_call_id": "call1"},
                ("assistant", "done"),
            ]
        }

    builder = lib.StateGraph(S).add_node(tool).add_edge(lib.START, "tool")
    return Case(builder.compile(), {"messages": [("user", "hi"), ("system", "be brief")]})


def case_sync_invoke_of_async_node(lib):
    """An async node under the sync API (LangGraph: TypeError); async APIs run it."""

    async def anode(state: LogState):
        await anyio.sleep(0)
        return {"log": ["anode"]}

    builder = lib.StateGraph(LogState).add_node(anode).add_edge(lib.START, "anode")
    return Case(builder.compile(), {"log": []})


def case_interrupt_after_all_nodes(lib):
    graph = chain(lib, ["a", "b"]).compile(checkpointer=lib.MemorySaver(), interrupt_after="*")
    return Case(graph, {"log": []}, saver_config(), followups=(None, None))


# --------------------------------------------------------------------------------------
# inputs and return values in other shapes


def case_pydantic_instance_as_input(lib):
    def check(state: PydState):
        return {"log": [f"x={state.x} label={state.label}"]}

    builder = lib.StateGraph(PydState).add_node(check).add_edge(lib.START, "check")
    return Case(builder.compile(), PydState(x=5, label="given"))


def case_dataclass_instance_as_input(lib):
    def bump(state: DataState):
        return {"x": state.x + 1}

    builder = lib.StateGraph(DataState).add_node(bump).add_edge(lib.START, "bump")
    return Case(builder.compile(), DataState(x=1, note="inst"))


def case_node_returns_state_model_instance(lib):
    """A pydantic-state node may return a model instance as its update."""

    def a(state: PydState):
        return PydState(x=state.x + 1, label="from model")

    builder = lib.StateGraph(PydState).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"x": 1})


def case_input_with_unknown_and_none_keys(lib):
    def a(state: AskState):
        return {"log": [sorted(state.items(), key=str)]}

    builder = lib.StateGraph(AskState).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"question": None, "bogus": 1, "log": []})


def case_node_returns_string(lib):
    def a(state: LogState):
        return "hello"

    builder = lib.StateGraph(LogState).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []})


def case_node_returns_list_of_dicts(lib):
    def a(state: LogState):
        return [{"log": ["x"]}]

    builder = lib.StateGraph(LogState).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []})


def failing_reducer(left: list, right: list) -> list:
    if "bad" in right:
        raise ValueError(f"reducer refused {right}")
    return left + right


class FailingReducerState(TypedDict):
    log: Annotated[list, failing_reducer]


def case_reducer_raises(lib):
    def a(state: FailingReducerState):
        return {"log": ["bad"]}

    builder = lib.StateGraph(FailingReducerState).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": ["ok"]})


def case_router_raises(lib):
    def route(state: LogState):
        raise LookupError("no route")

    builder = log_graph(lib, ["a", "b"])
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route)
    return Case(builder.compile(), {"log": []})


def case_router_returns_empty_list(lib):
    def route(state: LogState):
        return []

    builder = log_graph(lib, ["a", "b"])
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route)
    return Case(builder.compile(), {"log": []})


def case_router_with_config_param(lib):
    def route(state: LogState, config):
        return config["configurable"]["go"]

    builder = log_graph(lib, ["a", "b", "c"])
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route)
    return Case(builder.compile(), {"log": []}, {"configurable": {"go": "c"}})


def case_send_to_unknown_node_ignored(lib):
    def route(state: LogState):
        return [lib.Send("nope", 1), "b"]

    builder = log_graph(lib, ["a", "b"])
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route)
    return Case(builder.compile(), {"log": []})


def case_command_goto_unknown_node_ignored(lib):
    def a(state: LogState):
        return lib.Command(goto="nope", update={"log": ["a"]})

    builder = lib.StateGraph(LogState).add_node(a).add_edge(lib.START, "a")
    return Case(builder.compile(), {"log": []})


def case_static_edge_and_router_to_same_node(lib):
    """An edge and a router both pointing at b in one step trigger b once."""

    def route(state: LogState):
        return "b"

    builder = log_graph(lib, ["a", "b"])
    builder.add_edge(lib.START, "a").add_edge("a", "b").add_conditional_edges("a", route)
    return Case(builder.compile(), {"log": []})


def case_router_sees_command_update(lib):
    def a(state: LogAndValue):
        return lib.Command(update={"value": "right"})

    def route(state: LogAndValue):
        return state["value"]

    builder = log_graph(lib, ["left", "right"], LogAndValue).add_node(a)
    builder.add_edge(lib.START, "a").add_conditional_edges("a", route)
    return Case(builder.compile(), {"log": [], "value": "left"})


class CallableNode:
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __call__(self, state: LogState) -> dict:
        return {"log": [self.tag]}


def case_callable_object_and_partial_nodes(lib):
    import functools

    def tagged(state: LogState, tag: str):
        return {"log": [tag]}

    builder = lib.StateGraph(LogState)
    builder.add_node("obj", CallableNode("object"))
    builder.add_node("part", functools.partial(tagged, tag="partial"))
    builder.add_node("my node", appender("spaced"))
    builder.add_edge(lib.START, "obj").add_edge("obj", "part").add_edge("part", "my node")
    return Case(builder.compile(), {"log": []})


def case_same_function_two_names(lib):
    def shared(state: LogState, config):
        return {"log": [config["metadata"]["langgraph_node"]]}

    builder = lib.StateGraph(LogState).add_node("one", shared).add_node("two", shared)
    builder.add_edge(lib.START, "one").add_edge("one", "two")
    return Case(builder.compile(), {"log": []})


def case_recursion_limit_counts_send_step_once(lib):
    """Twelve Sends are one superstep: limit 2 allows plan + workers, then errors."""

    def plan(state: MapState):
        return {"items": list(range(12))}

    def fan(state: MapState):
        return [lib.Send("worker", {"i": i}) for i in state["items"]]

    def worker(arg: dict):
        return {"results": [arg["i"]]}

    builder = lib.StateGraph(MapState).add_node(plan).add_node(worker)
    builder.add_node("reduce", lambda state: {"total": sum(state["results"])})
    builder.add_edge(lib.START, "plan").add_conditional_edges("plan", fan)
    builder.add_edge("worker", "reduce")
    return Case(builder.compile(), {"items": []}, {"recursion_limit": 2}, parallel=True)


def case_recursion_limit_reaches_subgraph(lib):
    """The caller's recursion_limit applies inside a subgraph node too."""

    def step(state: LoopState):
        return {"n": state["n"] + 1}

    def route(state: LoopState):
        return "step" if state["n"] < 5 else lib.END

    sub = lib.StateGraph(LoopState).add_node(step)
    sub = sub.add_edge(lib.START, "step").add_conditional_edges("step", route).compile()
    builder = lib.StateGraph(LoopState).add_node("sub", sub).add_edge(lib.START, "sub")
    return Case(builder.compile(), {"n": 0}, {"recursion_limit": 3})


def case_error_inside_subgraph(lib):
    def boom(state: LogState):
        raise ZeroDivisionError("inner failure")

    sub = lib.StateGraph(LogState).add_node("ok", appender("ok")).add_node(boom)
    sub = sub.add_edge(lib.START, "ok").add_edge("ok", "boom").compile()
    builder = lib.StateGraph(LogState).add_node("sub", sub).add_edge(lib.START, "sub")
    return Case(builder.compile(), {"log": []}, extra_modes=("updates@sub",))


def case_max_concurrency_respected(lib):
    """config["max_concurrency"] bounds how many tasks of a step run at once."""
    import threading

    lock = threading.Lock()
    running = [0]
    peak = [0]

    def worker(arg: int):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return {"results": [arg]}

    def fan(state: MapState):
        return [lib.Send("worker", i) for i in range(6)]

    builder = lib.StateGraph(MapState).add_node(worker)
    builder.add_conditional_edges(lib.START, fan)
    return Case(
        builder.compile(),
        {"items": []},
        {"max_concurrency": 2},
        parallel=True,
        observe=lambda: peak[0] <= 2,
    )


def case_custom_events_of_failed_retry_attempts(lib):
    """Custom events written by failed attempts are not retracted."""
    attempts = []

    def flaky(state: LogState, writer):
        attempts.append(1)
        writer(f"attempt {len(attempts)}")
        if len(attempts) < 2:
            raise Flaky("again")
        return {"log": ["done"]}

    policy = lib.RetryPolicy(initial_interval=0, jitter=False)
    builder = lib.StateGraph(LogState).add_node(flaky, retry_policy=policy)
    builder.add_edge(lib.START, "flaky")
    return Case(builder.compile(), {"log": []}, extra_modes=CUSTOM_MODES)


def case_interrupt_in_send_task(lib):
    def fan(state: LogState):
        return [lib.Send("ask", "only")]

    def ask(arg: str):
        return {"log": [f"{arg}:{lib.interrupt(f'about {arg}')}"]}

    builder = lib.StateGraph(LogState).add_node(ask)
    builder.add_conditional_edges(lib.START, fan)
    graph = builder.compile(checkpointer=lib.MemorySaver())
    return Case(graph, {"log": []}, saver_config(), followups=(lib.Command(resume="fine"),))


def case_async_interrupt_parallel_resume_map(lib):
    async def ask_a(state: AskState):
        await anyio.sleep(0)
        return {"log": [f"a:{lib.interrupt('ask a')}"]}

    async def ask_b(state: AskState):
        return {"log": [f"b:{lib.interrupt('ask b')}"]}

    builder = lib.StateGraph(AskState).add_node(ask_a).add_node(ask_b)
    builder.add_edge(lib.START, "ask_a").add_edge(lib.START, "ask_b")
    graph = builder.compile(checkpointer=lib.MemorySaver())

    def resume_all(ctx):
        return lib.Command(resume={i.id: f"answer to {i.value}" for i in ctx.interrupts})

    return Case(
        graph,
        {"log": []},
        saver_config(),
        followups=(Followup(resume_all),),
        is_async=True,
        parallel=True,
    )


def case_async_node_uses_runtime_writer(lib):
    async def a(state: LogState, runtime: lib.Runtime[UserContext]):
        runtime.stream_writer({"user": runtime.context.user})
        return {"log": ["a"]}

    builder = lib.StateGraph(LogState, context_schema=UserContext).add_node(a)
    builder.add_edge(lib.START, "a")
    return Case(
        builder.compile(),
        {"log": []},
        kwargs={"context": UserContext(user="bo")},
        is_async=True,
        extra_modes=("custom",),
    )


# --------------------------------------------------------------------------------------
# builder validation: each build_* function performs builder calls; the error raised (or
# none) is compared.


def build_valid_graph(lib):
    chain(lib, ["a", "b"]).compile()


def build_duplicate_node(lib):
    log_graph(lib, ["a"]).add_node("a", appender("a"))


def build_reserved_start_name(lib):
    lib.StateGraph(LogState).add_node(lib.START, appender("x"))


def build_reserved_end_name(lib):
    lib.StateGraph(LogState).add_node(lib.END, appender("x"))


def build_reserved_pipe_character(lib):
    lib.StateGraph(LogState).add_node("a|b", appender("x"))


def build_reserved_colon_character(lib):
    lib.StateGraph(LogState).add_node("a:b", appender("x"))


def build_edge_from_end(lib):
    log_graph(lib, ["a"]).add_edge(lib.END, "a")


def build_edge_to_start(lib):
    log_graph(lib, ["a"]).add_edge("a", lib.START)


def build_no_entrypoint(lib):
    log_graph(lib, ["a"]).compile()


def build_edge_to_unknown_node(lib):
    log_graph(lib, ["a"]).add_edge(lib.START, "a").add_edge("a", "nope").compile()


def build_edge_from_unknown_node(lib):
    log_graph(lib, ["a"]).add_edge(lib.START, "a").add_edge("nope", "a").compile()


def build_join_from_unknown_node(lib):
    builder = log_graph(lib, ["a", "c"]).add_edge(lib.START, "a")
    builder.add_edge(["a", "nope"], "c").compile()


def build_path_map_to_unknown_node(lib):
    builder = log_graph(lib, ["a"]).add_edge(lib.START, "a")
    builder.add_conditional_edges("a", lambda state: "x", {"x": "nope"}).compile()


def build_empty_sequence(lib):
    lib.StateGraph(LogState).add_sequence([])


def build_interrupt_before_unknown_node(lib):
    chain(lib, ["a"]).compile(interrupt_before=["nope"])


def build_get_config_outside_run(lib):
    lib.get_config()


def build_get_stream_writer_outside_run(lib):
    lib.get_stream_writer()


def build_interrupt_outside_run(lib):
    lib.interrupt("nobody listens")


BUILD_CASES: dict[str, Callable[[Any], None]] = {
    name[len("build_") :]: fn
    for name, fn in list(globals().items())
    if name.startswith("build_") and callable(fn)
}


# --------------------------------------------------------------------------------------

CASES: dict[str, Callable[[Any], Case]] = {
    name[len("case_") :]: fn
    for name, fn in list(globals().items())
    if name.startswith("case_") and callable(fn)
}
