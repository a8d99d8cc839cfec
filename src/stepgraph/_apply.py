"""Commit half of the superstep: apply writes in a fixed order. Pure: no ``await``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._plan import Pending, Task, path_key
from ._spec import END, GraphSpec
from .errors import ErrorCode, InvalidUpdateError, create_error_message
from .types import Overwrite, Send

__all__ = ["TaskResult", "apply_writes", "next_pending", "update_chunk"]


@attrs.frozen
class TaskResult:
    """What a finished task produced."""

    task: Task
    writes: tuple[tuple[str, Any], ...] = ()
    """State-key writes in the order the node made them."""
    routes: tuple[str | Send, ...] = ()
    """Where to go next, from ``Command.goto`` and conditional edges."""
    applied: tuple[dict[str, Any], tuple[str, ...]] | None = attrs.field(
        default=None, eq=False, repr=False
    )
    """``apply_writes`` of the step's state and these writes, when routing computed it:
    a step of this one task commits it instead of reducing the same writes again."""


def _conflict(key: str) -> InvalidUpdateError:
    return InvalidUpdateError(
        create_error_message(
            message=(
                f"At key '{key}': Can receive only one value per step. Use an Annotated key "
                "to handle multiple values."
            ),
            error_code=ErrorCode.INVALID_CONCURRENT_GRAPH_UPDATE,
        )
    )


def apply_writes(
    spec: GraphSpec, values: Mapping[str, Any], writes: Sequence[tuple[str, Any]]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """New state values after ``writes`` (already in task-path order) and the keys written.

    Plain keys accept one write per step; reducer keys fold every write in order.
    """
    if not writes:
        return dict(values), ()
    if len(writes) == 1 or len(dict(writes)) == len(writes):
        # one write per key (the common case): nothing to group or check
        reducers = spec.reducers
        new = dict(values)
        for key, value in writes:
            reducer = reducers[key]
            if isinstance(value, Overwrite):
                new[key] = value.value
            elif reducer is None or key not in new:
                new[key] = value
            else:
                new[key] = reducer(new[key], value)
        return new, tuple([key for key, _ in writes])
    grouped: dict[str, list[Any]] = {}
    for key, value in writes:
        grouped.setdefault(key, []).append(value)
    new = dict(values)
    for key, vals in grouped.items():
        channel = spec.channels[key]
        if channel.reducer is None:
            if len(vals) > 1:
                raise _conflict(key)
            value = vals[0]
            new[key] = value.value if isinstance(value, Overwrite) else value
            continue
        overwrites = [v for v in vals if isinstance(v, Overwrite)]
        if len(overwrites) > 1:
            raise InvalidUpdateError(
                f"At key '{key}': received {len(overwrites)} Overwrite values in one step; "
                "only one Overwrite per key per step is allowed."
            )
        reducer = channel.reducer
        has = key in new
        current = new.get(key)
        for value in vals:
            if isinstance(value, Overwrite):
                current, has = value.value, True
            elif not has:
                current, has = value, True
            else:
                current = reducer(current, value)
        new[key] = current
    return new, tuple(grouped)


def ordered_writes(results: Sequence[TaskResult]) -> list[tuple[str, Any]]:
    """Every write of ``results`` in the fixed commit order (task path, then write order)."""
    if len(results) == 1:
        return list(results[0].writes)
    out: list[tuple[str, Any]] = []
    for result in sorted(results, key=lambda r: path_key(r.task.path)):
        out.extend(result.writes)
    return out


def next_pending(
    spec: GraphSpec,
    previous: Pending,
    finished: Sequence[tuple[str, Sequence[str | Send]]],
) -> Pending:
    """What runs next, given which nodes finished this step (in commit order) and the
    routes each chose. Static edges, joins and routes all trigger here."""
    if len(finished) == 1 and not previous.deferred and not previous.barriers:
        name, routes = finished[0]
        if name not in spec.joins_by_source:
            # one node ran, nothing waits, and it chose node names (no Send): the same
            # answer every time for the same names
            key: Any = name
            if routes:
                key = (name, *routes)
                if not all(isinstance(r, str) for r in routes):
                    return _next_pending(spec, previous, finished)
            memos = spec.solo_pending
            memo = memos.get(key)
            if memo is None:
                memo = _next_pending(spec, previous, finished)
                if len(memos) < _MEMO_LIMIT:
                    memos[key] = memo
            return memo
    return _next_pending(spec, previous, finished)


_MEMO_LIMIT = 1024
"""At most this many memoized answers per graph (routes may name anything)."""


def _next_pending(
    spec: GraphSpec,
    previous: Pending,
    finished: Sequence[tuple[str, Sequence[str | Send]]],
) -> Pending:
    pull: dict[str, list[str]] = {}
    deferred: dict[str, list[str]] = {}
    if previous.deferred:
        ran = {name for name, _ in finished}
        deferred = {k: list(v) for k, v in previous.deferred.items() if k not in ran}
    barriers = dict(previous.barriers) if previous.barriers else {}
    push: list[Send] = []

    def trigger(target: str, channel: str) -> None:
        if target == END:
            return
        node = spec.nodes.get(target)
        if node is None:
            return  # LangGraph only logs "wrote to unknown channel"
        bucket = deferred if node.defer else pull
        triggers = bucket.setdefault(target, [])
        if channel not in triggers:
            triggers.append(channel)

    joins_by_source = spec.joins_by_source
    for name, routes in finished:
        for target in spec.edges.get(name, ()):
            trigger(target, f"branch:to:{target}")
        for join in joins_by_source.get(name, ()) if joins_by_source else ():
            seen = barriers.get(join.channel, frozenset()) | {name}
            if seen >= join.sources:
                barriers.pop(join.channel, None)
                trigger(join.target, join.channel)
            else:
                barriers[join.channel] = seen
        for route in routes:
            if isinstance(route, Send):
                push.append(route)
            else:
                trigger(route, f"branch:to:{route}")
    if not pull and deferred:
        return Pending(
            pull={k: tuple(v) for k, v in deferred.items()},
            push=tuple(push),
            barriers=barriers,
            deferred={},
        )
    return Pending(
        pull={k: tuple(v) for k, v in pull.items()},
        push=tuple(push),
        barriers=barriers,
        deferred={k: tuple(v) for k, v in deferred.items()} if deferred else {},
    )


def update_chunk(writes: Sequence[tuple[str, Any]]) -> Any:
    """The ``updates``-mode value of one task: a dict of its writes, None if it wrote
    nothing, or a list of one-key dicts when it wrote a key more than once."""
    if not writes:
        return None
    keys = [k for k, _ in writes]
    if len(set(keys)) != len(keys):
        return [{k: v} for k, v in writes]
    return dict(writes)
