"""The benchmark workloads, written once against a ``lib`` namespace (see ``benchlib``).

Each workload builds its graph from ``lib.*`` names only, runs it the way a user would
(``invoke``/``stream`` in sync mode, ``ainvoke``/``astream`` in async modes), and has a
*floor*: a plain-Python loop that calls the same node functions and folds their writes
the same way, without any engine. Sync mode uses sync node functions; the async modes
(asyncio, trio) use async ones. Routing functions are sync everywhere, as most
LangGraph programs write them.

Every ``run_*`` / ``floor_*`` returns ``(seconds, result)``: it times itself, so that
set-up (building the input) and tear-down (closing a stream) stay outside the clock.
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any, TypedDict

import anyio.lowlevel

from benchlib import Lib

__all__ = ["MODES", "Workload", "registry", "workloads"]

MODES = ("sync", "asyncio", "trio")

_thread_ids = itertools.count()
_clock = time.perf_counter


# -- helpers ---------------------------------------------------------------------------


def _count(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _asyncify(fn: Callable[[Any], Any]) -> Callable[[Any], Awaitable[Any]]:
    async def node(state: Any) -> Any:
        return fn(state)

    node.__name__ = fn.__name__
    return node


def _merge_dicts(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {**left, **right}


def _fold(state: dict[str, Any], update: dict[str, Any] | None, reducers: dict[str, Any]) -> None:
    """Apply one node's writes to ``state`` in place, as an engine would."""
    if not update:
        return
    for key, value in update.items():
        reducer = reducers.get(key)
        state[key] = value if reducer is None or key not in state else reducer(state[key], value)


class ValueState(TypedDict):
    value: int


def _increment(state: ValueState) -> dict[str, Any]:
    return {"value": state["value"] + 1}


_aincrement = _asyncify(_increment)


def _chain(lib: Lib, n: int, fn: Any, checkpointer: Any) -> Any:
    builder = lib.StateGraph(ValueState)
    previous = lib.START
    for i in range(n):
        builder.add_node(f"n{i}", fn)
        builder.add_edge(previous, f"n{i}")
        previous = f"n{i}"
    builder.add_edge(previous, lib.END)
    return builder.compile(checkpointer=checkpointer)


# -- the workload protocol -------------------------------------------------------------


class Workload:
    """One scenario: how to build its graph, run it once, and run its floor once."""

    name: str = ""
    group: str = ""
    checkpointer: bool = False
    modes: tuple[str, ...] = MODES
    unit: str = "ms"
    """How a time is shown: "ms" per run, "us" per call (``per_call`` runs per sample)."""
    has_floor: bool = True
    recursion_limit: int = 100

    # subclasses implement these three
    def graph(self, lib: Lib, is_async: bool, checkpointer: Any) -> Any:
        raise NotImplementedError

    def input(self) -> Any:
        raise NotImplementedError

    def check(self, result: Any) -> None:
        """Raise AssertionError unless ``result`` is what the workload must produce."""

    def prepare(self) -> None:
        """Build whatever a run reads but must not pay for (large inputs)."""

    def small(self) -> Workload:
        """A tiny instance of the same scenario: a warm-up that touches the same code
        (lazy imports, caches) without pre-growing the heap to this one's size."""
        return TinyInvoke(1)

    # running -------------------------------------------------------------------------

    @property
    def key(self) -> str:
        return f"{self.name}+ckpt" if self.checkpointer else self.name

    def build(self, lib: Lib, is_async: bool) -> Any:
        return self.graph(lib, is_async, lib.saver() if self.checkpointer else None)

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"recursion_limit": self.recursion_limit}
        if self.checkpointer:
            config["configurable"] = {"thread_id": f"bench-{next(_thread_ids)}"}
        return config

    def run_sync(self, lib: Lib, graph: Any) -> tuple[float, Any]:
        value, config = self.input(), self.config()
        start = _clock()
        result = graph.invoke(value, config)
        return _clock() - start, result

    async def run_async(self, lib: Lib, graph: Any) -> tuple[float, Any]:
        value, config = self.input(), self.config()
        start = _clock()
        result = await graph.ainvoke(value, config)
        return _clock() - start, result

    def floor_sync(self) -> tuple[float, Any]:
        raise NotImplementedError

    async def floor_async(self) -> tuple[float, Any]:
        raise NotImplementedError


