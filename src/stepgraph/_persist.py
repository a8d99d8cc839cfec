"""The run's side of persistence: where a run starts from and what it saves.

Without a checkpointer every method is a cheap no-op. With one, each step's state is
saved as a checkpoint, each finished task's writes as pending writes (so completed
siblings are not re-run on resume), and interrupts and resume values alike.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import anyio
import anyio.abc
import attrs

from ._apply import TaskResult, apply_writes
from ._events import CheckpointEvent
from ._execute import Interrupted, Outcome
from ._plan import Pending, Task
from ._spec import GraphSpec
from ._writer import Emitter
from .checkpoint.base import Checkpoint, new_checkpoint_id
from .errors import EmptyInputError
from .types import Command, Interrupt, Send

__all__ = ["Persistence", "StartState"]

PENDING = "__pregel_pending__"
BREAKPOINT = "__pregel_breakpoint__"
ROUTES = "__routes__"
INTERRUPT = "__interrupt__"
RESUME = "__resume__"
ERROR = "__error__"
LAST = "__pregel_last__"
"""Channel naming the nodes whose writes made the checkpoint (``update_state``'s default ``as_node``)."""
_INTERNAL = (PENDING, BREAKPOINT, "__start__", LAST)


@attrs.frozen
class StartState:
    """Where a run starts: loaded state, what is pending, and the input to apply."""

    values: dict[str, Any]
    pending: Pending = attrs.Factory(Pending)
    step: int = -1
    input: Any = None
    goto: tuple[str | Send, ...] = ()
    from_start: bool = True
    keep_pending: bool = False
    resume: Mapping[str, list[Any]] = attrs.Factory(dict)
    resume_maps: Mapping[str, Mapping[str, Any]] = attrs.Factory(dict)
    """task id → {interrupt id: value} given in this resume (passed on to nested graphs)."""
    skip_interrupt_before: bool = False
    emit_current: bool = False
    replay_updates: tuple[tuple[str, Any], ...] = ()


def encode_pending(p: Pending) -> dict[str, Any]:
    # empty parts are left out (decode_pending reads a missing part as empty)
    out: dict[str, Any] = {"pull": {k: list(v) for k, v in p.pull.items()}}
    if p.push:
        out["push"] = [[s.node, s.arg] for s in p.push]
    if p.barriers:
        out["barriers"] = {k: sorted(v) for k, v in p.barriers.items()}
    if p.deferred:
        out["deferred"] = {k: list(v) for k, v in p.deferred.items()}
    return out


def decode_pending(d: Mapping[str, Any] | None) -> Pending:
    if not d:
        return Pending()
    return Pending(
        pull={k: tuple(v) for k, v in d.get("pull", {}).items()},
        push=tuple(Send(n, a) for n, a in d.get("push", ())),
        barriers={k: frozenset(v) for k, v in d.get("barriers", {}).items()},
        deferred={k: tuple(v) for k, v in d.get("deferred", {}).items()},
    )


def next_tasks(
    spec: GraphSpec, channel_values: Mapping[str, Any], checkpoint_id: str, step: int, ns: str
) -> tuple[Task, ...]:
    """The tasks a saved checkpoint schedules (the ids its runs and get_state use)."""
    from ._plan import PULL, plan_step, task_id
    from ._spec import START, NodeSpec

    if "__start__" in channel_values:
        path = (PULL, START)
        return (
            Task(
                id=task_id(checkpoint_id, ns, step + 1, START, path),
                name=START,
                path=path,
                triggers=(START,),
                node=NodeSpec(START, None, None),
            ),
        )
    return plan_step(
        spec,
        decode_pending(channel_values.get(PENDING)),
        step=step + 1,
        checkpoint_id=checkpoint_id,
        namespace=ns,
    )


_NOT_METADATA = frozenset(
    {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    }
)


def caller_metadata(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a saved checkpoint's metadata records of the caller's config (as LangGraph's
    savers do): the scalar entries of ``config["metadata"]``, then those of
    ``configurable`` not already taken, leaving out thread/checkpoint addressing, the
    per-task ``langgraph_*`` keys and ``__``-prefixed internals."""
    out: dict[str, Any] = {}
    for source in (config.get("metadata"), config.get("configurable")):
        for key, value in (source or {}).items():
            if key in out or key in _NOT_METADATA or str(key).startswith("__"):
                continue
            if isinstance(value, str):
                out[key] = value.replace("\x00", "")
            elif isinstance(value, (int, bool, float)):
                out[key] = value
    return out


def with_caller_metadata(metadata: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` plus :func:`caller_metadata` entries it does not set itself."""
    extra = caller_metadata(config)
    return {**metadata, **{k: v for k, v in extra.items() if k not in metadata}}


def state_values(spec: GraphSpec, channel_values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in channel_values.items() if k in spec.channels}


def _start_result(spec: GraphSpec, channel_values: Mapping[str, Any]) -> Any:
    """What the ``__start__`` task of an input checkpoint writes: the input's state keys."""
    given = channel_values.get("__start__")
    if not isinstance(given, Mapping):
        return given
    return {k: v for k, v in given.items() if k in spec.input_keys}


_second: tuple[int, str] = (-1, "")
"""The Unix second :func:`_now` last formatted, and its ISO 8601 form (to the second)."""


def _now() -> str:
    """The current UTC time in ISO 8601, as ``datetime.now(timezone.utc).isoformat()``."""
    global _second
    seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
    cached = _second  # one tuple, replaced whole: safe between threads
    if cached[0] != seconds:
        cached = _second = (seconds, datetime.fromtimestamp(seconds, timezone.utc).isoformat()[:19])
    return f"{cached[1]}.{micros:06d}+00:00" if micros else f"{cached[1]}+00:00"


def _fresh_values(spec: GraphSpec) -> dict[str, Any]:
    return {k: f() for k, f in spec.reducer_defaults.items()}


class Background:
    """Saver calls run one after another while the run goes on (durability "async").

    Calls queue in order; one drain task, started when the queue fills and ending when it
    empties, runs them inside a shielded scope: once submitted a call completes even if
    the run is cancelled, and the task group makes the run wait for it. The first failure
    skips the calls after it and is raised by the next :meth:`wait`. Calls of a saver
    that never suspends (``InMemorySaver``'s) run at once through :meth:`call`, with the
    same failure rules and no task at all."""

    def __init__(self, group: anyio.abc.TaskGroup) -> None:
        self._group = group
        self._queue: deque[Callable[[], Awaitable[Any]]] = deque()
        self._idle: anyio.Event | None = None
        """Set when the drain task has emptied the queue (None: no drain task running)."""
        self._error: Exception | None = None

    def submit(self, call: Callable[[], Awaitable[Any]]) -> None:
        if self._error is not None:
            return  # a call before it failed: skipped, as every call after a failure
        self._queue.append(call)
        if self._idle is None:
            self._idle = anyio.Event()
            self._group.start_soon(self._drain)

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run the synchronous ``fn(*args)`` now, in submission order (nothing queued)."""
        assert self._idle is None, "inline calls and queued calls are never mixed"
        if self._error is None:
            try:
                fn(*args)
            except Exception as exc:
                self._error = exc

    async def _drain(self) -> None:
        with anyio.CancelScope(shield=True):
            try:
                while self._queue:
                    call = self._queue.popleft()
                    if self._error is None:
                        try:
                            await call()
                        except Exception as exc:
                            self._error = exc
            finally:
                self._queue.clear()
                idle, self._idle = self._idle, None
                assert idle is not None
                idle.set()

    async def wait(self) -> None:
        """Until every submitted call has finished; raises the first failure."""
        if self._idle is not None:
            with anyio.CancelScope(shield=True):
                await self._idle.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def _inline(saver: Any) -> bool:
    """Whether ``saver`` stores with InMemorySaver's own methods, which never suspend
    (a subclass that overrides them, say with real I/O, is not)."""
    from .checkpoint.memory import InMemorySaver

    if not isinstance(saver, InMemorySaver):
        return False
    cls = InMemorySaver
    return all(
        getattr(getattr(saver, name, None), "__func__", None) is getattr(cls, name)
        for name in ("aput", "aput_writes", "_store", "_store_writes")
    )


class Persistence:
    """No checkpointer: nothing is saved; resuming is impossible."""

    saves = False
    """Whether the methods below do anything (the loop skips what only feeds them)."""
    checkpoint_id: str
    done_writes: Mapping[str, tuple[tuple[tuple[str, Any], ...], tuple[str | Send, ...]]] = {}

    def __init__(self, spec: GraphSpec) -> None:
        self.spec = spec
        self.checkpoint_id = os.urandom(16).hex()  # (as uuid4().hex, 5x cheaper)

    @staticmethod
    def create(
        checkpointer: Any,
        config: Mapping[str, Any],
        spec: GraphSpec,
        ns: tuple[str, ...],
        durability: str | None,
        emitter: Emitter,
        saves: anyio.abc.TaskGroup | None = None,
        *,
        parents: Mapping[str, str] | None = None,
    ) -> Persistence:
        if checkpointer is None or checkpointer is False:
            return Persistence(spec)
        persist = SavedPersistence(
            checkpointer, config, spec, ns, durability, emitter, parents=parents
        )
        if saves is not None and persist.durability == "async":
            persist.background = Background(saves)
        return persist

    async def load(self, input: Any, nested_resume: Mapping[str, Any] | None = None) -> StartState:
        spec = self.spec
        if input is None:
            raise EmptyInputError("Received no input for __start__")
        if isinstance(input, Command):
            if input.resume is not None:
                raise RuntimeError("Cannot use Command(resume=...) without checkpointer")
            # LangGraph applies the update as a write, then again as the START input
            update = _update_of(input)
            values, _ = apply_writes(spec, _fresh_values(spec), input_writes_of(spec, update))
            return StartState(values=values, input=update, goto=_goto(input))
        return StartState(values=_fresh_values(spec), input=input)

    async def save(
        self,
        values: Mapping[str, Any],
        pending: Pending,
        step: int,
        source: str,
        written: tuple[str, ...],
        ran: tuple[str, ...] = (),
    ) -> None:
        return None

    async def task_done(self, outcome: Outcome) -> None:
        return None

    async def task_failed(self, task: Task, error: BaseException) -> None:
        return None

    async def tasks_cancelled(self, tasks: Sequence[Task], reason: str) -> None:
        return None

    async def mark_breakpoint(
        self, values: Mapping[str, Any], pending: Pending, step: int, before: bool
    ) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def announce(self) -> None:
        """Stream the checkpoint a resumed run starts from (after the current values)."""
        return None


def input_writes_of(spec: GraphSpec, value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in value.items() if k in spec.channels]


def _goto(command: Command[Any]) -> tuple[str | Send, ...]:
    goto = command.goto
    if not goto:
        return ()
    if isinstance(goto, (list, tuple)):
        return tuple(goto)
    return (goto,)  # type: ignore[return-value]


def _update_of(command: Command[Any]) -> dict[str, Any]:
    update = command.update
    if update is None:
        return {}
    if isinstance(update, dict):
        return update
    return dict(update)


_CONFIG_KEYS_MESSAGE = (
    "Checkpointer requires one or more of the following 'configurable' keys: "
    "thread_id, checkpoint_ns, checkpoint_id"
)


class SavedPersistence(Persistence):
    """With a checkpointer: load the thread, save every step and every task's writes."""

    saves = True

    def __init__(
        self,
        checkpointer: Any,
        config: Mapping[str, Any],
        spec: GraphSpec,
        ns: tuple[str, ...],
        durability: str | None,
        emitter: Emitter,
        *,
        parents: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(spec)
        configurable = dict(config.get("configurable") or {})
        if not any(k in configurable for k in ("thread_id", "checkpoint_ns", "checkpoint_id")):
            raise ValueError(_CONFIG_KEYS_MESSAGE)
        self.saver = checkpointer
        self.ns = ns
        self.ns_str = "|".join(ns)
        self.thread_id = configurable.get("thread_id")
        self.user_configurable = {
            k: v
            for k, v in configurable.items()
            if not k.startswith("__")
            and k not in ("checkpoint_id", "checkpoint_ns", "checkpoint_map")
        }
        self.config: dict[str, Any] = {
            "configurable": {
                **self.user_configurable,
                "checkpoint_ns": configurable.get("checkpoint_ns", ""),
                **(
                    {"checkpoint_id": configurable["checkpoint_id"]}
                    if "checkpoint_id" in configurable
                    else {}
                ),
            }
        }
        self.metadata_extra = caller_metadata(config)
        """Saved with every checkpoint's metadata (not streamed: LangGraph's savers add it)."""
        self._announce: CheckpointEvent | None = None
        """The checkpoint a resumed run streams once the current values are out."""
        self.parents = dict(parents or {})
        """Namespace → checkpoint id of the enclosing graphs' checkpoints (nested runs)."""
        self.durability = durability or "async"
        self.background: Background | None = None
        """Set for durability "async": saves run while the next step does."""
        self.emitter = emitter
        self.done_writes = {}
        self._held_checkpoint: tuple[Any, dict[str, Any]] | None = None
        self._held_writes: list[tuple[list[tuple[str, Any]], str, str | None]] = []
        self._saved_id: str | None = None
        self._resumed: set[str] = set()
        self._explicit_checkpoint = "checkpoint_id" in configurable
        """The thread's latest checkpoint in storage when this run started."""
        self.parent_config: dict[str, Any] | None = None
        self._inline = _inline(checkpointer) and self.thread_id is not None
        """InMemorySaver's own methods (and a thread): saves run inline (see :class:`Background`)."""
        self._key = (str(self.thread_id), str(self.config["configurable"]["checkpoint_ns"] or ""))
        """(thread_id, checkpoint_ns) as the saver parses them from a config."""
        self._cfg_cache: tuple[str, dict[str, Any]] | None = None
        self._changed: set[str] = set()
        """State keys written since the last checkpoint this run saved or loaded."""

    def _cfg(self, checkpoint_id: str | None) -> dict[str, Any]:
        c = dict(self.config["configurable"])
        if checkpoint_id is None:
            c.pop("checkpoint_id", None)
        else:
            c["checkpoint_id"] = checkpoint_id
        return {"configurable": c}

    def _current_cfg(self) -> dict[str, Any]:
        """The config naming the current checkpoint: one shared dict for inline saves (which
        only read it), a fresh one for any other saver."""
        if not self._inline:
            return self._cfg(self.checkpoint_id)
        cached = self._cfg_cache
        if cached is None or cached[0] != self.checkpoint_id:
            cached = self._cfg_cache = (self.checkpoint_id, self._cfg(self.checkpoint_id))
        return cached[1]

    async def load(self, input: Any, nested_resume: Mapping[str, Any] | None = None) -> StartState:
        spec = self.spec
        resuming = nested_resume is not None
        if self.ns and not resuming and not isinstance(input, Command):
            # a nested run its host task starts afresh: an earlier call in this task (or
            # the original of a replayed step) may have left checkpoints here
            saved = None
        else:
            saved = await self.saver.aget_tuple(self.config)
        if resuming and saved is not None and not isinstance(input, Command):
            # the host task is being resumed: continue this subgraph where it stopped;
            # a finished one only reports its state, a paused one gets the host's answers
            # (with none, as for invoke(None), it asks again)
            paused = any(w.channel in (INTERRUPT, BREAKPOINT) for w in saved.pending_writes)
            more = paused or PENDING in saved.checkpoint.channel_values
            input = Command(resume=dict(nested_resume or {})) if more and nested_resume else None
            from_host = True
        else:
            from_host = False
        if saved is None and "checkpoint_id" in self.config["configurable"]:
            raise ValueError(
                f"No checkpoint {self.config['configurable']['checkpoint_id']!r} in thread "
                f"{self.thread_id!r}: pass a checkpoint_id from get_state_history(), or omit it "
                "to continue from the latest checkpoint"
            )
        if saved is not None:
            self.checkpoint_id = saved.checkpoint.id
            self._saved_id = saved.checkpoint.id
            self.parent_config = saved.config
            self.step = int(saved.metadata.get("step", -1))
        values = (
            state_values(spec, saved.checkpoint.channel_values)
            if saved is not None
            else _fresh_values(spec)
        )
        if saved is None and not values:
            values = _fresh_values(spec)
        pending = (
            decode_pending(saved.checkpoint.channel_values.get(PENDING))
            if saved is not None
            else Pending()
        )
        step = int(saved.metadata.get("step", -1)) if saved is not None else -1
        writes_by_task: dict[str, dict[str, list[Any]]] = {}
        if saved is not None:
            for w in saved.pending_writes:
                writes_by_task.setdefault(w.task_id, {}).setdefault(w.channel, []).append(w.value)
        paused_after = saved is not None and any(
            w.task_id == BREAKPOINT and w.value == "after" for w in saved.pending_writes
        )
        if (
            input is None
            and saved is not None
            and not pending
            and "__start__" in saved.checkpoint.channel_values
        ):
            # the run stopped right after saving its input: process that input now, on
            # top of that checkpoint (a replay of it first copies it as a fork)
            if "checkpoints" in self.emitter.wants:
                self._announce = self._saved_event(saved, values, step)
            if self._explicit_checkpoint:
                step = await self._fork(saved, values, pending, step)
            return StartState(
                values=values,
                step=step,
                input=saved.checkpoint.channel_values["__start__"],
                emit_current=True,
            )
        if input is None and saved is not None and not pending and not paused_after:
            # a finished thread: report its state, run nothing
            if self._explicit_checkpoint:
                step = await self._fork(saved, values, pending, step)
            return StartState(values=values, pending=pending, step=step, emit_current=True)
        if input is None or (isinstance(input, Command) and input.resume is not None):
            if saved is None or (not pending and not paused_after):
                if input is None:
                    raise EmptyInputError("Received no input for __start__")
                raise RuntimeError(
                    f"Cannot resume thread {self.thread_id!r}: it has no pending interrupt. "
                    "Start a run with an input instead of Command(resume=...)."
                )
            resume: dict[str, list[Any]] = {}
            resume_maps: dict[str, dict[str, Any]] = {}
            interrupts: dict[str, list[Interrupt]] = {}
            done: dict[str, Any] = {}
            errors: dict[str, Any] = {}
            marker = writes_by_task.pop(BREAKPOINT, {}).get(BREAKPOINT, [None])[-1]
            breakpoint_hit = marker == "before"
            for task_id, chans in writes_by_task.items():
                pending_here = [i for group in chans.get(INTERRUPT, []) for i in group]
                if INTERRUPT in chans and ROUTES not in chans:  # paused (or at a breakpoint)
                    interrupts[task_id] = pending_here
                    resume[task_id] = [v for group in chans.get(RESUME, []) for v in group]
                elif ERROR in chans:
                    errors[task_id] = chans[ERROR][-1]
                    continue
                else:
                    writes = tuple(
                        (k, v) for k, vs in chans.items() if k in spec.channels for v in vs
                    )
                    routes = tuple(r for group in chans.get(ROUTES, []) for r in group)
                    done[task_id] = (writes, routes)
            if isinstance(input, Command):
                value = input.resume
                pending_interrupts = [(tid, i) for tid, items in interrupts.items() for i in items]
                if (
                    isinstance(value, dict)
                    and all(map(_is_interrupt_id, value))
                    and (pending_interrupts or not from_host)
                ):
                    # a resume map (as LangGraph: every key looks like an interrupt id;
                    # interrupts it does not answer are raised again)
                    for tid, i in pending_interrupts:
                        if i.id in value:
                            resume.setdefault(tid, []).append(value[i.id])
                            resume_maps.setdefault(tid, {})[i.id] = value[i.id]
                elif len(pending_interrupts) > 1:
                    raise RuntimeError(
                        "When there are multiple pending interrupts, you must specify the "
                        "interrupt id when resuming. Docs: "
                        "https://docs.langchain.com/oss/python/langgraph/interrupts"
                        "#handling-multiple-interrupts."
                    )
                elif pending_interrupts:
                    tid, first = pending_interrupts[0]
                    resume.setdefault(tid, []).append(value)
                    resume_maps.setdefault(tid, {})[first.id] = value
                elif from_host and isinstance(value, dict) and value:
                    # edited after it paused: the host task's answers go to the one task
                    # the edit left pending (its interrupt id changed with the edit)
                    assert saved is not None
                    left = next_tasks(
                        spec,
                        saved.checkpoint.channel_values,
                        saved.checkpoint.id,
                        step,
                        self.ns_str,
                    )
                    if len(left) == 1:
                        resume[left[0].id] = list(value.values())
                # a static breakpoint: Command(resume=...) just continues
                for tid, values_ in resume.items():
                    await self.saver.aput_writes(self.parent_config, [(RESUME, values_)], tid)
            if self._explicit_checkpoint:
                done = {}  # replaying from a past checkpoint runs its tasks again
                if input is None:
                    # time travel: interrupts ask again, and the replay starts a new
                    # branch from a copy of the checkpoint (unless it is itself the
                    # thread's latest update or fork)
                    resume, resume_maps = {}, {}
                    step = await self._fork(saved, values, pending, step)
            self.done_writes = done
            self._resumed = set(interrupts)
            from ._apply import update_chunk
            from ._plan import plan_step

            planned = plan_step(
                spec,
                pending,
                step=step + 1,
                checkpoint_id=self.checkpoint_id,
                namespace=self.ns_str,
            )
            replay = tuple((t.name, update_chunk(done[t.id][0])) for t in planned if t.id in done)
            if "checkpoints" in self.emitter.wants and self.checkpoint_id == saved.checkpoint.id:
                # a resumed run streams the checkpoint it continues from, as saved
                self._announce = self._saved_event(
                    saved,
                    values,
                    step,
                    interrupts,
                    results={tid: dict(writes) for tid, (writes, _) in done.items()},
                    errors=errors,
                )
            return StartState(
                values=values,
                pending=pending,
                step=step,
                input=None,
                resume=resume,
                resume_maps=resume_maps,
                skip_interrupt_before=breakpoint_hit,
                emit_current=True,
                replay_updates=replay,
            )
        if isinstance(input, Command):
            update = _update_of(input)
            if saved is None:
                return StartState(values=values, input=update, goto=_goto(input), step=-1)
            marker = writes_by_task.get(BREAKPOINT, {}).get(BREAKPOINT, [None])[-1]
            return StartState(
                values=values,
                pending=pending,
                step=step,
                input=update,
                goto=_goto(input),
                from_start=False,
                keep_pending=True,
                # a Command continues a thread paused before a node, as resuming does
                skip_interrupt_before=marker == "before",
            )
        # new input: starts over from START on top of the thread's values
        await self._put(
            values,
            Pending(),
            step + 1 if saved is not None else -1,
            "input",
            extra={"__start__": input},
        )
        return StartState(
            values=values,
            pending=Pending(),
            step=step + 1 if saved is not None else -1,
            input=input,
        )

    async def _fork(
        self, saved: Any, values: Mapping[str, Any], pending: Pending, step: int
    ) -> int:
        """Replaying past checkpoint ``saved`` starts a new branch from a copy of it
        (source "fork"), unless it is itself the thread's latest update or fork. Returns
        the step the run continues from."""
        if saved.metadata.get("source") in ("update", "fork") and not await self._superseded(
            saved.checkpoint.id
        ):
            return step
        cv = saved.checkpoint.channel_values
        extra = {k: cv[k] for k in (LAST, "__start__") if cv.get(k)}
        await self._put(values, pending, step + 1, "fork", extra=extra, defer=True)
        return step + 1

    async def _superseded(self, checkpoint_id: str) -> bool:
        """Whether the thread has moved past checkpoint ``checkpoint_id``."""
        latest = await self.saver.aget_tuple(self._cfg(None))
        return latest is not None and latest.checkpoint.id != checkpoint_id

    async def _put(
        self,
        values: Mapping[str, Any],
        pending: Pending,
        step: int,
        source: str,
        extra: Mapping[str, Any] | None = None,
        defer: bool = False,
    ) -> None:
        channel_values = dict(values)
        changed = self._changed
        if pending:
            channel_values[PENDING] = encode_pending(pending)
            changed.add(PENDING)
        if extra:
            channel_values.update(extra)
            changed.update(extra)
        self._changed = set()
        checkpoint = Checkpoint(
            id=new_checkpoint_id(),
            ts=_now(),
            channel_values=channel_values,
            # with durability "exit" the stored parent is several steps back
            changed=frozenset(changed) if self.durability != "exit" else None,
        )
        metadata = {"source": source, "step": step, "parents": dict(self.parents)}
        if self.metadata_extra:
            saved_metadata = {
                **metadata,
                **{k: v for k, v in self.metadata_extra.items() if k not in metadata},
            }
        else:
            saved_metadata = metadata  # (neither is changed after this)
        parent = self._current_cfg() if self.parent_config is not None else self._cfg(None)
        new_config = await self._aput(parent, checkpoint, saved_metadata)
        if "checkpoints" in self.emitter.wants:
            event = self._checkpoint_event(
                new_config,
                metadata,
                values,
                checkpoint.id,
                channel_values,
                step,
                self.parent_config,
            )
            if defer:
                self._announce = event
            else:
                await self.emitter.send(event)
        self.parent_config = new_config
        self.checkpoint_id = checkpoint.id
        if self._inline and self.background is not None:  # (only read, as _current_cfg's)
            self._cfg_cache = (checkpoint.id, new_config)

    async def announce(self) -> None:
        if self._announce is not None:
            event, self._announce = self._announce, None
            await self.emitter.send(event)

    def _nested_config(self, task: Task) -> dict[str, Any] | None:
        """Where a task that runs a graph keeps that graph's state (None for others)."""
        from ._subgraphs import node_graph

        if node_graph(task.node) is None:
            return None
        ns = f"{task.name}:{task.id}"
        return {
            "configurable": {
                **({"thread_id": self.thread_id} if self.thread_id is not None else {}),
                "checkpoint_ns": f"{self.ns_str}|{ns}" if self.ns_str else ns,
            }
        }

    def _saved_event(
        self,
        saved: Any,
        values: Mapping[str, Any],
        step: int,
        interrupts: Mapping[str, Sequence[Interrupt]] | None = None,
        **found: Any,
    ) -> CheckpointEvent:
        """The ``checkpoints``-mode payload of a checkpoint loaded as it was stored."""
        return self._checkpoint_event(
            saved.config,
            saved.metadata,
            values,
            saved.checkpoint.id,
            saved.checkpoint.channel_values,
            step,
            saved.parent_config,
            interrupts,
            as_saved=True,
            **found,
        )

    def _checkpoint_event(
        self,
        config: Mapping[str, Any],
        metadata: Mapping[str, Any],
        values: Mapping[str, Any],
        checkpoint_id: str,
        channel_values: Mapping[str, Any],
        step: int,
        parent_config: Mapping[str, Any] | None,
        interrupts: Mapping[str, Sequence[Interrupt]] | None = None,
        as_saved: bool = False,
        results: Mapping[str, Any] | None = None,
        errors: Mapping[str, Any] | None = None,
    ) -> CheckpointEvent:
        """A ``checkpoints``-mode payload (LangGraph §3.6 shape). A new checkpoint's
        parent_config carries the caller's configurable keys; a loaded one's (``as_saved``)
        is the stored config, and its tasks that already finished show their ``results``."""
        tasks = next_tasks(self.spec, channel_values, checkpoint_id, step, self.ns_str)
        configurable = _payload_configurable(self.user_configurable, config)
        if parent_config is None or (self.durability == "exit" and not as_saved):
            parent = None  # (with durability "exit" the parent was never saved)
        elif as_saved:
            parent = {"configurable": dict(parent_config["configurable"])}
        else:
            parent = {"configurable": _payload_configurable(self.user_configurable, parent_config)}
        payload = {  # LangGraph's key order, which a printed chunk shows
            "config": {"configurable": configurable},
            "parent_config": parent,
            "values": state_values(self.spec, values),
            "metadata": dict(metadata),
            "next": [t.name for t in tasks],
            "tasks": [
                {"id": t.id, "name": t.name, "error": errors[t.id], "state": self._nested_config(t)}
                if errors and t.id in errors
                else {
                    "id": t.id,
                    "name": t.name,
                    **(
                        {"result": _start_result(self.spec, channel_values)}
                        if as_saved and t.name == "__start__"
                        else {"result": results[t.id]}
                        if results and t.id in results
                        else {}
                    ),
                    "interrupts": tuple(
                        {"value": i.value, "id": i.id, "response_schema": i.response_schema}
                        for i in (interrupts or {}).get(t.id, ())
                    ),
                    "state": self._nested_config(t),
                }
                for t in tasks
            ],
        }
        return CheckpointEvent(self.ns, step, payload)

    async def save(
        self,
        values: Mapping[str, Any],
        pending: Pending,
        step: int,
        source: str,
        written: tuple[str, ...],
        ran: tuple[str, ...] = (),
    ) -> None:
        self.done_writes = {}
        self._changed.update(written)
        await self._put(
            values,
            pending,
            step,
            "loop" if source in ("input", "loop") else source,
            extra={LAST: list(ran)} if ran else None,
        )

    async def task_done(self, outcome: Outcome) -> None:
        if self.parent_config is None:
            return
        cfg = self._current_cfg()
        if isinstance(outcome, Interrupted):
            await self._aput_writes(cfg, [(INTERRUPT, list(outcome.interrupts))], outcome.task.id)
            return
        assert isinstance(outcome, TaskResult)
        writes: list[tuple[str, Any]] = list(outcome.writes)
        # ROUTES is always written on success: it marks the task finished (even one
        # that was interrupted before and has been resumed to completion)
        writes.append((ROUTES, list(outcome.routes)))
        await self._aput_writes(cfg, writes, outcome.task.id)

    async def task_failed(self, task: Task, error: BaseException) -> None:
        if self.parent_config is None:
            return
        await self._aput_writes(self._current_cfg(), [(ERROR, repr(error))], task.id)

    async def tasks_cancelled(self, tasks: Sequence[Task], reason: str) -> None:
        """Record that ``tasks`` were cancelled mid-step (they run again on resume)."""
        if self.parent_config is None:
            return
        cfg = self._current_cfg()
        for task in tasks:
            await self._aput_writes(cfg, [(ERROR, f"Cancelled: {reason}")], task.id)

    async def mark_breakpoint(
        self, values: Mapping[str, Any], pending: Pending, step: int, before: bool
    ) -> None:
        if self.parent_config is not None:
            await self._aput_writes(
                self._current_cfg(),
                [(BREAKPOINT, "before" if before else "after")],
                BREAKPOINT,
            )

    # durability="exit" keeps the last checkpoint (and its writes) until the run ends

    async def _aput(
        self, parent: dict[str, Any], checkpoint: Any, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        if self.background is not None:
            # at most one checkpoint in flight: step N's is saved while step N+1 runs
            await self.background.wait()
            if self._inline:
                parent_id = parent["configurable"].get("checkpoint_id")
                self.background.call(self.saver._store, *self._key, parent_id, checkpoint, metadata)
            else:
                self.background.submit(lambda: self.saver.aput(parent, checkpoint, metadata))
            return {"configurable": {**parent["configurable"], "checkpoint_id": checkpoint.id}}
        if self.durability != "exit":
            config: dict[str, Any] = await self.saver.aput(parent, checkpoint, metadata)
            return config
        self._held_checkpoint = (checkpoint, metadata)
        self._held_writes = []
        return {"configurable": {**parent["configurable"], "checkpoint_id": checkpoint.id}}

    async def _aput_writes(
        self, cfg: dict[str, Any], writes: Sequence[tuple[str, Any]], task_id: str
    ) -> None:
        if self.background is not None:
            writes = list(writes)
            if self._inline:
                checkpoint_id = cfg["configurable"]["checkpoint_id"]
                self.background.call(
                    self.saver._store_writes, *self._key, checkpoint_id, writes, task_id
                )
            else:
                self.background.submit(lambda: self.saver.aput_writes(cfg, writes, task_id))
            return
        if self.durability != "exit":
            await self.saver.aput_writes(cfg, writes, task_id)
            return
        # kept until the run ends; only writes on its final checkpoint are stored
        self._held_writes.append((list(writes), task_id, cfg["configurable"].get("checkpoint_id")))

    async def flush(self) -> None:
        if self.background is not None:
            await self.background.wait()
        held, self._held_checkpoint = self._held_checkpoint, None
        writes, self._held_writes = self._held_writes, []
        if held is not None:
            checkpoint, metadata = held
            parent = self._cfg(self._saved_id)
            if self._saved_id is None:
                parent["configurable"].pop("checkpoint_id", None)
            config = await self.saver.aput(parent, checkpoint, metadata)
        elif self.parent_config is not None:
            config = self._cfg(self.checkpoint_id)
        else:
            return
        for task_writes, task_id, target in writes:
            if target == self.checkpoint_id:
                await self.saver.aput_writes(config, task_writes, task_id)


def _is_interrupt_id(key: object) -> bool:
    """Whether ``key`` has the shape of an interrupt id (32 hex digits)."""
    if not isinstance(key, str) or len(key) != 32:
        return False
    try:
        int(key, 16)
    except ValueError:
        return False
    return True


def _payload_configurable(user: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """A streamed checkpoint's ``configurable``: namespace, the caller's keys, then the
    checkpoint's own (LangGraph's key order)."""
    own = config["configurable"]
    return {"checkpoint_ns": own.get("checkpoint_ns", ""), **user, **own}
