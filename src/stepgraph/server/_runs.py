"""Threads and runs: the registry, per-thread queues, run execution and cancellation.

Every run executes in one task of the server-lifetime task group, inside its own cancel
scope; cancelling that scope stops the graph (nested graphs too) and the task waits for
every node's ``finally`` before the run reports its final status. A thread runs one run
at a time: later runs wait in its FIFO queue (``multitask_strategy="enqueue"``), or
cancel the current ones first (``interrupt`` / ``rollback``), or are refused
(``reject``). The engine holds the checkpointer's thread lease while a run executes,
so two server processes sharing a database never run the same thread at once (the
second run fails with ``ThreadBusyError``). At most ``workers`` runs execute at once
(``--n-jobs-per-worker``, as ``langgraph dev``); the others stay ``pending`` (their
streams are open and have their ``metadata`` event) until a worker is free, so a burst
of runs cannot starve request handling.

Final statuses are stored (and committed to the database) *before* a run's event log
closes, so a client whose stream just ended always reads the final status. The events of
a finished resumable run are committed with it, so ``Last-Event-ID`` reconnects and
replays work once the run ended, and after a restart (SQLite and PostgreSQL).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import anyio
import anyio.abc
import attrs

from stepgraph.checkpoint import ThreadBusyError, new_checkpoint_id
from stepgraph.errors import StepgraphError
from stepgraph.types import Command, Interrupt, Send, StateSnapshot

from . import _json
from ._assistants import Assistants
from ._config import GraphEntry
from ._events import EventLog, LogEntry
from ._items import Items
from ._store import MetaStore, StoredEvent

__all__ = ["Manager", "RunState", "now_iso", "thread_state_json"]

logger = logging.getLogger("stepgraph.server")

#: Exceptions whose message reaches the client (the reference's list + stepgraph's own).
_PUBLIC_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    RuntimeError,
    RecursionError,
    TimeoutError,
    StepgraphError,
)

TERMINAL = ("success", "error", "interrupted", "timeout")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def new_id() -> str:
    """A UUIDv7 (time-ordered) id, as the reference uses for threads and runs."""
    return new_checkpoint_id()


def error_json(exc: BaseException) -> dict[str, str]:
    """``{"error": class name, "message": ...}`` as the reference reports a run error."""
    message = str(exc) if isinstance(exc, _PUBLIC_ERRORS) else "An internal error occurred"
    if isinstance(exc, KeyError) and exc.args:
        message = str(exc.args[0])
    return {"error": type(exc).__name__, "message": message}


def _interrupts_json(interrupts: Sequence[Interrupt]) -> list[dict[str, Any]]:
    return [{"id": i.id, "value": _json.jsonable(i.value)} for i in interrupts]


def thread_state_json(snapshot: StateSnapshot) -> dict[str, Any]:
    """A ``StateSnapshot`` as the ``ThreadState`` JSON the SDK expects."""
    config = (snapshot.config or {}).get("configurable") or {}
    parent = (snapshot.parent_config or {}).get("configurable") if snapshot.parent_config else None
    tasks = []
    for task in snapshot.tasks:
        state: Any = task.state
        if isinstance(state, StateSnapshot):
            state = thread_state_json(state)
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path),
                "error": None if task.error is None else repr(task.error),
                "interrupts": _interrupts_json(task.interrupts),
                "checkpoint": None,
                "state": state,
                "result": task.result,
            }
        )
    checkpoint = (
        {
            "thread_id": config.get("thread_id"),
            "checkpoint_ns": config.get("checkpoint_ns", ""),
            "checkpoint_id": config.get("checkpoint_id"),
            "checkpoint_map": {},
        }
        if config.get("checkpoint_id")
        else None
    )
    parent_checkpoint = (
        {
            "thread_id": parent.get("thread_id"),
            "checkpoint_ns": parent.get("checkpoint_ns", ""),
            "checkpoint_id": parent.get("checkpoint_id"),
            "checkpoint_map": {},
        }
        if parent and parent.get("checkpoint_id")
        else None
    )
    out = {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": snapshot.metadata,
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent_checkpoint,
        "interrupts": _interrupts_json(snapshot.interrupts),
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent_checkpoint["checkpoint_id"] if parent_checkpoint else None,
    }
    result: dict[str, Any] = _json.jsonable(out)
    return result


def empty_thread_state() -> dict[str, Any]:
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "metadata": None,
        "created_at": None,
        "checkpoint": None,
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }


def _to_send(value: Any) -> Any:
    if isinstance(value, dict) and "node" in value:
        return Send(value["node"], value.get("input"))
    return value


def command_from(body: Mapping[str, Any]) -> Command[Any]:
    """A run body's ``command`` as a :class:`Command`."""
    goto: Any = body.get("goto") or ()
    goto = [_to_send(g) for g in goto] if isinstance(goto, list) else _to_send(goto)
    update = body.get("update")
    if isinstance(update, list):
        update = [tuple(pair) for pair in update]
    return Command(resume=body.get("resume"), update=update, goto=goto)


