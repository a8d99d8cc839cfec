"""Node call shapes: what a node may take (``state``, ``config``, ``writer``,
``runtime`` by name), sync and async callables of every form, the ambient accessors
(``get_config()``, ``get_stream_writer()``, ``get_runtime()``) on both backends and
every Python version, worker threads for sync nodes, and graphs inside graphs."""

from __future__ import annotations

import dataclasses
import functools
import operator
import threading
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from typing_extensions import TypedDict

from stepgraph import (
    START,
    RunnableConfig,
    Runtime,
    StateGraph,
    get_config,
    get_runtime,
    get_stream_writer,
)
from stepgraph.types import StreamWriter

pytestmark = pytest.mark.anyio


class State(TypedDict, total=False):
    x: int
    log: Annotated[list[Any], operator.add]


@dataclasses.dataclass
class Ctx:
    user: str
    level: int = 0


async def collect(stream: Any) -> list[Any]:
    async with stream as chunks:
        return [chunk async for chunk in chunks]


def single(name: str, fn: Any, **kwargs: Any) -> Any:
    return (
        StateGraph(State, context_schema=Ctx)
        .add_node(name, fn, **kwargs)
        .add_edge(START, name)
        .compile()
    )


RUN_CONFIG: dict[str, Any] = {
    "configurable": {"user_key": "k"},
    "tags": ["t1"],
    "metadata": {"run": "md"},
}


# -- injected parameters --------------------------------------------------------------------


def _check_config(config: Any, node: str, task_id: str) -> None:
    assert config["configurable"]["user_key"] == "k"
    assert config["configurable"]["checkpoint_ns"] == f"{node}:{task_id}"
    assert config["tags"] == ["t1"]
    assert config["metadata"] == {
        "run": "md",
        "m": 1,
        "langgraph_step": 1,
        "langgraph_node": node,
        "langgraph_triggers": (f"branch:to:{node}",),
        "langgraph_path": ("__pregel_pull", node),
        "langgraph_checkpoint_ns": f"{node}:{task_id}",
    }


async def _run_with_task_id(graph: Any, **kwargs: Any) -> tuple[list[Any], str]:
    chunks = await collect(
        graph.astream({"x": 1}, RUN_CONFIG, stream_mode=["tasks", "custom", "updates"], **kwargs)
    )
    task_ids = {c["id"] for mode, c in chunks if mode == "tasks"}
    (task_id,) = task_ids
    return [c for c in chunks if c[0] != "tasks"], task_id


async def test_sync_node_gets_config_writer_and_runtime_by_name() -> None:
    seen: dict[str, Any] = {}

    def node(state: State, config: RunnableConfig, writer: StreamWriter, runtime: Runtime[Ctx]):
        seen.update(state=state, config=config, runtime=runtime)
        writer({"n": 1})
        runtime.stream_writer("via runtime")
        return {"x": state["x"] + 1}

    graph = single("node", node, metadata={"m": 1})
    chunks, task_id = await _run_with_task_id(graph, context={"user": "u"})
    assert chunks == [
        ("custom", {"n": 1}),
        ("custom", "via runtime"),
        ("updates", {"node": {"x": 2}}),
    ]
    assert seen["state"] == {"x": 1, "log": []}
    _check_config(seen["config"], "node", task_id)
    assert seen["runtime"].context == Ctx(user="u")  # dict coerced to the context schema


async def test_async_node_gets_keyword_only_injections_without_annotations() -> None:
    seen: dict[str, Any] = {}

    async def node(state, *, config, writer, runtime):  # type: ignore[no-untyped-def]
        seen.update(config=config, runtime=runtime)
        writer("w")
        return {"x": 5}

    graph = single("node", node, metadata={"m": 1})
    chunks, task_id = await _run_with_task_id(graph, context=Ctx(user="direct", level=2))
    assert chunks == [("custom", "w"), ("updates", {"node": {"x": 5}})]
    _check_config(seen["config"], "node", task_id)
    assert seen["runtime"].context == Ctx(user="direct", level=2)


