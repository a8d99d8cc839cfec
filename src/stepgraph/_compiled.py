"""``CompiledStateGraph``: the runnable façade over the run loop and the streams."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from . import _state
from ._context import TaskContext, current_task_context, task_context_var
from ._events import Event
from ._loop import RunResult, run_graph, run_nested
from ._offload import offload_driver, run_offloaded
from ._project import Projection
from ._spec import GraphSpec
from ._stream import DEFAULT_BUFFER, RunStream
from ._sync import iterate_sync, loop_running_here, portal, run_sync
from ._writer import BufferEmitter, NullEmitter, StreamEmitter
from .types import GraphOutput, StateSnapshot

if TYPE_CHECKING:
    from ._builder import StateGraph

__all__ = ["CompiledStateGraph"]

StateT = TypeVar("StateT")
ContextT = TypeVar("ContextT")
InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


def _merge_config(*configs: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for config in configs:
        if not config:
            continue
        for key, value in config.items():
            if key == "configurable":
                out["configurable"] = {**out.get("configurable", {}), **value}
            elif key == "metadata":
                out["metadata"] = {**out.get("metadata", {}), **value}
            elif key == "tags":
                out["tags"] = [*out.get("tags", []), *value]
            else:
                out[key] = value
    return out


def _names(value: Sequence[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class CompiledStateGraph(Generic[StateT, ContextT, InputT, OutputT]):
    """A compiled graph: ``invoke``/``ainvoke``, ``stream``/``astream`` and state access.

    Use it as a node of another graph, or call it inside a node: nested runs join the
    caller's task tree and stream under the caller's namespace.
    """

    _is_stepgraph_compiled = True

    def __init__(
        self,
        *,
        spec: GraphSpec,
        builder: StateGraph[StateT, ContextT, InputT, OutputT],
        checkpointer: Any = None,
        store: Any = None,
        interrupt_before: tuple[str, ...] = (),
        interrupt_after: tuple[str, ...] = (),
        debug: bool = False,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.builder = builder
        self.checkpointer = checkpointer
        self.store = store
        self.interrupt_before = interrupt_before
        self.interrupt_after = interrupt_after
        self.debug = debug
        self.config: dict[str, Any] = dict(config or {})
        self.stream_mode = "updates"

    @property
    def name(self) -> str:
        """The graph's name (``compile(name=...)``; ``"LangGraph"`` by default)."""
        return self.spec.name

    @property
    def nodes(self) -> Mapping[str, Any]:
        return self.spec.nodes

    @property
    def output_channels(self) -> tuple[str, ...]:
        return self.spec.output_keys

    def with_config(
        self, config: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> CompiledStateGraph[StateT, ContextT, InputT, OutputT]:
        """A copy of this graph whose runs start from ``config`` (merged under each call's)."""
        return CompiledStateGraph(
            spec=self.spec,
            builder=self.builder,
            checkpointer=self.checkpointer,
            store=self.store,
            interrupt_before=self.interrupt_before,
            interrupt_after=self.interrupt_after,
            debug=self.debug,
            config=_merge_config(self.config, config, kwargs),
        )

    # -- running -----------------------------------------------------------------

    def _run_factory(
        self,
        input: Any,
        config: Mapping[str, Any] | None,
        *,
        context: Any,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
        durability: str | None,
        parent: TaskContext | None,
        deterministic: bool = False,
    ) -> Any:
        merged = _merge_config(self.config, config)
        ctx_value = self._coerce_context(context)

        def start(emitter: Any) -> Coroutine[Any, Any, RunResult]:
            return run_graph(
                self,
                input,
                merged,
                emitter,
                parent=parent,
                interrupt_before=_names(interrupt_before),
                interrupt_after=_names(interrupt_after),
                context=ctx_value,
                durability=durability,
                deterministic=deterministic,
            )

        async def run(emitter: Any) -> RunResult:
            saver = self.checkpointer
            if parent is None and saver is not None and hasattr(saver, "thread_lease"):
                thread_id = (merged.get("configurable") or {}).get("thread_id")
                if thread_id is not None:
                    # one run per thread at a time: a second one fails fast (ThreadBusyError)
                    async with saver.thread_lease(str(thread_id)):
                        return await start(emitter)
            return await start(emitter)

        return run

    def _coerce_context(self, context: Any) -> Any:
        schema = self.spec.context_schema
        if context is None or schema is None or isinstance(context, schema):
            return context
        if isinstance(context, Mapping):
            return schema(**context)
        return context

    def astream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        context: Any = None,
        stream_mode: str | Sequence[str] | None = None,
        print_mode: str | Sequence[str] = (),
        output_keys: str | Sequence[str] | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        durability: str | None = None,
        subgraphs: bool = False,
        debug: bool | None = None,
        version: str = "v1",
        buffer: int = DEFAULT_BUFFER,
        deterministic: bool = False,
    ) -> RunStream:
        """Stream the run's chunks. Iterate with ``async for``, or hold it with
        ``async with graph.astream(...) as chunks:`` to bound the run to the block.

        ``buffer`` is how many events may wait for a slow consumer before the run
        waits. ``deterministic=True`` releases each step's task output in task-path
        order instead of live (for tests and replays: same graph, same chunk order).
        """
        projection = Projection.create(
            stream_mode if stream_mode is not None else self.stream_mode,
            subgraphs=subgraphs,
            version=version,
            output_keys=output_keys,
        )
        run = self._run_factory(
            input,
            config,
            context=context,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            durability=durability,
            parent=None,
            deterministic=deterministic,
        )
        return RunStream(run, projection, buffer)

    def stream(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Sync :meth:`astream`: closing the iterator (``break``) cancels the run."""
        return iterate_sync(lambda: self.astream(input, config, **kwargs))

    async def ainvoke(
        self,
        input: Any,
        config: Mapping[str, Any] | None = None,
        *,
        context: Any = None,
        stream_mode: str | Sequence[str] = "values",
        print_mode: str | Sequence[str] = (),
        output_keys: str | Sequence[str] | None = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        durability: str | None = None,
        version: str = "v1",
        **kwargs: Any,
    ) -> Any:
        """Run to the end and return the final state (filtered to the output schema).

        Inside a running node this runs as a nested graph of that node.
        """
        parent = current_task_context()
        if parent is not None and stream_mode == "values":
            merged = _merge_config(self.config, config)
            return await run_nested(self, input, parent, merged)
        if stream_mode != "values":
            chunks = []
            async with self.astream(
                input,
                config,
                context=context,
                stream_mode=stream_mode,
                output_keys=output_keys,
                interrupt_before=interrupt_before,
                interrupt_after=interrupt_after,
                durability=durability,
                version=version,
            ) as stream:
                async for chunk in stream:
                    chunks.append(chunk)
            return chunks
        run = self._run_factory(
            input,
            config,
            context=context,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            durability=durability,
            parent=None,
        )
        result: RunResult = await run(NullEmitter())
        return self._invoke_output(result, output_keys, version)

    def _invoke_output(
        self, result: RunResult, output_keys: str | Sequence[str] | None, version: str
    ) -> Any:
        keys: str | Sequence[str] = (
            output_keys if output_keys is not None else self.spec.output_keys
        )
        value: Any
        if not result.output_written and not result.interrupts:
            value = None
        elif isinstance(keys, str):
            value = result.values.get(keys)
        else:
            value = {k: result.values[k] for k in keys if k in result.values}
        if version == "v2":
            return GraphOutput(value=value, interrupts=result.interrupts)
        if result.interrupts:
            base = value if isinstance(value, dict) else {}
            return {**base, "__interrupt__": list(result.interrupts)}
        return value

    def invoke(self, input: Any, config: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Sync :meth:`ainvoke` (on this thread's private event loop, or the running
        graph's event loop when called inside a sync node)."""
        parent = current_task_context()
        if (
            parent is not None
            and parent.loop_thread == threading.get_ident()
            and loop_running_here()
        ):
            return self._invoke_blocking_in_loop(parent, input, config, kwargs)

        async def call() -> Any:
            if parent is not None:
                reset = task_context_var.set(parent)
                try:
                    return await self.ainvoke(input, config, **kwargs)
                finally:
                    task_context_var.reset(reset)
            return await self.ainvoke(input, config, **kwargs)

        return run_sync(call)

    def _invoke_blocking_in_loop(
        self,
        parent: TaskContext,
        input: Any,
        config: Mapping[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> Any:
        # A sync invoke() inside an async node blocks the host's event loop, so the nested
        # run goes to the portal's loop; its events are collected there and handed to the
        # host's stream when it returns (they cannot cross to a blocked loop live).
        collector = BufferEmitter(parent.emitter)
        proxy = attrs.evolve(parent, emitter=collector, writer_ns=parent.writer_ns)

        async def call() -> Any:
            reset = task_context_var.set(proxy)
            try:
                return await self.ainvoke(input, config, **kwargs)
            finally:
                task_context_var.reset(reset)

        try:
            return portal().call(call)
        finally:
            for event in collector.events:
                parent.emitter.send_from_sync(event)

    # -- state -----------------------------------------------------------------

    async def aget_state(
        self, config: Mapping[str, Any], *, subgraphs: bool = False
    ) -> StateSnapshot:
        """The thread's state at its latest checkpoint (or ``checkpoint_id``)."""
        return await _state.aget_state(self, config, subgraphs=subgraphs)

    def get_state(self, config: Mapping[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        """Sync :meth:`aget_state`."""
        return run_sync(lambda: self.aget_state(config, subgraphs=subgraphs))

    def aget_state_history(
        self,
        config: Mapping[str, Any],
        *,
        filter: Mapping[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        """The thread's checkpoints as snapshots, newest first."""
        return _state.aget_state_history(self, config, filter=filter, before=before, limit=limit)

    def get_state_history(
        self,
        config: Mapping[str, Any],
        *,
        filter: Mapping[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """Sync :meth:`aget_state_history`."""

        async def collect() -> list[StateSnapshot]:
            return [
                s
                async for s in self.aget_state_history(
                    config, filter=filter, before=before, limit=limit
                )
            ]

        return iter(run_sync(collect))

    async def aupdate_state(
        self, config: Mapping[str, Any], values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        """Write ``values`` as if ``as_node`` returned them; returns the new config."""
        return await _state.aupdate_state(self, config, values, as_node)

    def update_state(
        self, config: Mapping[str, Any], values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        """Sync :meth:`aupdate_state`."""
        return run_sync(lambda: self.aupdate_state(config, values, as_node))

    async def _arun_nested(self, value: Any, parent: TaskContext) -> Any:
        """Run as the subgraph node of the task ``parent`` (in one worker thread when
        the sync API fans out to a graph that runs entirely synchronously)."""
        driver = offload_driver(self, parent)
        if driver is not None:
            return await run_offloaded(driver, self, value, parent)
        return await run_nested(self, value, parent)

    def __repr__(self) -> str:
        return f"<CompiledStateGraph {self.name!r} nodes={list(self.spec.nodes)}>"


_ = (AsyncIterator, Event, StreamEmitter)