# -- sequential chain ------------------------------------------------------------------


class Sequential(Workload):
    group = "sequential"

    def __init__(self, n: int, checkpointer: bool) -> None:
        self.n = n
        self.name = f"sequential_{n}"
        self.checkpointer = checkpointer
        self.recursion_limit = n + 10

    def small(self) -> Workload:
        return Sequential(2, self.checkpointer)

    def graph(self, lib: Lib, is_async: bool, checkpointer: Any) -> Any:
        return _chain(lib, self.n, _aincrement if is_async else _increment, checkpointer)

    def input(self) -> Any:
        return {"value": 0}

    def check(self, result: Any) -> None:
        assert result == {"value": self.n}, result

    def floor_sync(self) -> tuple[float, Any]:
        start = _clock()
        state: dict[str, Any] = {"value": 0}
        for _ in range(self.n):
            _fold(state, _increment(state), {})  # type: ignore[arg-type]
        return _clock() - start, state

    async def floor_async(self) -> tuple[float, Any]:
        start = _clock()
        state: dict[str, Any] = {"value": 0}
        for _ in range(self.n):
            _fold(state, await _aincrement(state), {})
        return _clock() - start, state


# -- a node looping on itself with Command(goto=) ---------------------------------------


def _loop_step(value: int, n: int) -> tuple[dict[str, Any], bool]:
    value += 1
    return {"value": value}, value < n


class CommandGoto(Workload):
    group = "command_goto"

    def __init__(self, n: int, checkpointer: bool) -> None:
        self.n = n
        self.name = f"command_goto_{n}"
        self.checkpointer = checkpointer
        self.recursion_limit = n + 10

    def small(self) -> Workload:
        return CommandGoto(2, self.checkpointer)

    def graph(self, lib: Lib, is_async: bool, checkpointer: Any) -> Any:
        n, command, end = self.n, lib.Command, lib.END

        def loop(state: ValueState) -> Any:
            update, again = _loop_step(state["value"], n)
            return command(update=update, goto="loop" if again else end)

        builder = lib.StateGraph(ValueState)
        builder.add_node("loop", _asyncify(loop) if is_async else loop)
        builder.add_edge(lib.START, "loop")
        return builder.compile(checkpointer=checkpointer)

    def input(self) -> Any:
        return {"value": 0}

    def check(self, result: Any) -> None:
        assert result == {"value": self.n}, result

    def floor_sync(self) -> tuple[float, Any]:
        start = _clock()
        state: dict[str, Any] = {"value": 0}
        again = True
        while again:
            update, again = _loop_step(state["value"], self.n)
            _fold(state, update, {})
        return _clock() - start, state

    async def floor_async(self) -> tuple[float, Any]:
        async def loop(state: dict[str, Any]) -> tuple[dict[str, Any], bool]:
            return _loop_step(state["value"], self.n)

        start = _clock()
        state: dict[str, Any] = {"value": 0}
        again = True
        while again:
            update, again = await loop(state)
            _fold(state, update, {})
        return _clock() - start, state


# -- fan-out of Sends to a subgraph ----------------------------------------------------


class FanoutState(TypedDict):
    subjects: list[str]
    results: Annotated[list[str], operator.add]


class SubjectState(TypedDict):
    subject: str
    results: Annotated[list[str], operator.add]


def _edit(state: SubjectState) -> dict[str, Any]:
    return {"subject": state["subject"].title() + "!"}


