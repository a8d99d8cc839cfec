"""Module-level classes the serialization tests store (stored classes must be importable)."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Generic, NamedTuple, TypeVar

import attrs
import pydantic


class Unit(enum.Enum):
    G = "g"
    KG = "kg"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int
    norm: int = dataclasses.field(init=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "norm", abs(self.x) + abs(self.y))


@attrs.frozen
class Reading:
    value: float
    unit: Unit
    tags: tuple[str, ...] = ()
    _note: str = ""


class Money(pydantic.BaseModel):
    amount: int
    currency: str = "USD"
    history: list[Point] = []


class Strict(pydantic.BaseModel):
    """A model whose validator is not idempotent: rebuilding must not re-run it."""

    name: str

    @pydantic.field_validator("name")
    @classmethod
    def _shout(cls, value: str) -> str:
        return value + "!"


class Pair(NamedTuple):
    left: Any
    right: Any


T = TypeVar("T")


class Box(pydantic.BaseModel, Generic[T]):
    item: T
