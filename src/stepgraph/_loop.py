"""One graph run: load → plan → execute → apply → save → emit, step after step."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.lowlevel
import attrs

from ._apply import TaskResult, apply_writes, next_pending, ordered_writes, update_chunk
from ._context import TaskContext, task_context_var
from ._events import (
    InterruptEvent,
    TaskResultEvent,
    TaskStartEvent,
    UpdatesEvent,
    ValuesEvent,
)
from ._execute import (
    Interrupted,
    Outcome,
    RunInfo,
    _route,
    loop_token,
    make_task_context,
    run_step,
)
from ._persist import Persistence
from ._plan import PULL, Pending, Task, path_key, plan_step
from ._schema import output_as_dict
from ._spec import START, GraphSpec, NodeSpec
from ._sync import inline_driver
from ._writer import BufferEmitter, Emitter, NullEmitter
from .errors import GraphInterrupt, GraphRecursionError, InvalidUpdateError, ParentCommand
from .types import Command, Interrupt, Send

if TYPE_CHECKING:
    from ._compiled import CompiledStateGraph

__all__ = ["DEFAULT_RECURSION_LIMIT", "RunResult", "run_graph"]

DEFAULT_RECURSION_LIMIT = int(os.environ.get("LANGGRAPH_DEFAULT_RECURSION_LIMIT", "10007"))

_START_NODE = NodeSpec(name=START, fn=None, shape=None)
_NOTHING_PENDING = Pending()


@attrs.frozen
class RunResult:
    """How a run ended."""

    values: dict[str, Any]
    interrupts: tuple[Interrupt, ...] = ()
    interrupted: bool = False
    """True when the run paused (``interrupt()`` or a static breakpoint)."""
    output_written: bool = False
    """Whether any step wrote one of the graph's output keys (``invoke`` returns None otherwise)."""