def _draft(state: SubjectState) -> dict[str, Any]:
    return {"results": [f"a note about {state['subject']}"]}


def _review(state: SubjectState) -> dict[str, Any]:
    return {"results": [f"reviewed {len(state['results'])} note(s) on {state['subject']}"]}


_SUBGRAPH_NODES = (("edit", _edit), ("draft", _draft), ("review", _review))
_ASYNC_SUBGRAPH_NODES = tuple((name, _asyncify(fn)) for name, fn in _SUBGRAPH_NODES)
_RESULT_REDUCERS = {"results": operator.add}


class Fanout(Workload):
    group = "fanout"

    def __init__(self, n: int, checkpointer: bool) -> None:
        self.n = n
        self.name = f"fanout_{n}"
        self.checkpointer = checkpointer

    def small(self) -> Workload:
        return Fanout(1, self.checkpointer)

    def graph(self, lib: Lib, is_async: bool, checkpointer: Any) -> Any:
        sub = lib.StateGraph(SubjectState)
        previous = lib.START
        for name, fn in _ASYNC_SUBGRAPH_NODES if is_async else _SUBGRAPH_NODES:
            sub.add_node(name, fn)
            sub.add_edge(previous, name)
            previous = name
        sub.add_edge(previous, lib.END)
        send = lib.Send

        def fan_out(state: FanoutState) -> list[Any]:
            return [send("subject", {"subject": s}) for s in state["subjects"]]

        builder = lib.StateGraph(FanoutState)
        builder.add_node("subject", sub.compile())
        builder.add_conditional_edges(lib.START, fan_out, ["subject"])
        builder.add_edge("subject", lib.END)
        return builder.compile(checkpointer=checkpointer)

    def input(self) -> Any:
        return {"subjects": [f"subject {i}" for i in range(self.n)], "results": []}

    def check(self, result: Any) -> None:
        assert len(result["results"]) == 2 * self.n, len(result["results"])

    def floor_sync(self) -> tuple[float, Any]:
        value = self.input()
        start = _clock()
        state: dict[str, Any] = dict(value)
        for subject in state["subjects"]:
            sub: dict[str, Any] = {"subject": subject}
            for _, fn in _SUBGRAPH_NODES:
                _fold(sub, fn(sub), _RESULT_REDUCERS)  # type: ignore[arg-type]
            _fold(state, {"results": sub["results"]}, _RESULT_REDUCERS)
        return _clock() - start, state

    async def floor_async(self) -> tuple[float, Any]:
        value = self.input()
        start = _clock()
        state: dict[str, Any] = dict(value)
        for subject in state["subjects"]:
            sub: dict[str, Any] = {"subject": subject}
            for _, fn in _ASYNC_SUBGRAPH_NODES:
                _fold(sub, await fn(sub), _RESULT_REDUCERS)
            _fold(state, {"results": sub["results"]}, _RESULT_REDUCERS)
        return _clock() - start, state


# -- wide state (lists) and wide dict --------------------------------------------------

_WIDE_STEPS = 5
_wide_schemas: dict[tuple[str, int], Any] = {}


def _wide_schema(kind: str, keys: int) -> Any:
    """A TypedDict with ``keys`` keys, each a list (``operator.add``) or a dict (merged)."""
    cached = _wide_schemas.get((kind, keys))
    if cached is None:
        value_type = (
            Annotated[list[dict[str, Any]], operator.add]
            if kind == "list"
            else Annotated[dict[str, dict[str, Any]], _merge_dicts]
        )
        fields = {f"k{i}": value_type for i in range(keys)}
        cached = TypedDict(f"Wide{kind.title()}State{keys}", fields)  # type: ignore[operator]
        _wide_schemas[(kind, keys)] = cached
    return cached


def _entry(i: int, origin: str) -> dict[str, Any]:
    return {"id": i, "origin": origin, "text": f"entry {i} from {origin}", "score": i * 0.5}