async def test_only_declared_parameters_are_injected() -> None:
    calls: list[tuple[Any, ...]] = []

    def state_only(state: State) -> None:
        calls.append(("state_only", state))

    def with_config(state: State, config: RunnableConfig) -> None:
        calls.append(("with_config", config["metadata"]["langgraph_node"]))

    def with_kwargs(state: State, **kwargs: Any) -> None:
        calls.append(("with_kwargs", sorted(kwargs)))

    graph = (
        StateGraph(State)
        .add_node(state_only)
        .add_node(with_config)
        .add_node(with_kwargs)
        .add_edge(START, "state_only")
        .add_edge(START, "with_config")
        .add_edge(START, "with_kwargs")
        .compile()
    )
    await graph.ainvoke({"x": 1})
    assert sorted(calls, key=str) == sorted(
        [
            ("state_only", {"x": 1, "log": []}),
            ("with_config", "with_config"),
            ("with_kwargs", []),
        ],
        key=str,
    )


async def test_writer_is_a_no_op_when_custom_is_not_streamed() -> None:
    def node(state: State, writer: StreamWriter) -> dict[str, Any]:
        writer("ignored")
        get_stream_writer()("ignored too")
        return {"x": 1}

    graph = single("node", node)
    assert await collect(graph.astream({}, stream_mode="updates")) == [{"node": {"x": 1}}]
    assert await graph.ainvoke({}) == {"x": 1, "log": []}


# -- every callable form, sync and async ---------------------------------------------------


async def async_tagged(state: State, tag: str) -> dict[str, Any]:
    await anyio.lowlevel.checkpoint()
    return {"log": [f"apartial:{tag}"]}


def sync_tagged(state: State, tag: str, config: RunnableConfig) -> dict[str, Any]:
    return {"log": [f"partial:{tag}:{config['metadata']['langgraph_node']}"]}


class AsyncCallable:
    async def __call__(self, state: State) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        return {"log": ["async_obj"]}


class SyncCallable:
    def __call__(self, state: State, writer: StreamWriter) -> dict[str, Any]:
        writer("sync_obj")
        return {"log": ["sync_obj"]}


class Methods:
    async def amethod(self, state: State) -> dict[str, Any]:
        return {"log": ["amethod"]}

    def method(self, state: State, config: RunnableConfig) -> dict[str, Any]:
        return {"log": [f"method:{config['metadata']['langgraph_step']}"]}


async def test_every_callable_form_runs_sync_and_async() -> None:
    obj = Methods()

    async def afn(state: State) -> dict[str, Any]:
        return {"log": ["afn"]}

    def fn(state: State) -> dict[str, Any]:
        return {"log": ["fn"]}

    forms: dict[str, Any] = {
        "a1": afn,
        "a2": functools.partial(async_tagged, tag="p"),
        "a3": AsyncCallable(),
        "a4": obj.amethod,
        "s1": fn,
        "s2": functools.partial(sync_tagged, tag="p"),
        "s3": SyncCallable(),
        "s4": obj.method,
        "s5": lambda state: {"log": ["lambda"]},
    }
    builder = StateGraph(State)
    for name, form in forms.items():
        builder.add_node(name, form).add_edge(START, name)
    graph = builder.compile()
    chunks = await collect(graph.astream({}, stream_mode=["custom", "values"]))
    assert chunks[-1] == (
        "values",
        {
            "log": [
                "afn",
                "apartial:p",
                "async_obj",
                "amethod",
                "fn",
                "partial:p:s2",
                "sync_obj",
                "method:1",
                "lambda",
            ]
        },
    )
    assert ("custom", "sync_obj") in chunks


async def test_async_nodes_run_on_the_loop_and_sync_nodes_in_worker_threads() -> None:
    loop_thread = threading.get_ident()
    threads: dict[str, int] = {}

    async def on_loop(state: State) -> None:
        threads["async"] = threading.get_ident()

    def in_thread(state: State) -> None:
        threads["sync"] = threading.get_ident()

    graph = (
        StateGraph(State)
        .add_node(on_loop)
        .add_node(in_thread)
        .add_edge(START, "on_loop")
        .add_edge("on_loop", "in_thread")  # a step with one sync task: still a thread
        .compile()
    )
    await graph.ainvoke({})
    assert threads["async"] == loop_thread
    assert threads["sync"] != loop_thread


# -- ambient accessors ---------------------------------------------------------------------


