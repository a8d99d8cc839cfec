"""Running half of the superstep: run tasks concurrently in one task group.

Async nodes run on the loop, sync nodes in worker threads. A failing task cancels its
siblings and the caller gets the original exception (never an ExceptionGroup for one
failure). ``interrupt()`` in a task does not cancel its siblings.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import anyio
import anyio.lowlevel
import attrs

from . import _lc
from ._apply import TaskResult, apply_writes
from ._context import _NO_RESUME, TaskContext, task_context_var
from ._events import MessageEvent
from ._isolate import isolated
from ._plan import PULL, Task
from ._schema import build_instance, is_instance_schema, output_as_dict
from ._spec import END, BranchSpec, GraphSpec, NodeSpec
from ._sync import alone, call_off_loop
from ._writer import Emitter, TaskWriter
from .errors import (
    ErrorCode,
    GraphInterrupt,
    InvalidUpdateError,
    NodeTimeoutError,
    ParentCommand,
    SlowRouterWarning,
    create_error_message,
)
from .runtime import Runtime
from .types import Command, Interrupt, Send

__all__ = ["Interrupted", "RunInfo", "TaskFailed", "loop_token", "run_step", "run_task"]

_last_token: Any = None


def loop_token() -> Any:
    """``anyio.lowlevel.current_token()``, remembered for the event loop that asked last
    (runs on one loop ask again and again; finding the backend is the costly part)."""
    global _last_token
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        native = trio.lowlevel.current_trio_token()
    else:
        native = asyncio.get_running_loop()
    token = _last_token
    if token is None or token.native_token is not native:
        token = _last_token = anyio.lowlevel.current_token()
    return token


@attrs.define(eq=False)
class RunInfo:
    """What tasks of one graph run share (private to the engine)."""

    spec: GraphSpec
    emitter: Emitter
    ns: tuple[str, ...]
    config: dict[str, Any]
    context: Any
    store: Any
    checkpointer: Any
    step: int = 0
    resume: Mapping[str, list[Any]] = attrs.Factory(dict)
    """task id → resume values for its ``interrupt()`` calls."""
    resume_maps: Mapping[str, Mapping[str, Any]] = attrs.Factory(dict)
    """task id → {interrupt id: value} of the current resume."""
    checkpoint_map: Mapping[str, str] = attrs.Factory(dict)
    """Namespace → id of the checkpoints this step runs from (enclosing graphs too)."""
    loop_thread: int = attrs.Factory(threading.get_ident)
    token: Any = None
    cancel_scope: Any = None
    parent: TaskContext | None = None
    failed: TaskFailed | None = None
    """The task whose exception ended the step, for its result event."""
    finished_ids: set[str] = attrs.Factory(set)
    """Tasks of the current step that finished (saved) so far."""
    limiter: anyio.CapacityLimiter | None = None
    """``config["max_concurrency"]``: at most this many tasks of a step at once."""
    task_emitters: dict[str, Emitter] = attrs.Factory(dict)
    """Per-task buffers in deterministic mode (task id → emitter)."""
    partial: dict[str, Any] = attrs.Factory(dict)
    """Writes of tasks whose routing is being evaluated (LangGraph streams them even
    when routing then fails)."""
    shared: tuple[Emitter, TaskWriter, Runtime[Any]] | None = None
    """The writer and runtime of tasks that use the run's own emitter (the same for
    all of them, so made once per run)."""
    driver: Any = None
    """The sync API's :class:`~stepgraph._sync.Driver` when its loop runs this run
    (:func:`~stepgraph._sync.inline_driver`, looked up once per run)."""


@attrs.frozen
class Interrupted:
    """A task that called ``interrupt()``: its writes are dropped."""

    task: Task
    interrupts: tuple[Interrupt, ...]
    resume: tuple[Any, ...] = ()


@attrs.frozen
class TaskFailed:
    """A task that raised; ``error`` is the original exception."""

    task: Task
    error: BaseException


Outcome = TaskResult | Interrupted


def _task_config(run: RunInfo, task: Task, ns_str: str) -> dict[str, Any]:
    base = run.config
    node_md = task.node.metadata
    metadata = {
        **base.get("metadata", {}),
        **(node_md or {}),
        "langgraph_step": run.step,
        "langgraph_node": task.name,
        "langgraph_triggers": task.triggers,
        "langgraph_path": task.path,
        "langgraph_checkpoint_ns": ns_str,
    }
    configurable = {**base.get("configurable", {}), "checkpoint_ns": ns_str}
    return {**base, "metadata": metadata, "configurable": configurable}


def _node_input(spec: GraphSpec, task: Task, snapshot: Mapping[str, Any]) -> Any:
    if task.path[0] != PULL:
        return task.arg
    node = task.node
    schema = node.input_schema
    if schema is None:
        schema = spec.state_schema
        if is_instance_schema(schema):
            return build_instance(schema, snapshot)
        return dict(snapshot)
    keys = node.input_keys or ()
    if is_instance_schema(schema):
        return build_instance(schema, snapshot)
    return {k: snapshot[k] for k in keys if k in snapshot}


def parse_output(spec: GraphSpec, output: Any) -> tuple[list[tuple[str, Any]], list[str | Send]]:
    """A node's return value as (state writes, routes)."""
    writes: list[tuple[str, Any]] = []
    routes: list[str | Send] = []
    if output is None:
        return writes, routes
    channels = spec.channels
    if isinstance(output, dict):
        if channels.keys() >= output.keys():
            return list(output.items()), routes
        writes.extend([(k, v) for k, v in output.items() if k in channels])
        return writes, routes
    if isinstance(output, Command):
        _add_command(spec, output, writes, routes)
        return writes, routes
    if isinstance(output, (list, tuple)) and output and all(isinstance(c, Command) for c in output):
        for command in output:
            _add_command(spec, command, writes, routes)
        return writes, routes
    as_dict = output_as_dict(output)
    if as_dict is not None:
        writes.extend((k, v) for k, v in as_dict.items() if k in channels)
        return writes, routes
    raise InvalidUpdateError(
        create_error_message(
            message=f"Expected dict, got {output}",
            error_code=ErrorCode.INVALID_GRAPH_NODE_RETURN_VALUE,
        )
    )