class Wide(Workload):
    """``keys`` state keys × ``entries`` entries each; ``_WIDE_STEPS`` nodes in a chain
    each add one entry to every key (a reducer folds it in)."""

    def __init__(self, kind: str, keys: int, entries: int, checkpointer: bool) -> None:
        self.kind = kind
        self.keys = keys
        self.entries = entries
        self.group = "wide_state" if kind == "list" else "wide_dict"
        self.name = f"{self.group}_{keys}x{entries}"
        self.checkpointer = checkpointer
        self._names = [f"k{i}" for i in range(keys)]
        self._reducers = dict.fromkeys(
            self._names, operator.add if kind == "list" else _merge_dicts
        )
        self._input: dict[str, Any] | None = None
        self._nodes = [self._node(step) for step in range(_WIDE_STEPS)]
        self._async_nodes = [_asyncify(fn) for fn in self._nodes]

    def small(self) -> Workload:
        return Wide(self.kind, 2, 2, self.checkpointer)

    def _make_input(self) -> dict[str, Any]:
        if self.kind == "list":
            return {k: [_entry(i, k) for i in range(self.entries)] for k in self._names}
        return {k: {f"e{i}": _entry(i, k) for i in range(self.entries)} for k in self._names}

    def _node(self, step: int) -> Callable[[Any], dict[str, Any]]:
        names, kind = self._names, self.kind
        entry = _entry(self.entries + step, f"w{step}")

        def node(state: Any) -> dict[str, Any]:
            if kind == "list":
                return {k: [entry] for k in names if state[k]}
            return {k: {f"w{step}": entry} for k in names if state[k]}

        node.__name__ = f"w{step}"
        return node

    def graph(self, lib: Lib, is_async: bool, checkpointer: Any) -> Any:
        builder = lib.StateGraph(_wide_schema(self.kind, self.keys))
        previous = lib.START
        for step, fn in enumerate(self._async_nodes if is_async else self._nodes):
            builder.add_node(f"w{step}", fn)
            builder.add_edge(previous, f"w{step}")
            previous = f"w{step}"
        builder.add_edge(previous, lib.END)
        return builder.compile(checkpointer=checkpointer)

    def prepare(self) -> None:
        if self._input is None:  # built on first use: twelve of these would hold ~40 MB
            self._input = self._make_input()

    def input(self) -> Any:
        self.prepare()
        return self._input

    def check(self, result: Any) -> None:
        assert len(result) == self.keys, len(result)
        for value in result.values():
            assert len(value) == self.entries + _WIDE_STEPS, len(value)

    def floor_sync(self) -> tuple[float, Any]:
        value = self.input()
        start = _clock()
        state = dict(value)
        for fn in self._nodes:
            _fold(state, fn(state), self._reducers)
        return _clock() - start, state

    async def floor_async(self) -> tuple[float, Any]:
        value = self.input()
        start = _clock()
        state = dict(value)
        for fn in self._async_nodes:
            _fold(state, await fn(state), self._reducers)
        return _clock() - start, state


# -- ReAct-style agent loop: fake model and tools, add_messages ------------------------


def _tool_calls(message: Any) -> Any:
    if isinstance(message, dict):
        return message.get("tool_calls")
    return getattr(message, "tool_calls", None)


def _fake_model(messages: list[Any], turns: int) -> dict[str, Any]:
    turn = (len(messages) - 1) // 2
    if turn >= turns:
        return {"role": "assistant", "content": f"done after {turn} tool calls", "id": "ai-end"}
    call = {"id": f"call-{turn}", "name": "search", "args": {"query": f"q{turn}"}}
    return {
        "role": "assistant",
        "content": "",
        "id": f"ai-{turn}",
        "tool_calls": [{**call, "type": "tool_call"}],
    }


def _fake_tools(message: Any) -> list[dict[str, Any]]:
    return [
        {
            "role": "tool",
            "content": f"results for {call['args']['query']}",
            "tool_call_id": call["id"],
            "id": f"tool-{call['id']}",
        }
        for call in _tool_calls(message)
    ]