def ordered_values(spec: GraphSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """State values in schema declaration order (how LangGraph prints them)."""
    return {k: values[k] for k in spec.channels if k in values}


def input_writes(spec: GraphSpec, value: Any) -> list[tuple[str, Any]]:
    """The graph input as writes, filtered to the input schema's keys."""
    if isinstance(value, Mapping):
        keys = spec.input_key_set
        return [(k, v) for k, v in value.items() if k in keys]
    as_dict = output_as_dict(value)
    if as_dict is None:
        raise InvalidUpdateError(
            f"Expected dict as graph input, got {value!r}. Pass a dict of state keys "
            "(or an instance of the input schema)."
        )
    return [(k, v) for k, v in as_dict.items() if k in spec.input_keys and k in spec.channels]


def _matches(names: Sequence[str], tasks: Sequence[Task]) -> bool:
    if not names:
        return False
    if "*" in names:
        return any(t.name != START for t in tasks)
    return any(t.name in names for t in tasks)


async def run_graph(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    input: Any,
    config: dict[str, Any],
    emitter: Emitter,
    *,
    parent: TaskContext | None = None,
    durability: str | None = None,
    **options: Any,
) -> RunResult:
    """Run ``graph`` on ``input`` until it ends, pauses or fails, emitting events.

    With a checkpointer and durability "async" (the default) the run owns a task group
    in which its saves run in the background; every save has finished when this returns
    or raises."""
    checkpointer = graph.checkpointer
    if parent is not None and checkpointer is None:
        checkpointer = parent.checkpointer
    if checkpointer is None or checkpointer is False or durability not in (None, "async"):
        return await _run_graph(
            graph, input, config, emitter, parent=parent, durability=durability, **options
        )
    outcome: RunResult | BaseException
    async with anyio.create_task_group() as saves:
        try:
            outcome = await _run_graph(
                graph,
                input,
                config,
                emitter,
                parent=parent,
                durability=durability,
                saves=saves,
                **options,
            )
        except BaseException as exc:  # raised outside the task group, not in a group
            outcome = exc
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


async def _run_graph(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    input: Any,
    config: dict[str, Any],
    emitter: Emitter,
    *,
    parent: TaskContext | None = None,
    interrupt_before: Sequence[str] = (),
    interrupt_after: Sequence[str] = (),
    context: Any = None,
    durability: str | None = None,
    deterministic: bool = False,
    saves: anyio.abc.TaskGroup | None = None,
) -> RunResult:
    spec = graph.spec
    limit = config.get("recursion_limit", DEFAULT_RECURSION_LIMIT)
    if not isinstance(limit, int) or limit < 1:
        raise ValueError("recursion_limit must be at least 1")
    ns: tuple[str, ...] = ()
    if parent is not None:
        index = next(parent.nested_calls)
        ns = (*parent.namespace, str(index)) if index else parent.namespace
    checkpointer = graph.checkpointer
    if parent is not None and checkpointer is None:
        # a nested graph checkpoints with its host's saver, under the host task's namespace
        checkpointer = parent.checkpointer
        if checkpointer is not None:
            configurable = {
                k: v
                for k, v in (config.get("configurable") or {}).items()
                if k not in ("checkpoint_id", "checkpoint_map")
            }
            configurable["checkpoint_ns"] = "|".join(ns)
            config = {**config, "configurable": configurable}
    if parent is None and (config.get("configurable") or {}).get("checkpoint_ns"):
        # a subgraph's config given to the host: the run is the host's (as LangGraph), and
        # never saves host checkpoints among the subgraph's
        config = {**config, "configurable": {**config["configurable"], "checkpoint_ns": ""}}
    parents = dict(parent.checkpoint_map) if parent is not None else {}
    persist = Persistence.create(
        checkpointer, config, spec, ns, durability, emitter, saves, parents=parents
    )
    run = RunInfo(
        spec=spec,
        emitter=emitter,
        ns=ns,
        config=config,
        context=context,
        store=graph.store,
        checkpointer=checkpointer,
        token=loop_token(),
        loop_thread=threading.get_ident(),
        parent=parent,
        driver=inline_driver(),
    )
    max_concurrency = config.get("max_concurrency")
    if max_concurrency:
        run.limiter = anyio.CapacityLimiter(max_concurrency)
    wants = emitter.wants
    deterministic = deterministic or isinstance(emitter, BufferEmitter)
    output_keys = set(spec.output_keys)
    output_written = False

    checked_input: list[tuple[str, Any]] | None = None
    if input is not None and not isinstance(input, Command):
        # bad input is rejected before the input checkpoint is saved
        _validate_input(spec, input)
        checked_input = input_writes(spec, input)
    resumed = parent is not None and parent.resuming
    start = await persist.load(input, parent.resume_map if resumed and parent else None)
    values = start.values
    pending = start.pending
    step = start.step
    run.resume = start.resume
    run.resume_maps = start.resume_maps
    skip_before = start.skip_interrupt_before

    if start.input is not None:
        if start.emit_current:
            # resuming a thread whose latest checkpoint holds an unprocessed input
            if "values" in wants:
                await emitter.send(ValuesEvent(ns, ordered_values(spec, values)))
            await persist.announce()
        if start.input is input and checked_input is not None:
            writes = checked_input
        else:
            _validate_input(spec, start.input)
            writes = input_writes(spec, start.input)
        values, written = apply_writes(spec, values, writes)
        routes: list[str | Send] = list(start.goto)
        branches = spec.branches.get(START) if start.from_start else None
        if branches:
            start_task = Task(
                id="", name=START, path=(PULL, START), triggers=(START,), node=_START_NODE
            )
            ctx = make_task_context(run, start_task)
            reset = task_context_var.set(ctx)
            try:
                for branch in branches:
                    routes.extend(await _route(spec, branch, values, ctx))
            finally:
                task_context_var.reset(reset)
        if start.from_start:
            pending = next_pending(spec, _NOTHING_PENDING, [(START, routes)])
        else:
            pending = merge_pending(
                start.pending, next_pending(spec, start.pending, [("", routes)])
            )
        step += 1
        if written:
            output_written = output_written or not output_keys.isdisjoint(written)
        if "values" in wants and (written or not start.from_start):
            # a Command on a saved thread resumes it: its state is streamed even unchanged
            await emitter.send(ValuesEvent(ns, ordered_values(spec, values), None, written))
        await persist.save(
            values,
            pending,
            step,
            "loop" if start.from_start else "update",
            written,
            (START,) if start.from_start else (),
        )

    elif start.emit_current:
        output_written = not output_keys.isdisjoint(values)
        if "values" in wants:
            await emitter.send(ValuesEvent(ns, ordered_values(spec, values)))
    await persist.announce()
    if start.replay_updates and "updates" in wants:
        for node, update in start.replay_updates:
            await emitter.send(UpdatesEvent(ns, node, update, cached=True))

    stop = step + limit
    before = interrupt_before or graph.interrupt_before
    after = interrupt_after or graph.interrupt_after
    ns_str = "|".join(ns)
    # without a checkpointer and a consumer, nobody needs to hear of each finished task
    report = wants or persist.saves
    while True:
        step += 1
        if step > stop:
            raise GraphRecursionError(limit)
        if not pending:
            break
        run.step = step
        if not ns:
            await emitter.step_barrier()
        tasks = plan_step(
            spec, pending, step=step, checkpoint_id=persist.checkpoint_id, namespace=ns_str
        )
        if not tasks:
            break
        if run.checkpoint_map.get(ns_str) is not persist.checkpoint_id:
            run.checkpoint_map = {**parents, ns_str: persist.checkpoint_id}
        if before and not skip_before and _matches(before, tasks):
            await persist.mark_breakpoint(values, pending, step - 1, True)
            await persist.flush()
            if "updates" in wants:
                await emitter.send(InterruptEvent(ns, ()))
            return RunResult(ordered_values(spec, values), (), True, output_written)
        skip_before = False
        if "tasks" in wants:
            for task in tasks:
                await emitter.send(_start_event(run, task, values))
            if not ns:
                # a consumer that stops after the task-start chunks: the tasks never ran
                await emitter.step_barrier()
        done_writes = persist.done_writes
        to_run: Sequence[Task] = tasks
        replayed: list[TaskResult] = []
        if done_writes:
            to_run = [t for t in tasks if t.id not in done_writes]
            replayed = [TaskResult(t, *done_writes[t.id]) for t in tasks if t.id in done_writes]
        if deterministic:
            run.task_emitters = {t.id: BufferEmitter(emitter) for t in to_run}
        # a step of one task reports its result only once the step's writes applied (as
        # LangGraph, whose lone task runs inline and whose stream is read after the step
        # unless custom/messages/subgraph chunks make it eager): a reducer that raises
        # drops the report
        eager = emitter.subgraphs or "custom" in wants or "messages" in wants
        held: list[Any] | None = [] if len(tasks) == 1 and to_run and not eager else None

        async def on_done(
            outcome: Outcome,
            step: int = step,
            values: dict[str, Any] = values,
            held: list[Any] | None = held,
        ) -> None:
            await persist.task_done(outcome)
            run.finished_ids.add(outcome.task.id)
            emitter = run.task_emitters.get(outcome.task.id, run.emitter)
            if isinstance(outcome, Interrupted):
                if "updates" in wants:
                    await emitter.send(InterruptEvent(ns, outcome.interrupts))
                if "values" in wants and outcome.interrupts:  # not for a nested breakpoint
                    await emitter.send(
                        ValuesEvent(ns, ordered_values(spec, values), outcome.interrupts)
                    )
                if "tasks" in wants:
                    await emitter.send(
                        TaskResultEvent(
                            ns,
                            step,
                            outcome.task.id,
                            outcome.task.name,
                            None,
                            {},
                            outcome.interrupts,
                        )
                    )
                return
            events: list[Any] = []
            if "updates" in wants:
                events.append(UpdatesEvent(ns, outcome.task.name, update_chunk(outcome.writes)))
            if "tasks" in wants:
                events.append(
                    TaskResultEvent(
                        ns,
                        step,
                        outcome.task.id,
                        outcome.task.name,
                        None,
                        _result_payload(outcome.writes),
                    )
                )
            if held is not None:
                held.extend(events)
                return
            for event in events:
                await emitter.send(event)

        finished: set[str] = set()
        run.finished_ids = finished
        try:
            outcomes = (
                await run_step(run, to_run, values, on_done if report else None) if to_run else []
            )
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await persist.tasks_cancelled(
                    [t for t in to_run if t.id not in finished],
                    "the run was cancelled while this task was running; its finished "
                    "siblings' writes are kept and it runs again on resume",
                )
                await persist.flush()
            raise
        except Exception as exc:
            await _release(run, to_run)
            await _report_failure(run, persist, exc, step)
            with anyio.CancelScope(shield=True):
                await persist.flush()
            raise
        if run.task_emitters:
            await _release(run, to_run)
        if not replayed and len(outcomes) == 1 and type(outcomes[0]) is TaskResult:
            results: list[TaskResult] = outcomes  # type: ignore[assignment]
            interrupted: list[Interrupted] = []
        else:
            results = replayed + [o for o in outcomes if isinstance(o, TaskResult)]
            interrupted = [o for o in outcomes if isinstance(o, Interrupted)]
        if interrupted:
            interrupts = tuple(
                i
                for o in sorted(interrupted, key=lambda o: path_key(o.task.path))
                for i in o.interrupts
            )
            if results:
                after_siblings, written = apply_writes(spec, values, ordered_writes(results))
                if written and "values" in wants:
                    await emitter.send(
                        ValuesEvent(ns, ordered_values(spec, after_siblings), None, written)
                    )
                values = after_siblings
            await persist.flush()
            return RunResult(ordered_values(spec, values), interrupts, True, output_written)
        if len(results) == 1 and results[0].applied is not None:
            # the lone task's routers saw its writes applied to this very state
            values, written = results[0].applied
        else:
            values, written = apply_writes(spec, values, ordered_writes(results))
        for event in held or ():
            await emitter.send(event)
        ordered = (
            sorted(results, key=lambda r: path_key(r.task.path)) if len(results) > 1 else results
        )
        pending = next_pending(spec, pending, [(r.task.name, r.routes) for r in ordered])
        if written:
            output_written = output_written or not output_keys.isdisjoint(written)
            if "values" in wants:
                await emitter.send(ValuesEvent(ns, ordered_values(spec, values), None, written))
        if persist.saves:
            await persist.save(
                values, pending, step, "loop", written, tuple([r.task.name for r in ordered])
            )
        if after and _matches(after, tasks):
            await persist.mark_breakpoint(values, pending, step, False)
            await persist.flush()
            if "updates" in wants:
                await emitter.send(InterruptEvent(ns, ()))
            return RunResult(ordered_values(spec, values), (), True, output_written)
    await persist.flush()
    return RunResult(ordered_values(spec, values), (), False, output_written)


async def _release(run: RunInfo, tasks: Sequence[Task]) -> None:
    """Deterministic mode: hand each task's buffered events on, in task-path order."""
    if not run.task_emitters:
        return
    buffers, run.task_emitters = run.task_emitters, {}
    with anyio.CancelScope(shield=True):
        for task in sorted(tasks, key=lambda t: path_key(t.path)):
            buffer = buffers.get(task.id)
            if isinstance(buffer, BufferEmitter):
                await buffer.release()


async def _report_failure(run: RunInfo, persist: Persistence, exc: Exception, step: int) -> None:
    """Before a task's exception reaches the caller: stream what LangGraph streams for it."""
    failed = run.failed
    if failed is None or failed.error is not exc or isinstance(exc, ParentCommand):
        return  # (a Command for the parent graph is no failure: it ends this graph's run)
    emitter, ns, task = run.emitter, run.ns, failed.task
    with anyio.CancelScope(shield=True):
        await persist.task_failed(task, exc)
        partial = run.partial.pop(task.id, None)
        if partial is not None and "updates" in emitter.wants:
            await emitter.send(UpdatesEvent(ns, task.name, update_chunk(partial)))
        if "tasks" in emitter.wants:
            # a router failing after its node returned: the result shows the node's writes
            result = _result_payload(partial) if partial is not None else {}
            await emitter.send(TaskResultEvent(ns, step, task.id, task.name, exc, result))


def merge_pending(a: Pending, b: Pending) -> Pending:
    """Everything ``a`` and ``b`` schedule (``a`` first)."""
    pull = {
        k: tuple(dict.fromkeys((*a.pull.get(k, ()), *b.pull.get(k, ()))))
        for k in (*a.pull, *b.pull)
    }
    return Pending(
        pull=pull,
        push=(*a.push, *b.push),
        barriers=b.barriers,
        deferred={**a.deferred, **b.deferred},
    )


def _validate_input(spec: GraphSpec, value: Any) -> None:
    """Pydantic schemas validate the input before anything is streamed (as LangGraph)."""
    schema = spec.input_schema
    validate = getattr(schema, "model_validate", None)
    if validate is not None and isinstance(value, Mapping):
        validate({k: v for k, v in value.items() if k in spec.input_keys})


def written_any(values: Mapping[str, Any]) -> bool:
    return bool(values)


def _result_payload(writes: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for k, _ in writes:
        counts[k] = counts.get(k, 0) + 1
    for k, v in writes:
        if counts[k] > 1:
            out.setdefault(k, {"$writes": []})["$writes"].append(v)
        else:
            out[k] = v
    return out


def _start_event(run: RunInfo, task: Task, values: Mapping[str, Any]) -> TaskStartEvent:
    from ._execute import _node_input

    metadata: dict[str, Any] | None = None
    tags = run.config.get("tags")
    if task.node.metadata or tags:
        metadata = {**(task.node.metadata or {})}
        if tags:
            metadata["tags"] = list(tags)
    node_input = _node_input(run.spec, task, values)
    return TaskStartEvent(run.ns, run.step, task.id, task.name, node_input, task.triggers, metadata)


async def run_nested(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    input: Any,
    parent: TaskContext,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``graph`` inside the task ``parent`` (a subgraph node, or a graph invoked in
    a node): same task tree, same event stream, namespaced under the parent task."""
    emitter = parent.emitter if parent.stream_subgraphs else NullEmitter()
    base = dict(parent.config)
    if config:
        base = {
            **base,
            **config,
            "configurable": {**base.get("configurable", {}), **config.get("configurable", {})},
        }
    base.pop("callbacks", None)
    result = await run_graph(
        graph, input, base, emitter, parent=parent, context=parent.runtime.context
    )
    if result.interrupted:  # an interrupt() or a static breakpoint pauses the host too
        raise GraphInterrupt(result.interrupts)
    return result.values


_ = (Command,)