@attrs.define(eq=False)
class RunState:
    """What the server holds for a run beyond its record: log, scope, outcome."""

    record: dict[str, Any]
    entry: GraphEntry
    log: EventLog
    modes: tuple[str, ...]
    scope: anyio.CancelScope = attrs.field(factory=anyio.CancelScope)
    done: anyio.Event = attrs.field(factory=anyio.Event)
    started: bool = False
    cancel_action: str | None = None
    last_values: Any = None
    interrupts: tuple[Interrupt, ...] = ()
    output: Any = None
    """The wait/join body once the run ended."""
    floor_id: str = ""
    """Checkpoint ids below this one were written before the run (rollback keeps them)."""
    message_seen: set[str] = attrs.field(factory=set)
    message_text: dict[str, Any] = attrs.field(factory=dict)

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def thread_id(self) -> str:
        return str(self.record["thread_id"])

    @property
    def kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = self.record["kwargs"]
        return kwargs


@attrs.define(eq=False)
class _Slot:
    """One thread's run queue: the run executing and those waiting behind it."""

    active: RunState | None = None
    queue: deque[RunState] = attrs.field(factory=deque)

    def runs(self) -> list[RunState]:
        return ([self.active] if self.active else []) + list(self.queue)


class Manager:
    """The server's threads, runs and graphs; runs execute in ``task_group``."""

    def __init__(
        self,
        graphs: Sequence[GraphEntry],
        saver: Any,
        store: MetaStore,
        *,
        log_size: int = 10_000,
        recent_runs: int = 256,
        workers: int = 32,
    ) -> None:
        self.graphs = {g.graph_id: g for g in graphs}
        self._by_system_id = {g.assistant_id: g for g in graphs}
        self.assistants = Assistants(graphs, store, now_iso())
        self.items = Items(store)
        self.saver = saver
        self.store = store
        self.log_size = log_size
        self.recent_runs = recent_runs
        self.threads: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.live: dict[str, RunState] = {}
        self._finished: OrderedDict[str, RunState] = OrderedDict()
        self._slots: dict[str, _Slot] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._closing = False
        self._workers = anyio.CapacityLimiter(workers)

    # -- lifetime --------------------------------------------------------------

    async def start(self, tg: anyio.abc.TaskGroup) -> None:
        """Load records, fix runs a previous process left behind, start queued ones."""
        self._tg = tg
        tg.start_soon(self.store.writer, name="stepgraph server database writer")
        self.assistants.restore(await self.store.load_assistants())
        self.items.restore(await self.store.load_items())
        threads, runs = await self.store.load()
        for thread in threads:
            self.threads[thread["thread_id"]] = thread
        requeue: list[dict[str, Any]] = []
        for run in sorted(runs, key=lambda r: str(r["created_at"])):
            self.runs[run["run_id"]] = run
            if run["status"] == "running":
                run["status"] = "error"
                run["updated_at"] = now_iso()
                self.store.put_run(run)
                stale = self.threads.get(run["thread_id"])
                if stale is not None:
                    thread = stale
                    thread["status"] = "error"
                    thread["error"] = {
                        "error": "ServerRestart",
                        "message": "the server stopped while this run was running",
                    }
                    self.store.put_thread(thread)
            elif run["status"] == "pending":
                requeue.append(run)
        for run in requeue:
            entry = self.entry_for_assistant(run["assistant_id"])
            if entry is None or run["thread_id"] not in self.threads:
                run["status"] = "error"
                self.store.put_run(run)
                continue
            self._enqueue(self._state_for(run, entry))
        await self.store.flush()

    async def shutdown(self) -> None:
        """Cancel every run (they end ``interrupted``) and wait for them to stop; queued
        runs stay ``pending`` and start when a server opens the database again."""
        self._closing = True
        for rs in list(self.live.values()):
            rs.cancel_action = rs.cancel_action or "interrupt"
            rs.scope.cancel()
        for rs in list(self.live.values()):
            if rs.started:
                await rs.done.wait()
        await self.store.flush()

    # -- lookups ---------------------------------------------------------------

    def entry_for_assistant(self, assistant_id: str) -> GraphEntry | None:
        """The graph an assistant runs (a deleted system assistant: still its graph)."""
        record = self.assistants.records.get(assistant_id)
        if record is not None:
            return self.assistants.entry(record)
        return self._by_system_id.get(assistant_id)

    def run_state(self, run_id: str) -> RunState | None:
        return self.live.get(run_id) or self._finished.get(run_id)

    async def event_log(self, run: Mapping[str, Any]) -> EventLog | None:
        """The run's event log: live, recent, or (a finished resumable run) stored."""
        rs = self.run_state(str(run["run_id"]))
        if rs is not None:
            return rs.log
        if not (run.get("kwargs") or {}).get("stream_resumable"):
            return None
        stored = await self.store.events(str(run["run_id"]))
        if not stored:
            return None
        prefix = stored[0].event_id.rsplit("-", 1)[0]
        entries = [LogEntry(e.seq, e.event, e.data) for e in stored]
        return EventLog.restored(entries, prefix)

    def thread_runs(self, thread_id: str) -> list[RunState]:
        slot = self._slots.get(thread_id)
        return slot.runs() if slot else []

    def is_busy(self, thread_id: str) -> bool:
        return bool(self.thread_runs(thread_id))

    def entry_for_thread(self, thread: Mapping[str, Any]) -> GraphEntry | None:
        """The graph that reads the thread's state: its latest run's (threads may run
        several graphs), else ``metadata.graph_id``."""
        thread_id = thread.get("thread_id")
        latest = max(
            (r for r in self.runs.values() if r["thread_id"] == thread_id),
            key=lambda r: str(r["created_at"]),
            default=None,
        )
        entry = self.entry_for_assistant(latest["assistant_id"]) if latest else None
        if entry is not None:
            return entry
        graph_id = (thread.get("metadata") or {}).get("graph_id")
        return self.graphs.get(graph_id) if isinstance(graph_id, str) else None

    # -- threads ---------------------------------------------------------------

    async def create_thread(
        self,
        thread_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        flush: bool = True,
    ) -> dict[str, Any]:
        now = now_iso()
        thread: dict[str, Any] = {
            "thread_id": thread_id or new_id(),
            "created_at": now,
            "updated_at": now,
            "state_updated_at": now,
            "metadata": dict(metadata or {}),
            "status": "idle",
            "config": {},
            "values": None,
            "interrupts": {},
            "error": None,
        }
        self.threads[thread["thread_id"]] = thread
        self.store.put_thread(thread)
        if flush:
            await self.store.flush()
        return thread

    async def save_thread(self, thread: dict[str, Any], *, flush: bool = True) -> None:
        """Record a changed thread; with ``flush``, return once it is committed."""
        thread["updated_at"] = now_iso()
        self.store.put_thread(thread)
        if flush:
            await self.store.flush()

    async def delete_thread(self, thread_id: str) -> None:
        for rs in self.thread_runs(thread_id):
            await self.cancel(rs, "interrupt", wait=True)
        self.threads.pop(thread_id, None)
        for run_id in [r for r, run in self.runs.items() if run["thread_id"] == thread_id]:
            self.runs.pop(run_id, None)
            self._finished.pop(run_id, None)
        self._slots.pop(thread_id, None)
        await self.saver.adelete_thread(thread_id)
        self.store.delete_thread(thread_id)
        await self.store.flush()

    async def graph_config(self, thread_id: str, checkpoint: Mapping[str, Any] | None) -> Any:
        configurable = {"thread_id": thread_id, "checkpoint_ns": ""}
        if checkpoint:
            configurable.update({k: v for k, v in checkpoint.items() if v is not None})
            configurable["thread_id"] = thread_id
        return {"configurable": configurable}

    async def refresh_thread(
        self, thread_id: str, *, status: str | None = None, flush: bool = True
    ) -> None:
        """Re-read the thread's values and interrupts from its latest checkpoint."""
        thread = self.threads.get(thread_id)
        if thread is None:
            return
        entry = self.entry_for_thread(thread)
        if entry is not None:
            try:
                async with entry.graph({}, self.saver) as graph:
                    snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
            except Exception:
                logger.exception("reading the state of thread %s failed", thread_id)
            else:
                has_checkpoint = bool(snapshot.created_at)
                thread["values"] = _json.jsonable(snapshot.values) if has_checkpoint else None
                thread["interrupts"] = {
                    t.id: _interrupts_json(t.interrupts) for t in snapshot.tasks if t.interrupts
                }
                thread["state_updated_at"] = now_iso()
        if status is not None:
            thread["status"] = status
        elif not self.is_busy(thread_id):
            thread["status"] = "interrupted" if thread.get("interrupts") else "idle"
        await self.save_thread(thread, flush=flush)

    async def copy_checkpoints(
        self,
        source: str,
        target: str,
        *,
        below: str | None = None,
        only: set[str] | None = None,
    ) -> None:
        """Copy ``source``'s checkpoints (those with ids below ``below``, or those in
        ``only``, which then lose their parent links) to ``target``."""
        saved = [t async for t in self.saver.alist({"configurable": {"thread_id": source}})]
        saved.sort(key=lambda t: t.checkpoint.id)
        for item in saved:
            if below is not None and item.checkpoint.id >= below:
                continue
            if only is not None and item.checkpoint.id not in only:
                continue
            ns = item.config["configurable"].get("checkpoint_ns", "")
            configurable = {"thread_id": target, "checkpoint_ns": ns}
            parent = (item.parent_config or {}).get("configurable", {}).get("checkpoint_id")
            if parent and only is None:
                configurable["checkpoint_id"] = parent
            new_config = await self.saver.aput(
                {"configurable": configurable}, item.checkpoint, item.metadata
            )
            by_task: dict[str, list[tuple[str, Any]]] = {}
            for write in item.pending_writes:
                by_task.setdefault(write.task_id, []).append((write.channel, write.value))
            for task_id, writes in by_task.items():
                await self.saver.aput_writes(new_config, writes, task_id)

    async def keep_latest_checkpoint(self, thread_id: str) -> None:
        """Drop every checkpoint of the thread but the latest of each namespace (the
        root's and, say, an interrupted subgraph's), with their pending writes."""
        latest: dict[str, str] = {}
        async for item in self.saver.alist({"configurable": {"thread_id": thread_id}}):
            ns = item.config["configurable"].get("checkpoint_ns", "")
            latest[ns] = max(latest.get(ns, ""), item.checkpoint.id)
        if not latest:
            return
        scratch = f"__prune__{uuid.uuid4()}"
        await self.copy_checkpoints(thread_id, scratch, only=set(latest.values()))
        await self.saver.adelete_thread(thread_id)
        await self.copy_checkpoints(scratch, thread_id)
        await self.saver.adelete_thread(scratch)

    async def rollback_checkpoints(self, thread_id: str, below: str) -> None:
        """Drop the thread's checkpoints with ids from ``below`` on (a rolled-back run's)."""
        scratch = f"__rollback__{uuid.uuid4()}"
        await self.copy_checkpoints(thread_id, scratch, below=below)
        await self.saver.adelete_thread(thread_id)
        await self.copy_checkpoints(scratch, thread_id)
        await self.saver.adelete_thread(scratch)

    # -- runs: creation --------------------------------------------------------

    def _state_for(self, record: dict[str, Any], entry: GraphEntry) -> RunState:
        kwargs = record["kwargs"]
        modes = tuple(kwargs.get("stream_mode") or ("values",))
        id_prefix = str(int(time.time() * 1000))
        return RunState(record, entry, EventLog(self.log_size, id_prefix), modes)

    async def create_run(
        self,
        thread_id: str,
        entry: GraphEntry,
        kwargs: dict[str, Any],
        *,
        metadata: Mapping[str, Any] | None,
        multitask_strategy: str,
        assistant_id: str | None = None,
        durable: bool = True,
    ) -> RunState:
        """Record a pending run and queue it on its thread (the thread must exist and
        ``reject`` must have been checked by the caller). With ``durable``, the run and
        its thread are committed before the run starts (a background run's id outlives a
        restart); without, the commit follows moments later (a stream or wait answers
        from this process, so its first event need not wait for the database)."""
        now = now_iso()
        assistant_id = assistant_id or entry.assistant_id
        record = {
            "run_id": new_id(),
            "thread_id": thread_id,
            "assistant_id": assistant_id,
            "created_at": now,
            "updated_at": now,
            "status": "pending",
            "metadata": dict(metadata or {}),
            "kwargs": kwargs,
            "multitask_strategy": multitask_strategy,
        }
        rs = self._state_for(record, entry)
        if multitask_strategy in ("interrupt", "rollback"):
            for other in self.thread_runs(thread_id):
                await self.cancel(other, multitask_strategy, wait=False)
        self.runs[rs.run_id] = record
        self.store.put_run(record)
        thread = self.threads[thread_id]
        meta = thread.setdefault("metadata", {})
        meta.setdefault("graph_id", entry.graph_id)
        meta.setdefault("assistant_id", assistant_id)
        thread["status"] = "busy"
        # one commit: the run, its thread (and a new thread)
        await self.save_thread(thread, flush=durable)
        self._enqueue(rs)
        return rs

    def _enqueue(self, rs: RunState) -> None:
        self.live[rs.run_id] = rs
        rs.log.append("metadata", _json.dumps({"run_id": rs.run_id, "attempt": 1}))
        slot = self._slots.setdefault(rs.thread_id, _Slot())
        if slot.active is None:
            self._start(slot, rs)
        else:
            slot.queue.append(rs)

    def _start(self, slot: _Slot, rs: RunState) -> None:
        assert self._tg is not None
        slot.active = rs
        rs.started = True
        self._tg.start_soon(self._execute, rs, name=f"stepgraph run {rs.run_id}")

    # -- runs: execution -------------------------------------------------------

    async def _execute(self, rs: RunState) -> None:
        outcome, error = "cancelled", None
        try:
            with rs.scope:
                after = rs.kwargs.get("after_seconds")
                if after:
                    await anyio.sleep(float(after))
                async with self._workers:  # pending until one of the workers is free
                    rs.floor_id = new_checkpoint_id()
                    rs.record["status"] = "running"
                    rs.record["updated_at"] = now_iso()
                    self.store.put_run(rs.record)  # committed with the next flush
                    outcome, error = await self._stream(rs)
        except ThreadBusyError as exc:
            outcome, error = "error", exc
        except Exception as exc:  # graph factory or setup failed
            logger.exception("run %s failed before streaming", rs.run_id)
            outcome, error = "error", exc
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish(rs, outcome, error)

    def _run_config(self, rs: RunState) -> dict[str, Any]:
        kwargs = rs.kwargs
        config: dict[str, Any] = dict(kwargs.get("config") or {})
        configurable = dict(config.get("configurable") or {})
        configurable.update(
            thread_id=rs.thread_id,
            run_id=rs.run_id,
            assistant_id=rs.record["assistant_id"],
            graph_id=rs.entry.graph_id,
        )
        checkpoint = kwargs.get("checkpoint") or {}
        for key in ("checkpoint_id", "checkpoint_ns"):
            if checkpoint.get(key):
                configurable[key] = checkpoint[key]
        if kwargs.get("checkpoint_id"):
            configurable["checkpoint_id"] = kwargs["checkpoint_id"]
        config["configurable"] = configurable
        config["metadata"] = {
            **(config.get("metadata") or {}),
            **rs.record["metadata"],
            "run_id": rs.run_id,
            "thread_id": rs.thread_id,
            "graph_id": rs.entry.graph_id,
            "assistant_id": rs.record["assistant_id"],
        }
        return config

    async def _stream(self, rs: RunState) -> tuple[str, BaseException | None]:
        kwargs = rs.kwargs
        config = self._run_config(rs)
        graph_input: Any = kwargs.get("input")
        if kwargs.get("command") is not None:
            graph_input = command_from(kwargs["command"])
        engine_modes = {"values"}
        for mode in rs.modes:
            engine_modes.add("messages" if mode == "messages-tuple" else mode)
        async with rs.entry.graph(config, self.saver) as graph:
            stream = graph.astream(
                graph_input,
                config,
                context=kwargs.get("context"),
                stream_mode=sorted(engine_modes),
                subgraphs=bool(kwargs.get("stream_subgraphs")),
                interrupt_before=kwargs.get("interrupt_before"),
                interrupt_after=kwargs.get("interrupt_after"),
                durability=kwargs.get("durability"),
                version="v2",
            )
            async with stream as parts:
                try:
                    async for part in parts:
                        self._on_part(rs, part)
                except Exception as exc:
                    return "error", exc
            return str(stream.outcome), None

    def _on_part(self, rs: RunState, part: Mapping[str, Any]) -> None:
        mode: str = part["type"]
        ns: tuple[str, ...] = tuple(part["ns"])
        data = part["data"]
        interrupts = part.get("interrupts") or ()
        if mode == "values" and not ns:
            rs.last_values = data
            if interrupts:
                rs.interrupts = tuple(interrupts)
        suffix = "".join(f"|{segment}" for segment in ns)
        log = rs.log
        if mode == "messages":
            if "messages-tuple" in rs.modes:
                log.append("messages" + suffix, _json.dumps(data))
            if "messages" in rs.modes:
                self._message_events(rs, data, suffix)
            return
        if mode not in rs.modes:
            return
        if mode == "values" and interrupts and isinstance(data, dict):
            data = {**data, "__interrupt__": list(interrupts)}
        elif mode == "checkpoints" or (
            mode == "debug" and isinstance(data, dict) and data.get("type") == "checkpoint"
        ):
            data = _with_checkpoint_keys(data, debug=mode == "debug")
        log.append(mode + suffix, _json.dumps(data))

    def _message_events(self, rs: RunState, data: Any, suffix: str) -> None:
        chunk, metadata = data
        as_dict = _json.jsonable(chunk)
        if not isinstance(as_dict, dict):
            return
        message_id = str(as_dict.get("id") or "")
        if message_id not in rs.message_seen:
            rs.message_seen.add(message_id)
            rs.log.append(
                "messages/metadata" + suffix,
                _json.dumps({message_id: {"metadata": metadata}}),
            )
        previous = rs.message_text.get(message_id)
        if previous is None:
            merged = {**as_dict, "type": "ai"}
        else:
            merged = {**previous, **{k: v for k, v in as_dict.items() if k != "content"}}
            merged["content"] = _concat(previous.get("content"), as_dict.get("content"))
            merged["type"] = "ai"
        rs.message_text[message_id] = merged
        rs.log.append("messages/partial" + suffix, _json.dumps([merged]))

    async def _finish(self, rs: RunState, outcome: str, error: BaseException | None) -> None:
        record = rs.record
        rolled_back = outcome == "cancelled" and rs.cancel_action == "rollback"
        if error is not None:
            if not isinstance(error, _PUBLIC_ERRORS):
                logger.error("run %s failed", rs.run_id, exc_info=error)
            err = error_json(error)
            rs.log.append("error", _json.dumps(err))
            rs.output = {"__error__": err}
            status = "error"
        else:
            values = rs.last_values
            if rs.interrupts and outcome == "interrupted":
                base = values if isinstance(values, dict) else {}
                values = {**base, "__interrupt__": list(rs.interrupts)}
            rs.output = _json.jsonable(values)
            status = {"done": "success", "interrupted": "interrupted"}.get(outcome, "interrupted")
        record["status"] = status
        record["updated_at"] = now_iso()
        thread_id = rs.thread_id
        slot = self._slots.get(thread_id)
        if slot is not None:
            if slot.active is rs:
                slot.active = None
            elif rs in slot.queue:
                slot.queue.remove(rs)
        try:
            if rolled_back:
                self.runs.pop(rs.run_id, None)
                self.store.delete_run(rs.run_id)
                if rs.floor_id:
                    await self.rollback_checkpoints(thread_id, rs.floor_id)
            else:
                self.store.put_run(record)
                if rs.kwargs.get("stream_resumable"):
                    entries = rs.log.entries()
                    stored = [
                        StoredEvent(e.seq, rs.log.event_id(e.seq), e.event, e.data) for e in entries
                    ]
                    self.store.put_events(rs.run_id, thread_id, stored)
            thread = self.threads.get(thread_id)
            if thread is not None:
                if error is not None:
                    thread["error"] = error_json(error)
                elif outcome == "cancelled" and not rolled_back:
                    thread["error"] = {
                        "error": "UserInterrupt",
                        "message": "interrupt requested via POST …/cancel",
                    }
                else:
                    thread["error"] = None
                busy = slot is not None and bool(slot.runs())
                if busy:
                    thread_status = "busy"
                elif error is not None:
                    thread_status = "error"
                elif outcome in ("interrupted", "cancelled") and not rolled_back:
                    thread_status = "interrupted"
                else:
                    thread_status = "idle"
                await self.refresh_thread(thread_id, status=thread_status, flush=False)
                if not busy and thread_status == "idle" and thread.get("interrupts"):
                    thread["status"] = "interrupted"
                    await self.save_thread(thread, flush=False)
            await self.store.flush()
        except Exception:
            logger.exception("recording the end of run %s failed", rs.run_id)
        finally:
            rs.log.close()
            rs.done.set()
            self.live.pop(rs.run_id, None)
            self._finished[rs.run_id] = rs
            while len(self._finished) > self.recent_runs:
                self._finished.popitem(last=False)
            if slot is not None and not self._closing:
                while slot.active is None and slot.queue:
                    nxt = slot.queue.popleft()
                    self._start(slot, nxt)
                if slot.active is None and not slot.queue:
                    self._slots.pop(thread_id, None)
        if (
            rs.kwargs.get("temporary")
            and rs.kwargs.get("on_completion", "delete") == "delete"
            and not self.is_busy(thread_id)
        ):
            try:
                await self.delete_thread(thread_id)
            except Exception:
                logger.exception("deleting temporary thread %s failed", thread_id)
            # its output stays joinable among the recent runs (a join may be on its way)
            self._finished[rs.run_id] = rs
            while len(self._finished) > self.recent_runs:
                self._finished.popitem(last=False)

    # -- runs: cancel ----------------------------------------------------------

    async def cancel(self, rs: RunState, action: str, *, wait: bool) -> None:
        """Stop ``rs``: a queued run ends at once; a running one is cancelled and, with
        ``wait``, this returns only after its execution stopped and its status is stored."""
        if rs.done.is_set():
            return
        rs.cancel_action = action
        if not rs.started:
            slot = self._slots.get(rs.thread_id)
            if slot is not None and rs in slot.queue:
                slot.queue.remove(rs)
            rs.started = True
            await self._finish(rs, "cancelled", None)
            return
        rs.scope.cancel()
        if wait:
            await rs.done.wait()


def _concat(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    return b if b is not None else a


def _with_checkpoint_keys(data: Any, *, debug: bool) -> Any:
    payload = data.get("payload") if debug else data
    if not isinstance(payload, dict):
        return data

    def ref(config: Any) -> Any:
        if not isinstance(config, dict):
            return None
        c = config.get("configurable") or {}
        return {
            "checkpoint_id": c.get("checkpoint_id"),
            "thread_id": c.get("thread_id"),
            "checkpoint_ns": c.get("checkpoint_ns", ""),
        }

    extra = {}
    if "checkpoint" not in payload:
        extra["checkpoint"] = ref(payload.get("config"))
    if "parent_checkpoint" not in payload:
        extra["parent_checkpoint"] = ref(payload.get("parent_config"))
    payload = {**payload, **extra}
    return {**data, "payload": payload} if debug else payload