class React(Workload):
    group = "react"

    def __init__(self, turns: int, checkpointer: bool) -> None:
        self.turns = turns
        self.name = f"react_{turns}"
        self.checkpointer = checkpointer
        self.recursion_limit = 2 * turns + 10

    def small(self) -> Workload:
        return React(1, self.checkpointer)

    def graph(self, lib: Lib, is_async: bool, checkpointer: Any) -> Any:
        turns, end = self.turns, lib.END
        # functional form: the reducer comes from ``lib``, so a class body's (string)
        # annotation could not be resolved
        state_type = TypedDict(  # type: ignore[operator]  # noqa: UP013
            "AgentState", {"messages": Annotated[list[Any], lib.add_messages]}
        )

        def model(state: Any) -> dict[str, Any]:
            return {"messages": [_fake_model(state["messages"], turns)]}

        def tools(state: Any) -> dict[str, Any]:
            return {"messages": _fake_tools(state["messages"][-1])}

        def should_continue(state: Any) -> str:
            return "tools" if _tool_calls(state["messages"][-1]) else end

        builder = lib.StateGraph(state_type)
        builder.add_node("model", _asyncify(model) if is_async else model)
        builder.add_node("tools", _asyncify(tools) if is_async else tools)
        builder.add_edge(lib.START, "model")
        builder.add_conditional_edges("model", should_continue, ["tools", end])
        builder.add_edge("tools", "model")
        return builder.compile(checkpointer=checkpointer)

    def input(self) -> Any:
        return {"messages": [{"role": "user", "content": "find it", "id": "user-0"}]}

    def check(self, result: Any) -> None:
        assert len(result["messages"]) == 2 * self.turns + 2, len(result["messages"])

    def _floor(self) -> Iterator[tuple[str, list[Any]]]:
        messages: list[Any] = list(self.input()["messages"])
        while True:
            yield "model", messages
            message = _fake_model(messages, self.turns)
            messages.append(message)
            if not _tool_calls(message):
                return
            yield "tools", messages
            messages.extend(_fake_tools(message))

    def floor_sync(self) -> tuple[float, Any]:
        start = _clock()
        messages: list[Any] = []
        for _, current in self._floor():
            messages = current
        return _clock() - start, {"messages": messages}

    async def floor_async(self) -> tuple[float, Any]:
        async def step(messages: list[Any]) -> list[Any]:
            return messages

        start = _clock()
        messages: list[Any] = []
        for _, current in self._floor():
            messages = await step(current)
        return _clock() - start, {"messages": messages}


# -- streaming 100,000 custom chunks from one node ------------------------------------


class StreamCustom(Workload):
    group = "stream_custom"

    def __init__(self, n: int) -> None:
        self.n = n
        self.name = f"stream_custom_{_count(n)}"

    def small(self) -> Workload:
        return type(self)(10)

    def graph(self, lib: Lib, is_async: bool, checkpointer: Any) -> Any:
        n, get_writer = self.n, lib.get_stream_writer

        def produce(state: ValueState) -> dict[str, Any]:
            writer = get_writer()
            for i in range(n):
                writer(i)
            return {"value": n}

        async def aproduce(state: ValueState) -> dict[str, Any]:
            writer = get_writer()
            for i in range(n):
                writer(i)
            return {"value": n}

        builder = lib.StateGraph(ValueState)
        builder.add_node("produce", aproduce if is_async else produce)
        builder.add_edge(lib.START, "produce")
        builder.add_edge("produce", lib.END)
        return builder.compile(checkpointer=checkpointer)

    def input(self) -> Any:
        return {"value": 0}

    def check(self, result: Any) -> None:
        assert result == self.n, result

    def run_sync(self, lib: Lib, graph: Any) -> tuple[float, Any]:
        count = 0
        start = _clock()
        for _ in graph.stream({"value": 0}, stream_mode="custom"):
            count += 1
        return _clock() - start, count

    async def run_async(self, lib: Lib, graph: Any) -> tuple[float, Any]:
        count = 0
        start = _clock()
        async for _ in graph.astream({"value": 0}, stream_mode="custom"):
            count += 1
        return _clock() - start, count

    def floor_sync(self) -> tuple[float, Any]:
        def produce() -> Iterator[int]:
            yield from range(self.n)

        count = 0
        start = _clock()
        for _ in produce():
            count += 1
        return _clock() - start, count

    async def floor_async(self) -> tuple[float, Any]:
        async def produce() -> Any:
            for i in range(self.n):
                yield i

        count = 0
        start = _clock()
        async for _ in produce():
            count += 1
        return _clock() - start, count