def _add_command(
    spec: GraphSpec, command: Command[Any], writes: list[tuple[str, Any]], routes: list[str | Send]
) -> None:
    if command.graph == Command.PARENT:
        raise ParentCommand(command)
    update = command.update
    if update is not None:
        if isinstance(update, dict):
            writes.extend((k, v) for k, v in update.items() if k in spec.channels)
        elif isinstance(update, (list, tuple)) and all(
            isinstance(i, tuple) and len(i) == 2 for i in update
        ):
            writes.extend((k, v) for k, v in update if k in spec.channels)
        else:
            as_dict = output_as_dict(update)
            if as_dict is None:
                raise InvalidUpdateError(
                    f"Command(update=...) expects a dict or a list of (key, value) pairs, got {update!r}"
                )
            writes.extend((k, v) for k, v in as_dict.items() if k in spec.channels)
    goto = command.goto
    targets = goto if isinstance(goto, (list, tuple)) else [goto] if goto else []
    for target in targets:
        routes.append(_checked_route(target))


def _checked_route(target: Any) -> str | Send:
    if isinstance(target, Send):
        if target.node == END:
            raise InvalidUpdateError("Cannot send a packet to the END node")
        return target
    if isinstance(target, str):
        return target
    raise InvalidUpdateError(f"Expected a node name, END or Send as a destination, got {target!r}")


def _may_inline(emitter: Emitter) -> bool:
    """Whether a sync node or router may run without a worker thread (under a driver).

    Only under the sync API's private loop (:class:`stepgraph._sync.Driver`, which
    nothing else shares), only for the one task of its step (nothing concurrent to
    block), and only when nobody reads ``custom``/``messages`` chunks (those must reach
    the consumer while the node still runs, and a node's writer must be able to wait
    for the consumer). The function then runs in the calling thread with no event
    loop marked as running, as LangGraph's sync API runs a lone task; everywhere
    else sync functions run in worker threads.
    """
    return alone.get() and "custom" not in emitter.wants and "messages" not in emitter.wants


async def _call(
    fn: Callable[..., Any],
    is_async: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    abandon: bool,
    ctx: TaskContext | None = None,
) -> Any:
    if is_async:
        return await isolated(fn(*args, **kwargs))
    if ctx is not None and ctx.driver is not None:
        driver = ctx.driver
        if not abandon and _may_inline(ctx.emitter):
            return driver.call_inline(partial(fn, *args, **kwargs))
        return await driver.call_in_thread(partial(fn, *args, **kwargs), abandon)
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), abandon_on_cancel=abandon)


async def _route(
    spec: GraphSpec,
    branch: BranchSpec,
    state: Mapping[str, Any],
    ctx: TaskContext,
) -> list[str | Send]:
    args, kwargs = _route_arguments(spec, branch, state, ctx)
    if branch.shape.is_async or ctx.driver is not None or branch.history.slow:
        result = await _call(branch.path, branch.shape.is_async, args, kwargs, False, ctx)
    else:
        result = _route_on_loop(branch, args, kwargs)
    return _route_targets(branch, result)


