"""Reading and changing a thread's saved state: ``get_state``, ``get_state_history``,
``update_state`` (async; the sync forms go through the portal)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ._apply import TaskResult, apply_writes, next_pending, ordered_writes
from ._loop import input_writes, merge_pending, ordered_values
from ._persist import (
    BREAKPOINT,
    ERROR,
    INTERRUPT,
    LAST,
    PENDING,
    ROUTES,
    decode_pending,
    encode_pending,
    next_tasks,
    state_values,
    with_caller_metadata,
)
from ._plan import Pending
from ._spec import END, START, GraphSpec
from ._subgraphs import graph_at, nested_nodes, node_graph
from .errors import InvalidUpdateError
from .types import Interrupt, PregelTask, StateSnapshot

if TYPE_CHECKING:
    from ._compiled import CompiledStateGraph

__all__ = ["aget_state", "aget_state_history", "aupdate_state"]


def _saver(graph: CompiledStateGraph[Any, Any, Any, Any]) -> Any:
    saver = graph.checkpointer
    if saver is None or saver is False:
        raise ValueError(
            "No checkpointer set: state is only kept when the graph is compiled with one, "
            "e.g. builder.compile(checkpointer=InMemorySaver())"
        )
    return saver


def _thread_config(config: Mapping[str, Any]) -> dict[str, Any]:
    configurable = dict(config.get("configurable") or {})
    if not any(k in configurable for k in ("thread_id", "checkpoint_ns", "checkpoint_id")):
        raise ValueError(
            "Checkpointer requires one or more of the following 'configurable' keys: "
            "thread_id, checkpoint_ns, checkpoint_id"
        )
    configurable.setdefault("checkpoint_ns", "")
    return {"configurable": {k: v for k, v in configurable.items() if not k.startswith("__")}}


def _snapshot(
    spec: GraphSpec,
    saved: Any,
    ns: str,
    latest: bool = True,
    nested: frozenset[str] | None = None,
) -> StateSnapshot:
    """``saved`` as a snapshot; ``nested`` names the nodes that run a graph (found
    again when not given)."""
    if nested is None:
        nested = nested_nodes(spec)
    cv = saved.checkpoint.channel_values
    values = state_values(spec, cv)
    step = int(saved.metadata.get("step", -1))
    by_task: dict[str, dict[str, list[Any]]] = {}
    for w in saved.pending_writes:
        by_task.setdefault(w.task_id, {}).setdefault(w.channel, []).append(w.value)
    planned = next_tasks(spec, cv, saved.checkpoint.id, step, ns)
    tasks: list[PregelTask] = []
    interrupts: list[Interrupt] = []
    done: list[TaskResult] = []
    for task in planned:
        chans = by_task.get(task.id, {})
        completed = ROUTES in chans  # (an interrupted task may have been resumed to completion)
        task_interrupts = tuple(i for group in chans.get(INTERRUPT, []) for i in group)
        if completed and latest:
            # the latest state shows what is still to answer; history shows every
            # checkpoint as saved, the last interrupt of a finished task included
            task_interrupts = ()
        interrupts.extend(task_interrupts)
        error = chans.get(ERROR, [None])[-1]
        result = None
        paused = INTERRUPT in chans and not completed  # a nested graph's breakpoint too
        if chans and ERROR not in chans and (completed or not (task_interrupts or paused)):
            writes = tuple((k, v) for k, vs in chans.items() if k in spec.channels for v in vs)
            result = dict(writes)
            done.append(TaskResult(task, writes, ()))
        if task.name == START and "__start__" in cv and isinstance(cv["__start__"], Mapping):
            result = {k: v for k, v in cv["__start__"].items() if k in spec.input_keys}
        state = None
        if task.name in nested:
            state = {
                "configurable": {
                    **{k: v for k, v in saved.config["configurable"].items() if k == "thread_id"},
                    "checkpoint_ns": f"{ns}|{task.name}:{task.id}"
                    if ns
                    else f"{task.name}:{task.id}",
                }
            }
        tasks.append(
            PregelTask(task.id, task.name, task.path, error, task_interrupts, state, result)
        )
    finished: set[str] = set()
    if done and latest:  # finished siblings' writes show before their step commits
        values, _ = apply_writes(spec, values, ordered_writes(done))
        finished = {r.task.id for r in done}
    return StateSnapshot(
        values=ordered_values(spec, values),
        # finished siblings leave `next` while others are still to run; if every task
        # finished but the step was never committed (a crash), they all stay in `next`
        next=tuple(
            t.name for t in planned if t.id not in finished or len(finished) == len(planned)
        ),
        config=dict(saved.config),
        metadata=dict(saved.metadata),
        created_at=saved.checkpoint.ts,
        parent_config=saved.parent_config,
        tasks=tuple(tasks),
        interrupts=tuple(interrupts),
    )


async def aget_state(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    config: Mapping[str, Any],
    *,
    subgraphs: bool = False,
) -> StateSnapshot:
    """The thread's state at its latest checkpoint (or at ``checkpoint_id``); with a
    subgraph's ``checkpoint_ns``, that subgraph's state."""
    saver = _saver(graph)
    cfg = _thread_config(config)
    ns = cfg["configurable"].get("checkpoint_ns", "")
    graph = graph_at(graph, ns)
    saved = await saver.aget_tuple(cfg)
    if saved is None:
        return StateSnapshot({}, (), cfg, None, None, None, (), ())
    snap = _snapshot(graph.spec, saved, ns, latest="checkpoint_id" not in cfg["configurable"])
    return await _with_subgraphs(graph, saver, snap, cfg) if subgraphs else snap


async def _with_subgraphs(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    saver: Any,
    snap: StateSnapshot,
    cfg: Mapping[str, Any],
) -> StateSnapshot:
    """``snap`` with each subgraph task's ``state`` config replaced by that subgraph's
    latest snapshot, at every level."""
    tasks = []
    for task in snap.tasks:
        sub = node_graph(graph.spec.nodes.get(task.name))
        if sub is not None and isinstance(task.state, Mapping):
            sub_cfg = {
                "configurable": {
                    **{k: v for k, v in cfg["configurable"].items() if k != "checkpoint_id"},
                    "checkpoint_ns": task.state["configurable"]["checkpoint_ns"],
                }
            }
            saved = await saver.aget_tuple(sub_cfg)
            # a node calling several graphs: the one found may not be the one that saved
            if saved is not None and _schedules_known_nodes(sub.spec, saved):
                inner = _snapshot(sub.spec, saved, sub_cfg["configurable"]["checkpoint_ns"])
                task = task._replace(state=await _with_subgraphs(sub, saver, inner, sub_cfg))
        tasks.append(task)
    return snap._replace(tasks=tuple(tasks))


def _schedules_known_nodes(spec: GraphSpec, saved: Any) -> bool:
    pending = decode_pending(saved.checkpoint.channel_values.get(PENDING))
    names = {*pending.pull, *pending.deferred, *(send.node for send in pending.push)}
    return names <= spec.nodes.keys()


async def aget_state_history(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    config: Mapping[str, Any],
    *,
    filter: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
    limit: int | None = None,
) -> AsyncIterator[StateSnapshot]:
    """The thread's checkpoints, newest first."""
    saver = _saver(graph)
    cfg = _thread_config(config)
    ns = cfg["configurable"].get("checkpoint_ns", "")
    spec = graph_at(graph, ns).spec
    nested = nested_nodes(spec)
    async for saved in saver.alist(cfg, filter=filter, before=before, limit=limit):
        # history shows checkpoints as saved; get_state also folds in finished siblings
        yield _snapshot(spec, saved, ns, latest=False, nested=nested)