async def test_get_config_writer_runtime_inside_async_nodes_and_their_child_tasks() -> None:
    seen: dict[str, Any] = {}

    async def child(key: str) -> None:
        await anyio.lowlevel.checkpoint()
        seen[key] = get_config()["metadata"]["langgraph_node"]
        get_stream_writer()(f"from {key}")

    async def node(state: State) -> dict[str, Any]:
        seen["node"] = get_config()["metadata"]["langgraph_node"]
        seen["runtime"] = get_runtime(Ctx)
        get_stream_writer()("from node")
        async with anyio.create_task_group() as tg:
            tg.start_soon(child, "child")
        return {"x": 1}

    graph = single("anode", node)
    chunks = await collect(
        graph.astream({}, stream_mode=["custom", "updates"], context={"user": "u"})
    )
    assert chunks == [
        ("custom", "from node"),
        ("custom", "from child"),
        ("updates", {"anode": {"x": 1}}),
    ]
    assert seen["node"] == seen["child"] == "anode"
    assert seen["runtime"].context == Ctx(user="u")


async def test_get_config_writer_runtime_inside_sync_nodes_in_worker_threads() -> None:
    seen: dict[str, Any] = {}

    def node(state: State) -> dict[str, Any]:
        seen["thread"] = threading.get_ident()
        seen["node"] = get_config()["metadata"]["langgraph_node"]
        seen["runtime"] = get_runtime()
        writer = get_stream_writer()
        for i in range(3):
            writer(i)
        return {"x": 1}

    graph = single("snode", node)
    chunks = await collect(
        graph.astream({}, stream_mode=["custom", "updates"], context=Ctx(user="s"))
    )
    assert chunks == [
        ("custom", 0),
        ("custom", 1),
        ("custom", 2),
        ("updates", {"snode": {"x": 1}}),
    ]
    assert seen["thread"] != threading.get_ident()
    assert seen["node"] == "snode"
    assert seen["runtime"].context == Ctx(user="s")


async def test_get_config_in_parallel_nodes_sees_each_nodes_own_config() -> None:
    seen: dict[str, str] = {}
    both_started = anyio.Event()
    started: list[str] = []

    async def node(state: State) -> None:
        name = get_config()["metadata"]["langgraph_node"]
        started.append(name)
        if len(started) == 2:
            both_started.set()
        await both_started.wait()  # interleave: each reads after the other started
        seen[name] = get_config()["metadata"]["langgraph_node"]

    graph = (
        StateGraph(State)
        .add_node("left", node)
        .add_node("right", node)
        .add_edge(START, "left")
        .add_edge(START, "right")
        .compile()
    )
    await graph.ainvoke({})
    assert seen == {"left": "left", "right": "right"}


async def test_get_config_in_a_conditional_edge() -> None:
    seen: list[str] = []

    def route(state: State) -> str:
        seen.append(get_config()["metadata"]["langgraph_node"])
        return "b"

    graph = (
        StateGraph(State)
        .add_node("a", lambda s: {"log": ["a"]})
        .add_node("b", lambda s: {"log": ["b"]})
        .add_edge(START, "a")
        .add_conditional_edges("a", route)
        .compile()
    )
    assert await graph.ainvoke({}) == {"log": ["a", "b"]}
    assert seen == ["a"]


def test_accessors_outside_a_run_raise_runtime_error() -> None:
    fix = (
        "it works only inside a node (or code a node calls) while the graph runs. Outside a "
        "run, pass what you need explicitly; inside a node you can also declare a `config` or "
        "`writer` parameter."
    )
    with pytest.raises(RuntimeError) as info:
        get_config()
    assert str(info.value) == f"Called get_config outside of a runnable context: {fix}"
    with pytest.raises(RuntimeError) as info:
        get_stream_writer()
    assert str(info.value) == f"Called get_stream_writer outside of a runnable context: {fix}"
    with pytest.raises(RuntimeError) as info:
        get_runtime()
    assert str(info.value) == (
        "Called get_runtime outside of a runnable context: call it from a node while the "
        "graph runs, or declare a `runtime` parameter on the node."
    )