SLOW_ROUTER = 0.01
"""Seconds (wall clock) a sync router may hold the event loop before it is moved to
worker threads. asyncio's debug mode calls a callback slow at 0.1 s; a router that
needs more than a hundredth of that waits on something and belongs in a thread."""


def _route_on_loop(branch: BranchSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call a sync router on the event loop, as a plain function (a sync node's sync
    routers run in the node's own thread call instead: :func:`_node_then_route`).

    Routers read the state and name a node; a worker-thread round trip for that costs
    more than the router (~45 µs per call here) and than stepgraph's whole step. So a
    sync router runs on the loop thread, in a copy of the task's context and (asyncio)
    with no loop marked running, as it would see in a thread. One that takes longer
    than :data:`SLOW_ROUTER` (it does I/O, or calls a model) is moved to worker threads
    for every later call, with a :class:`~stepgraph.errors.SlowRouterWarning`. (Under
    the sync API's driver nothing else shares the loop: see :func:`_call`.)
    """
    started = time.perf_counter()
    try:
        return call_off_loop(branch.path, *args, **kwargs)
    finally:
        elapsed = time.perf_counter() - started
        if elapsed > SLOW_ROUTER and not branch.history.slow:
            branch.history.slow = True
            warnings.warn(
                SlowRouterWarning(
                    f"The router {branch.name!r} after node {branch.source!r} held the "
                    f"event loop for {elapsed * 1e3:.1f} ms; stepgraph runs it in a worker "
                    "thread from now on. A router that waits on I/O or a model should be "
                    "'async def' (or hand its blocking part to anyio.to_thread.run_sync)."
                ),
                stacklevel=2,
            )


def _route_sync(
    spec: GraphSpec,
    branch: BranchSpec,
    state: Mapping[str, Any],
    ctx: TaskContext,
) -> list[str | Send]:
    """:func:`_route` for a sync path function, called in the node's own thread."""
    args, kwargs = _route_arguments(spec, branch, state, ctx)
    return _route_targets(branch, branch.path(*args, **kwargs))


def _route_arguments(
    spec: GraphSpec, branch: BranchSpec, state: Mapping[str, Any], ctx: TaskContext
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """What a router is called with: the state (as the state schema) and its injections."""
    shape = branch.shape
    kwargs = {name: _injected(name, ctx) for name in shape.inject}
    if not shape.takes_input:
        return (), kwargs
    schema = spec.state_schema
    view = build_instance(schema, state) if is_instance_schema(schema) else dict(state)
    return (view,), kwargs


def _route_targets(branch: BranchSpec, result: Any) -> list[str | Send]:
    items = result if isinstance(result, (list, tuple)) else [result]
    out: list[str | Send] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, Send):
            out.append(_checked_route(item))
            continue
        if branch.path_map is not None:
            out.append(branch.path_map[item])
        else:
            out.append(_checked_route(item))
    return out


def _injected(name: str, ctx: TaskContext) -> Any:
    if name == "config":
        return ctx.config
    if name == "writer":
        return ctx.writer
    if name == "runtime":
        return ctx.runtime
    return ctx.runtime.store


def make_task_context(run: RunInfo, task: Task) -> TaskContext:
    """The context a task runs with (config, writer, runtime, namespace)."""
    own = f"{task.name}:{task.id}"
    if run.ns:
        ns = (*run.ns, own)
        ns_str = "|".join(ns)
    else:
        ns, ns_str = (own,), own
    emitter = run.task_emitters.get(task.id, run.emitter) if run.task_emitters else run.emitter
    shared = run.shared
    if shared is not None and shared[0] is emitter:
        _, writer, runtime = shared
    else:
        writer = TaskWriter(emitter, run.ns)
        runtime = Runtime(context=run.context, store=run.store, stream_writer=writer)
        if emitter is run.emitter:
            run.shared = (emitter, writer, runtime)
    config = _task_config(run, task, ns_str)
    lc_config = None
    if _lc.config_var() is not None:
        lc_config = config
        if "messages" in emitter.wants:
            handler = _lc.make_handler(emitter, run.ns, ns_str, run.emitter.message_ids())
            callbacks = _lc.task_callbacks(
                config.get("callbacks"), handler, config.get("tags") or [], config["metadata"]
            )
            lc_config = config = {**config, "callbacks": callbacks}
    return TaskContext(
        config=config,
        writer=writer,
        runtime=runtime,
        emitter=emitter,
        namespace=ns,
        task_id=task.id,
        node=task.name,
        step=run.step,
        triggers=task.triggers,
        path=task.path,
        loop_thread=run.loop_thread,
        token=run.token,
        resume=tuple(run.resume.get(task.id, ())) if run.resume else (),
        resume_map=dict(run.resume_maps.get(task.id, {})) if run.resume_maps else _NO_RESUME,
        resuming=task.id in run.resume,
        checkpointer=run.checkpointer,
        checkpoint_map=run.checkpoint_map,  # replaced each step, never changed in place
        stream_subgraphs=emitter.subgraphs,
        cancel_scope=run.cancel_scope,
        writer_ns=run.ns,
        lc_config=lc_config,
        driver=run.driver,
    )


async def run_task(run: RunInfo, task: Task, snapshot: Mapping[str, Any]) -> Outcome:
    """Run one task to completion: retries, timeout, output parsing, routing."""
    ctx = make_task_context(run, task)
    reset = task_context_var.set(ctx)
    lc_var = _lc.config_var() if ctx.lc_config is not None else None
    lc_reset = lc_var.set(ctx.lc_config) if lc_var is not None else None
    try:
        if task.node.retry:
            return await _attempts(run, task, snapshot, ctx)
        return await _once(run, task, snapshot, ctx)
    except GraphInterrupt as exc:
        return Interrupted(task, exc.interrupts, tuple(ctx.resume))
    except Exception as exc:
        if sys.version_info >= (3, 11):
            note = f"During task with name '{task.name}' and id '{task.id}'"
            if note not in getattr(exc, "__notes__", ()):
                exc.add_note(note)
        raise
    finally:
        if lc_var is not None and lc_reset is not None:
            lc_var.reset(lc_reset)
        task_context_var.reset(reset)


async def _attempts(
    run: RunInfo, task: Task, snapshot: Mapping[str, Any], ctx: TaskContext
) -> TaskResult:
    node = task.node
    spec = run.spec
    attempt = 0
    while True:
        attempt += 1
        ctx.interrupt_count = 0
        try:
            return await _once(run, task, snapshot, ctx)
        except (GraphInterrupt, ParentCommand):
            raise
        except Exception as exc:
            policy = next((p for p in node.retry if p.should_retry(exc)), None)
            if policy is None or attempt >= policy.max_attempts:
                raise
            await anyio.sleep(policy.delay(attempt))
        _ = spec


async def _once(
    run: RunInfo, task: Task, snapshot: Mapping[str, Any], ctx: TaskContext
) -> TaskResult:
    spec = run.spec
    node = task.node
    value = _node_input(spec, task, snapshot)
    shape = node.shape
    branches = spec.branches.get(task.name)
    if (
        branches
        and shape is not None
        and not shape.is_async
        and node.timeout is None
        and node.subgraph is None
        and "messages" not in ctx.emitter.wants
        and not any(branch.shape.is_async for branch in branches)
    ):
        # a sync node with sync routers: one worker-thread call for all of them
        kwargs = {name: _injected(name, ctx) for name in shape.inject}
        args = (value,) if shape.takes_input else ()
        fused = partial(_node_then_route, run, task, snapshot, ctx, branches, args, kwargs)
        return await _call(fused, False, (), {}, False, ctx)  # type: ignore[no-any-return]
    if node.timeout is None and shape is not None and shape.is_async and node.subgraph is None:
        # (what _invoke_node and _call do for it, without their two awaits)
        if shape.inject:
            kwargs = {name: _injected(name, ctx) for name in shape.inject}
            output = await isolated(
                node.fn(value, **kwargs) if shape.takes_input else node.fn(**kwargs)
            )
        else:
            output = await isolated(node.fn(value) if shape.takes_input else node.fn())
    elif node.timeout is None:
        output = await _invoke_node(node, value, ctx, spec, abandon=False)
    else:
        try:
            with anyio.fail_after(node.timeout):
                output = await _invoke_node(node, value, ctx, spec, abandon=True)
        except TimeoutError as exc:
            raise NodeTimeoutError(task.name, node.timeout) from exc
    writes, routes = parse_output(spec, output)
    if "messages" in ctx.emitter.wants and output is not None:
        _emit_output_messages(run, ctx, output, snapshot)
    if branches:
        run.partial[task.id] = writes
        applied = apply_writes(spec, snapshot, writes)
        for branch in branches:
            routes.extend(await _route(spec, branch, applied[0], ctx))
        del run.partial[task.id]
        return TaskResult(task, tuple(writes), tuple(routes), applied)
    return TaskResult(task, tuple(writes), tuple(routes))


def _node_then_route(
    run: RunInfo,
    task: Task,
    snapshot: Mapping[str, Any],
    ctx: TaskContext,
    branches: Sequence[BranchSpec],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> TaskResult:
    """A sync node and then its sync routers, in one (worker-thread) call: what
    :func:`_once` does for them with one hop each. The routers see the state with the
    node's writes applied; while they run, the writes wait in ``run.partial`` (read
    only after the step, when this call is over: it is never abandoned)."""
    spec = run.spec
    output = task.node.fn(*args, **kwargs)
    writes, routes = parse_output(spec, output)
    run.partial[task.id] = writes
    applied = apply_writes(spec, snapshot, writes)
    for branch in branches:
        routes.extend(_route_sync(spec, branch, applied[0], ctx))
    del run.partial[task.id]
    return TaskResult(task, tuple(writes), tuple(routes), applied)


def _emit_output_messages(
    run: RunInfo, ctx: TaskContext, output: Any, snapshot: Mapping[str, Any]
) -> None:
    """Messages a node returns that were never streamed reach ``messages`` mode whole."""
    found = list(_lc.iter_messages(output))
    if not found:
        return
    seen = run.emitter.message_ids()
    seen.update(getattr(m, "id", None) for m in _lc.iter_messages(dict(snapshot)))
    metadata: dict[str, Any] = {"ls_integration": "langgraph", **ctx.config.get("metadata", {})}
    if ctx.config.get("tags"):
        metadata["tags"] = list(ctx.config["tags"])
    for message in found:
        mid = getattr(message, "id", None)
        if mid is not None and mid in seen:
            continue
        seen.add(mid)
        ctx.emitter.send_from_sync(MessageEvent(run.ns, message, metadata))


async def _invoke_node(
    node: NodeSpec, value: Any, ctx: TaskContext, spec: GraphSpec, *, abandon: bool
) -> Any:
    if node.subgraph is not None:
        return await _run_subgraph(node.subgraph, value, ctx, spec)
    shape = node.shape
    assert shape is not None
    kwargs = {name: _injected(name, ctx) for name in shape.inject}
    args = (value,) if shape.takes_input else ()
    return await _call(node.fn, shape.is_async, args, kwargs, abandon, ctx)


async def _run_subgraph(graph: Any, value: Any, ctx: TaskContext, spec: GraphSpec) -> Any:
    try:
        result = await graph._arun_nested(value, ctx)
    except ParentCommand as exc:
        command = exc.command
        return Command(update=command.update, goto=command.goto, resume=command.resume)
    return (
        {k: v for k, v in result.items() if k in spec.channels}
        if isinstance(result, dict)
        else result
    )


async def run_step(
    run: RunInfo,
    tasks: Sequence[Task],
    snapshot: Mapping[str, Any],
    on_done: Callable[[Outcome], Any] | None = None,
) -> list[Outcome]:
    """Run ``tasks`` concurrently; return their outcomes in task order.

    ``on_done(outcome)`` (async) is awaited as each task finishes, in completion order.
    The first failure cancels the siblings and is raised as is.
    """
    if len(tasks) == 1:
        try:
            outcome = await run_task(run, tasks[0], snapshot)
        except Exception as exc:
            run.failed = TaskFailed(tasks[0], exc)
            raise
        if on_done is not None:
            await on_done(outcome)
        return [outcome]
    outcomes: list[Outcome | None] = [None] * len(tasks)
    failure: list[TaskFailed] = []

    async with anyio.create_task_group() as tg:

        async def guarded(index: int, task: Task) -> None:
            alone.set(False)  # this task's own context: its siblings run concurrently
            try:
                if run.limiter is not None:
                    async with run.limiter:
                        outcome = await run_task(run, task, snapshot)
                else:
                    outcome = await run_task(run, task, snapshot)
                outcomes[index] = outcome
                if on_done is not None:
                    await on_done(outcome)
            except Exception as exc:
                if not failure:
                    failure.append(TaskFailed(task, exc))
                    tg.cancel_scope.cancel()

        for index, task in enumerate(tasks):
            tg.start_soon(guarded, index, task, name=f"stepgraph:{task.name}")
    if failure:
        run.failed = failure[0]
        raise failure[0].error
    return [o for o in outcomes if o is not None]


_ = (output_as_dict, anyio.lowlevel)
