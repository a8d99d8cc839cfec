"""Planning half of the superstep: what runs next. Pure: no I/O, no ``await``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import attrs

from ._spec import GraphSpec, NodeSpec
from .types import Send

__all__ = ["PULL", "PUSH", "Pending", "Task", "path_key", "plan_step", "task_id"]

PULL = "__pregel_pull"
PUSH = "__pregel_push"


@attrs.frozen
class Pending:
    """What the next superstep will run, and the joins still waiting."""

    pull: Mapping[str, tuple[str, ...]] = attrs.Factory(dict)
    """Edge-triggered nodes → the trigger channels that fired for them."""
    push: tuple[Send, ...] = ()
    """``Send`` packets, in send order."""
    barriers: Mapping[str, frozenset[str]] = attrs.Factory(dict)
    """Join channel → sources seen so far."""
    deferred: Mapping[str, tuple[str, ...]] = attrs.Factory(dict)
    """``defer=True`` nodes waiting until nothing else is left to run."""

    def __bool__(self) -> bool:
        return bool(self.pull or self.push or self.deferred)


@attrs.frozen
class Task:
    """One node execution of a superstep."""

    id: str
    name: str
    path: tuple[Any, ...]
    triggers: tuple[str, ...]
    node: NodeSpec
    arg: Any = None
    """The ``Send`` argument of a push task (pull tasks read the state)."""

    @property
    def is_push(self) -> bool:
        return bool(self.path[0] == PUSH)


def task_id(checkpoint_id: str, namespace: str, step: int, name: str, path: tuple[Any, ...]) -> str:
    """Deterministic UUID-formatted id of a task (same inputs, same id)."""
    return _task_id(f"{checkpoint_id}\x00{namespace}\x00{step}\x00", name, path)


def _task_id(prefix: str, name: str, path: tuple[Any, ...]) -> str:
    return _hashed_id(f"{prefix}{name}\x00{path!r}".encode())


def _hashed_id(data: bytes) -> str:
    h = _blake2b(data, digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_blake2b = hashlib.blake2b


def _pull_suffix(name: str) -> bytes:
    """The name-and-path part of a pull task's id input (see :func:`_task_id`)."""
    suffix = _PULL_SUFFIXES.get(name)
    if suffix is None:
        suffix = f"{name}\x00{(PULL, name)!r}".encode()
        if len(_PULL_SUFFIXES) < 4096:
            _PULL_SUFFIXES[name] = suffix
    return suffix


_PULL_SUFFIXES: dict[str, bytes] = {}


def path_key(path: tuple[Any, ...]) -> tuple[Any, ...]:
    """Sort key that puts pull tasks (by name) before push tasks (by send index)."""
    return (path[0], path[1]) if path[0] == PULL else (path[0], "", *path[1:])


def plan_step(
    spec: GraphSpec, pending: Pending, *, step: int, checkpoint_id: str, namespace: str
) -> tuple[Task, ...]:
    """The tasks of the next superstep: Sends first (send order), then pulled nodes by name."""
    tasks: list[Task] = []
    prefix = f"{checkpoint_id}\x00{namespace}\x00{step}\x00"
    for index, send in enumerate(pending.push):
        node = spec.nodes.get(send.node)
        if node is None:
            continue  # LangGraph ignores packets for unknown nodes
        path: tuple[Any, ...] = (PUSH, index, False)
        tasks.append(
            Task(
                id=_task_id(prefix, send.node, path),
                name=send.node,
                path=path,
                triggers=(PUSH,),
                node=node,
                arg=send.arg,
            )
        )
    # deferred nodes run in the first step that pulls no other node (Sends may run too)
    pull = pending.pull or pending.deferred
    node_triggers = spec.node_triggers
    head = prefix.encode()
    for name in sorted(pull) if len(pull) > 1 else pull:
        path = (PULL, name)
        tasks.append(
            Task(
                id=_hashed_id(head + _pull_suffix(name)),
                name=name,
                path=path,
                triggers=node_triggers.get(name) or pull[name],
                node=spec.nodes[name],
            )
        )
    return tuple(tasks)