def test_accessors_work_in_the_sync_api() -> None:
    seen: list[Any] = []

    async def anode(state: State) -> dict[str, Any]:
        seen.append(get_config()["configurable"]["user_key"])
        get_stream_writer()("async")
        return {"x": 1}

    def snode(state: State) -> dict[str, Any]:
        seen.append(get_runtime().context)
        get_stream_writer()("sync")
        return {"log": ["s"]}

    graph = (
        StateGraph(State, context_schema=Ctx)
        .add_node(anode)
        .add_node(snode)
        .add_edge(START, "anode")
        .add_edge("anode", "snode")
        .compile()
    )
    chunks = list(graph.stream({}, RUN_CONFIG, stream_mode="custom", context={"user": "u"}))
    assert chunks == ["async", "sync"]
    assert seen == ["k", Ctx(user="u")]


async def test_context_is_coerced_and_shared_by_every_node() -> None:
    seen: list[Any] = []

    def a(state: State, runtime: Runtime[Ctx]) -> None:
        seen.append(runtime.context)

    async def b(state: State) -> None:
        seen.append(get_runtime(Ctx).context)

    graph = (
        StateGraph(State, context_schema=Ctx)
        .add_node(a)
        .add_node(b)
        .add_edge(START, "a")
        .add_edge("a", "b")
        .compile()
    )
    await graph.ainvoke({}, context={"user": "x", "level": 3})
    assert seen == [Ctx(user="x", level=3), Ctx(user="x", level=3)]
    seen.clear()
    await graph.ainvoke({})
    assert seen == [None, None]


# -- sync nodes in worker threads ------------------------------------------------------------


async def test_parallel_sync_nodes_overlap_in_worker_threads() -> None:
    barrier = threading.Barrier(2, timeout=5)
    threads: dict[str, int] = {}

    def meet(name: str) -> Any:
        def node(state: State) -> dict[str, Any]:
            threads[name] = threading.get_ident()
            barrier.wait()  # both must be running at once, or this times out
            return {"log": [name]}

        return node

    graph = (
        StateGraph(State)
        .add_node("one", meet("one"))
        .add_node("two", meet("two"))
        .add_edge(START, "one")
        .add_edge(START, "two")
        .compile()
    )
    assert await graph.ainvoke({}) == {"log": ["one", "two"]}
    assert threads["one"] != threads["two"]


async def test_a_running_sync_node_does_not_block_the_event_loop() -> None:
    released = threading.Event()
    progress: list[int] = []

    def blocking(state: State) -> dict[str, Any]:
        # waits for the async sibling, which can only run if the loop is free
        assert released.wait(timeout=5), "the event loop was blocked by a sync node"
        return {"log": ["blocking"]}

    async def sibling(state: State) -> dict[str, Any]:
        for i in range(20):
            progress.append(i)
            await anyio.lowlevel.checkpoint()
        released.set()
        return {"log": ["sibling"]}

    graph = (
        StateGraph(State)
        .add_node(blocking)
        .add_node(sibling)
        .add_edge(START, "blocking")
        .add_edge(START, "sibling")
        .compile()
    )
    try:
        assert await graph.ainvoke({}) == {"log": ["blocking", "sibling"]}
    finally:
        released.set()
    assert progress == list(range(20))


def test_parallel_sync_nodes_overlap_in_the_sync_api() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def meet(name: str) -> Any:
        def node(state: State) -> dict[str, Any]:
            barrier.wait()
            return {"log": [name]}

        return node

    graph = (
        StateGraph(State)
        .add_node("one", meet("one"))
        .add_node("two", meet("two"))
        .add_edge(START, "one")
        .add_edge(START, "two")
        .compile()
    )
    assert graph.invoke({}) == {"log": ["one", "two"]}


# -- graphs in graphs ----------------------------------------------------------------------


class SubState(TypedDict, total=False):
    x: int
    inner: str
    log: Annotated[list[Any], operator.add]


def _subgraph() -> Any:
    def sub_a(state: SubState) -> dict[str, Any]:
        return {"inner": "i", "x": state["x"] * 10}

    def sub_b(state: SubState) -> dict[str, Any]:
        return {"log": [f"sub:{state['inner']}"]}

    return (
        StateGraph(SubState)
        .add_node(sub_a)
        .add_node(sub_b)
        .add_edge(START, "sub_a")
        .add_edge("sub_a", "sub_b")
        .compile(name="child")
    )