class SlowConsumer(StreamCustom):
    """``n`` custom chunks from an async node that yields between chunks (as a token
    stream does), read by a consumer that also yields between chunks. Memory, not
    speed, is the point: a bounded stream keeps the growth flat."""

    group = "slow_consumer"
    modes = ("asyncio", "trio")

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.name = f"slow_consumer_{_count(n)}"

    def graph(self, lib: Lib, is_async: bool, checkpointer: Any) -> Any:
        n, get_writer = self.n, lib.get_stream_writer

        async def produce(state: ValueState) -> dict[str, Any]:
            writer = get_writer()
            for i in range(n):
                writer(i)
                await anyio.lowlevel.checkpoint()
            return {"value": n}

        builder = lib.StateGraph(ValueState)
        builder.add_node("produce", produce)
        builder.add_edge(lib.START, "produce")
        builder.add_edge("produce", lib.END)
        return builder.compile()

    async def run_async(self, lib: Lib, graph: Any) -> tuple[float, Any]:
        count = 0
        start = _clock()
        async for _ in graph.astream({"value": 0}, stream_mode="custom"):
            count += 1
            await anyio.lowlevel.checkpoint()
        return _clock() - start, count

    async def floor_async(self) -> tuple[float, Any]:
        async def produce() -> Any:
            for i in range(self.n):
                yield i
                await anyio.lowlevel.checkpoint()

        count = 0
        start = _clock()
        async for _ in produce():
            count += 1
            await anyio.lowlevel.checkpoint()
        return _clock() - start, count


# -- a 2-node graph invoked many times -------------------------------------------------


class TinyInvoke(Workload):
    group = "tiny_invoke"
    unit = "us"

    def __init__(self, calls: int) -> None:
        self.calls = calls
        self.name = f"tiny_invoke_x{calls}"

    def graph(self, lib: Lib, is_async: bool, checkpointer: Any) -> Any:
        return _chain(lib, 2, _aincrement if is_async else _increment, checkpointer)

    def check(self, result: Any) -> None:
        assert result == {"value": 2}, result

    def run_sync(self, lib: Lib, graph: Any) -> tuple[float, Any]:
        invoke, value = graph.invoke, {"value": 0}
        result = None
        start = _clock()
        for _ in range(self.calls):
            result = invoke(value)
        return (_clock() - start) / self.calls, result

    async def run_async(self, lib: Lib, graph: Any) -> tuple[float, Any]:
        ainvoke, value = graph.ainvoke, {"value": 0}
        result = None
        start = _clock()
        for _ in range(self.calls):
            result = await ainvoke(value)
        return (_clock() - start) / self.calls, result

    def floor_sync(self) -> tuple[float, Any]:
        state: dict[str, Any] = {}
        start = _clock()
        for _ in range(self.calls):
            state = {"value": 0}
            _fold(state, _increment(state), {})  # type: ignore[arg-type]
            _fold(state, _increment(state), {})  # type: ignore[arg-type]
        return (_clock() - start) / self.calls, state

    async def floor_async(self) -> tuple[float, Any]:
        state: dict[str, Any] = {}
        start = _clock()
        for _ in range(self.calls):
            state = {"value": 0}
            _fold(state, await _aincrement(state), {})
            _fold(state, await _aincrement(state), {})
        return (_clock() - start) / self.calls, state


