"""Exceptions raised by checkpointers.

All of them derive from :class:`CheckpointError`, itself a
:class:`stepgraph.errors.StepgraphError` and a :class:`RuntimeError`. Each builds its
own message from the facts it carries, and the message says how to fix the problem.
"""

from __future__ import annotations

from stepgraph.errors import StepgraphError

__all__ = [
    "CheckpointConfigError",
    "CheckpointError",
    "SerializationError",
    "ThreadBusyError",
    "UnknownCheckpointError",
]


class CheckpointError(StepgraphError, RuntimeError):
    """Root of every checkpointer error."""


class ThreadBusyError(CheckpointError):
    """Another run holds the exclusive lease on this thread.

    Raised at once by ``thread_lease()``; nothing waits. ``thread_id`` and
    ``checkpoint_ns`` name the busy thread.
    """

    def __init__(self, thread_id: str, checkpoint_ns: str = "") -> None:
        self.thread_id = thread_id
        self.checkpoint_ns = checkpoint_ns
        where = f"Thread {thread_id!r}"
        if checkpoint_ns:
            where += f" (checkpoint_ns {checkpoint_ns!r})"
        super().__init__(
            f"{where} is busy: another run is using it right now. "
            "Wait for that run to finish, or start this run with another thread_id."
        )

    def __reduce__(self) -> tuple[type[ThreadBusyError], tuple[str, str]]:
        return (type(self), (self.thread_id, self.checkpoint_ns))


class UnknownCheckpointError(CheckpointError, LookupError):
    """A config names a checkpoint that this checkpointer does not hold.

    Savers return ``None`` from ``aget_tuple`` for unknown ids; this error is for callers
    (such as the engine's ``update_state``) that need the checkpoint to exist.
    """

    def __init__(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> None:
        self.thread_id = thread_id
        self.checkpoint_ns = checkpoint_ns
        self.checkpoint_id = checkpoint_id
        ns = f", checkpoint_ns {checkpoint_ns!r}" if checkpoint_ns else ""
        super().__init__(
            f"No checkpoint {checkpoint_id!r} in thread {thread_id!r}{ns}. "
            "List the thread's checkpoints (get_state_history / alist) for valid ids, "
            "or leave checkpoint_id out of the config to use the latest one."
        )

    def __reduce__(self) -> tuple[type[UnknownCheckpointError], tuple[str, str, str]]:
        return (type(self), (self.thread_id, self.checkpoint_ns, self.checkpoint_id))


class SerializationError(CheckpointError, TypeError):
    """A value cannot be written to, or read back from, checkpoint storage.

    The message names the state key / channel (when known), the offending type and
    what to do instead.
    """


class CheckpointConfigError(CheckpointError, ValueError):
    """A config given to a checkpointer lacks a key the operation needs."""

    def __init__(self, operation: str, key: str) -> None:
        self.operation = operation
        self.key = key
        super().__init__(
            f"{operation}() needs config['configurable'][{key!r}], which is missing. "
            f"Pass config={{'configurable': {{{key!r}: ...}}}} (the config a graph run or "
            "aput() returns already has it)."
        )

    def __reduce__(self) -> tuple[type[CheckpointConfigError], tuple[str, str]]:
        return (type(self), (self.operation, self.key))