async def test_compiled_graph_as_a_node_shares_keys_with_the_parent() -> None:
    graph = (
        StateGraph(State)
        .add_node(_subgraph())
        .add_node("after", lambda s: {"log": [f"after:{s['x']}"]})
        .add_edge(START, "child")
        .add_edge("child", "after")
        .compile()
    )
    # the subgraph's private key `inner` never reaches the parent
    assert await graph.ainvoke({"x": 2}) == {"x": 20, "log": ["sub:i", "after:20"]}
    updates = await collect(graph.astream({"x": 2}, stream_mode="updates"))
    assert updates == [
        {"child": {"x": 20, "log": ["sub:i"]}},
        {"after": {"log": ["after:20"]}},
    ]


async def test_subgraph_node_streams_under_its_namespace_only_with_subgraphs_true() -> None:
    graph = StateGraph(State).add_node(_subgraph()).add_edge(START, "child").compile()
    chunks = await collect(graph.astream({"x": 1}, stream_mode="updates", subgraphs=True))
    tasks = await collect(graph.astream({"x": 1}, stream_mode="tasks"))
    assert [ns for ns, _ in chunks] == [chunks[0][0], chunks[0][0], ()]
    (ns,) = chunks[0][0]
    assert ns.startswith("child:")
    assert [c for _, c in chunks] == [
        {"sub_a": {"inner": "i", "x": 10}},
        {"sub_b": {"log": ["sub:i"]}},
        {"child": {"x": 10, "log": ["sub:i"]}},
    ]
    assert {t["name"] for t in tasks} == {"child"}
    assert await collect(graph.astream({"x": 1}, stream_mode="updates")) == [
        {"child": {"x": 10, "log": ["sub:i"]}}
    ]


async def test_graph_awaited_inside_an_async_node() -> None:
    inner = _subgraph()

    async def host(state: State) -> dict[str, Any]:
        result = await inner.ainvoke({"x": state["x"]})
        return {"log": [result["inner"], *result["log"]]}

    graph = StateGraph(State).add_node(host).add_edge(START, "host").compile()
    assert await graph.ainvoke({"x": 1}) == {"x": 1, "log": ["i", "sub:i"]}
    chunks = await collect(graph.astream({"x": 1}, stream_mode="updates", subgraphs=True))
    assert chunks[-1] == ((), {"host": {"log": ["i", "sub:i"]}})
    assert [c for ns, c in chunks[:-1]] == [
        {"sub_a": {"inner": "i", "x": 10}},
        {"sub_b": {"log": ["sub:i"]}},
    ]
    assert all(len(ns) == 1 and ns[0].startswith("host:") for ns, _ in chunks[:-1])


async def test_graph_invoked_synchronously_inside_a_sync_node() -> None:
    inner = _subgraph()
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def host(state: State) -> dict[str, Any]:
        threads.append(threading.get_ident())
        result = inner.invoke({"x": state["x"]})
        return {"log": [result["inner"], *result["log"]]}

    graph = StateGraph(State).add_node(host).add_edge(START, "host").compile()
    assert await graph.ainvoke({"x": 1}) == {"x": 1, "log": ["i", "sub:i"]}
    assert threads[0] != loop_thread
    chunks = await collect(graph.astream({"x": 1}, stream_mode="updates", subgraphs=True))
    assert chunks[-1] == ((), {"host": {"log": ["i", "sub:i"]}})
    assert [c for ns, c in chunks[:-1]] == [
        {"sub_a": {"inner": "i", "x": 10}},
        {"sub_b": {"log": ["sub:i"]}},
    ]
    assert all(len(ns) == 1 and ns[0].startswith("host:") for ns, _ in chunks[:-1])


def test_graph_invoked_inside_a_sync_node_of_a_sync_invoke() -> None:
    inner = _subgraph()

    def host(state: State) -> dict[str, Any]:
        return {"log": inner.invoke({"x": state["x"]})["log"]}

    graph = StateGraph(State).add_node(host).add_edge(START, "host").compile()
    assert graph.invoke({"x": 3}) == {"x": 3, "log": ["sub:i"]}