# -- first chunk of a long chain -------------------------------------------------------


class FirstChunk(Workload):
    """Time from ``stream()`` to the first ``updates`` chunk of an ``n``-node chain."""

    group = "first_chunk"
    has_floor = False

    def __init__(self, n: int) -> None:
        self.n = n
        self.name = f"first_chunk_{n}"
        self.recursion_limit = n + 10

    def graph(self, lib: Lib, is_async: bool, checkpointer: Any) -> Any:
        return _chain(lib, self.n, _aincrement if is_async else _increment, checkpointer)

    def check(self, result: Any) -> None:
        assert result == {"n0": {"value": 1}}, result

    def run_sync(self, lib: Lib, graph: Any) -> tuple[float, Any]:
        config = self.config()
        start = _clock()
        stream = graph.stream({"value": 0}, config, stream_mode="updates")
        first = next(stream)
        elapsed = _clock() - start
        stream.close()
        return elapsed, first

    async def run_async(self, lib: Lib, graph: Any) -> tuple[float, Any]:
        config = self.config()
        start = _clock()
        stream = graph.astream({"value": 0}, config, stream_mode="updates")
        first = await stream.__anext__()
        elapsed = _clock() - start
        await stream.aclose()
        return elapsed, first


# -- compile time ----------------------------------------------------------------------


class Compile(Workload):
    """Building and compiling another workload's graph (sync node functions)."""

    group = "compile"
    modes = ("sync",)
    has_floor = False

    def __init__(self, target: Workload) -> None:
        self.target = target
        self.name = f"compile_{target.name}"

    def build(self, lib: Lib, is_async: bool) -> Any:
        return None

    def check(self, result: Any) -> None:
        assert result is not None

    def run_sync(self, lib: Lib, graph: Any) -> tuple[float, Any]:
        start = _clock()
        compiled = self.target.graph(lib, False, None)
        return _clock() - start, compiled


# -- the list ----------------------------------------------------------------------------

WIDE_SIZES = ((25, 300), (15, 600), (9, 1200))


def workloads(quick: bool = False) -> list[Workload]:
    """Every workload, in table order. ``quick`` shrinks the long ones (same list)."""
    if quick:
        long, fan, turns, chunks, calls = 200, 30, 30, 5_000, 200
    else:
        long, fan, turns, chunks, calls = 1000, 100, 100, 100_000, 1000
    out: list[Workload] = []
    for checkpointer in (False, True):
        out += [Sequential(10, checkpointer), Sequential(long, checkpointer)]
        out.append(CommandGoto(long, checkpointer))
        out += [Fanout(10, checkpointer), Fanout(fan, checkpointer)]
        out += [Wide("list", k, e, checkpointer) for k, e in WIDE_SIZES]
        out += [Wide("dict", k, e, checkpointer) for k, e in WIDE_SIZES]
        out += [React(10, checkpointer), React(turns, checkpointer)]
    out.append(StreamCustom(chunks))
    out.append(TinyInvoke(calls))
    out.append(FirstChunk(long))
    out += [Compile(Sequential(n, False)) for n in (10, long)]
    out += [Compile(Fanout(fan, False)), Compile(React(turns, False))]
    out.append(Compile(Wide("list", *WIDE_SIZES[0], False)))
    return out


def slow_consumers(quick: bool = False) -> list[Workload]:
    return [SlowConsumer(5_000 if quick else 100_000)]


def registry(quick: bool = False) -> dict[str, Workload]:
    """Every workload by key (name, plus ``+ckpt`` for the checkpointed variant)."""
    return {w.key: w for w in [*workloads(quick), *slow_consumers(quick)]}