async def aupdate_state(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    config: Mapping[str, Any],
    values: Any,
    as_node: str | None = None,
) -> dict[str, Any]:
    """Write ``values`` to the thread as if node ``as_node`` had returned them (through
    the reducers); the new checkpoint schedules what would run after that node.
    Returns the new checkpoint's config. With a subgraph's ``checkpoint_ns``, edits that
    subgraph's state (a resumed run continues from the edit)."""
    from .checkpoint.base import Checkpoint, new_checkpoint_id

    saver = _saver(graph)
    cfg = _thread_config(config)
    ns = cfg["configurable"].get("checkpoint_ns", "")
    spec = graph_at(graph, ns).spec
    saved = await saver.aget_tuple(cfg)
    if saved is None and ns:
        raise ValueError(
            f"No checkpoint under checkpoint_ns {ns!r} in thread "
            f"{cfg['configurable'].get('thread_id')!r}: a subgraph's state exists once it "
            "ran; pass a config from get_state(config).tasks[i].state"
        )
    if saved is None and "checkpoint_id" in cfg["configurable"]:
        raise ValueError(
            f"No checkpoint {cfg['configurable']['checkpoint_id']!r} in thread "
            f"{cfg['configurable'].get('thread_id')!r}: pass a checkpoint_id from "
            "get_state_history(), or omit it to update the latest checkpoint"
        )
    if saved is not None:
        cv = saved.checkpoint.channel_values
        current = state_values(spec, cv)
        pending = decode_pending(cv.get(PENDING))
        step = int(saved.metadata.get("step", -1))
        last = list(cv.get(LAST) or ())
    else:
        current = {k: f() for k, f in spec.reducer_defaults.items()}
        pending, step, last = Pending(), -1, []
    if as_node is None:
        if saved is None or not last:
            as_node = START
        elif len(set(last)) == 1:
            as_node = last[0]
        else:
            raise InvalidUpdateError(
                f"Ambiguous update, specify as_node: the last step ran {sorted(set(last))}"
            )
    if as_node not in spec.nodes and as_node not in (START, END):
        raise InvalidUpdateError(f"Node {as_node} does not exist")
    writes = (
        input_writes(spec, values)
        if as_node == START
        else [
            (k, v)
            for k, v in (values.items() if isinstance(values, Mapping) else ())
            if k in spec.channels
        ]
    )
    new_values, _ = apply_writes(spec, current, writes)
    if as_node == END:
        new_pending = Pending()
    else:
        # the update stands for as_node's run: what was pending is superseded
        remaining = Pending(barriers=pending.barriers)
        routes: list[Any] = []
        for branch in spec.branches.get(as_node, ()):
            view = new_values if not branch.shape.takes_input else dict(new_values)
            result = branch.path(view) if not branch.shape.is_async else await branch.path(view)
            items = result if isinstance(result, (list, tuple)) else [result]
            for item in items:
                if item is None:
                    continue
                routes.append(
                    branch.path_map[item]
                    if branch.path_map is not None and isinstance(item, str)
                    else item
                )
        new_pending = merge_pending(remaining, next_pending(spec, remaining, [(as_node, routes)]))
    channel_values: dict[str, Any] = dict(new_values)
    if new_pending:
        channel_values[PENDING] = encode_pending(new_pending)
    channel_values[LAST] = [as_node]
    checkpoint = Checkpoint(
        id=new_checkpoint_id(),
        ts=datetime.now(timezone.utc).isoformat(),
        channel_values=channel_values,
    )
    parent = dict(cfg["configurable"])
    if saved is not None:
        parent["checkpoint_id"] = saved.checkpoint.id
    else:
        parent.pop("checkpoint_id", None)
    # a subgraph's checkpoints keep naming the host checkpoints they belong to
    parents = dict(saved.metadata.get("parents") or {}) if saved is not None else {}
    metadata = with_caller_metadata(
        {"source": "update", "step": step + 1, "parents": parents}, config
    )
    new_config: dict[str, Any] = await saver.aput({"configurable": parent}, checkpoint, metadata)
    if saved is not None and any(
        w.task_id == BREAKPOINT and w.value == "before" for w in saved.pending_writes
    ):
        # the thread was paused before a node: editing it does not pause there again
        await saver.aput_writes(new_config, [(BREAKPOINT, "before")], BREAKPOINT)
    return new_config


_ = (BREAKPOINT, END)
