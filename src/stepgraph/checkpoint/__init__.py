"""Checkpointers: persistence of graph state between supersteps, runs and processes.

``Checkpointer`` is the protocol the engine uses; :mod:`stepgraph.checkpoint.memory`,
:mod:`stepgraph.checkpoint.sqlite` and :mod:`stepgraph.checkpoint.postgres` implement it
(import the latter two from their modules; they load their database drivers only then).
"""

from __future__ import annotations

from .base import BaseCheckpointSaver as BaseCheckpointSaver
from .base import Checkpoint as Checkpoint
from .base import Checkpointer as Checkpointer
from .base import CheckpointTuple as CheckpointTuple
from .base import PendingWrite as PendingWrite
from .base import new_checkpoint_id as new_checkpoint_id
from .errors import CheckpointConfigError as CheckpointConfigError
from .errors import CheckpointError as CheckpointError
from .errors import SerializationError as SerializationError
from .errors import ThreadBusyError as ThreadBusyError
from .errors import UnknownCheckpointError as UnknownCheckpointError
from .memory import InMemorySaver as InMemorySaver
from .memory import MemorySaver as MemorySaver
from .serde import Serializer as Serializer

__all__ = [
    "BaseCheckpointSaver",
    "Checkpoint",
    "CheckpointConfigError",
    "CheckpointError",
    "CheckpointTuple",
    "Checkpointer",
    "InMemorySaver",
    "MemorySaver",
    "PendingWrite",
    "SerializationError",
    "Serializer",
    "ThreadBusyError",
    "UnknownCheckpointError",
    "new_checkpoint_id",
]
