"""Timing: every contender of one (workload, mode) cell measured in the same process,
interleaved repeat by repeat, median after warm-up.

Contenders are the libraries that import (and support the mode) plus the floor. A
contender that raises is recorded with its error and dropped from the cell; the others
go on.
"""

from __future__ import annotations

import gc
import statistics
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from benchlib import Lib
from scenarios import Workload

__all__ = ["FLOOR", "Settings", "describe_error", "time_cell"]

FLOOR = "floor"


@dataclass(frozen=True)
class Settings:
    warmup: int = 1
    min_repeats: int = 5
    max_repeats: int = 15
    budget: float = 1.5
    """Seconds the slowest contender may spend in one cell (fewer repeats if slow)."""
    slow: float = 5.0
    """A warm-up run longer than this gets only ``slow_repeats`` repeats."""
    slow_repeats: int = 3


def describe_error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}{where}"


def _stats(times: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "repeats": len(times),
    }


def _repeats(settings: Settings, warm: dict[str, float]) -> int:
    slowest = max(warm.values(), default=0.0)
    if slowest <= 0:
        return settings.max_repeats
    if slowest > settings.slow:
        return min(settings.min_repeats, settings.slow_repeats)
    fit = int(settings.budget / slowest)
    return max(settings.min_repeats, min(settings.max_repeats, fit))


def _freeze(workload: Workload) -> None:
    """Park everything built so far (modules, graphs, inputs) outside the collector.

    ``gc.collect()`` before each run then costs microseconds instead of a full-heap
    walk over both libraries' modules, and no run pays for scanning the other
    library's objects. Runs still allocate, collect and free as usual.
    """
    workload.prepare()
    gc.collect()
    gc.freeze()


class _Cell:
    """Bookkeeping shared by the sync and the async loop."""

    def __init__(self, workload: Workload, settings: Settings) -> None:
        self.workload = workload
        self.settings = settings
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, str] = {}
        self.warm: dict[str, float] = {}

    def record(self, name: str, elapsed: float, result: Any, *, warming: bool) -> None:
        self.workload.check(result)
        if warming:
            self.warm[name] = max(self.warm.get(name, 0.0), elapsed)
        else:
            self.times.setdefault(name, []).append(elapsed)

    def fail(self, name: str, exc: BaseException) -> None:
        self.errors[name] = describe_error(exc)
        self.times.pop(name, None)
        self.warm.pop(name, None)

    def order(self, names: list[str], repeat: int) -> list[str]:
        live = [n for n in names if n not in self.errors]
        shift = repeat % len(live) if live else 0
        return live[shift:] + live[:shift]  # rotate: nobody always runs right after GC

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: {"error": error} for name, error in self.errors.items()}
        for name, times in self.times.items():
            out[name] = _stats(times)
        return out


def _time_sync(workload: Workload, libs: dict[str, Lib], settings: Settings) -> dict[str, Any]:
    cell = _Cell(workload, settings)
    calls: dict[str, Callable[[], tuple[float, Any]]] = {}
    for name, lib in libs.items():
        try:
            graph = workload.build(lib, False)
        except Exception as exc:
            cell.fail(name, exc)
            continue
        calls[name] = lambda lib=lib, graph=graph: workload.run_sync(lib, graph)
    if workload.has_floor:
        calls[FLOOR] = workload.floor_sync
    names = list(calls)
    _freeze(workload)

    def once(repeat: int, warming: bool) -> None:
        for name in cell.order(names, repeat):
            gc.collect()
            try:
                elapsed, result = calls[name]()
                cell.record(name, elapsed, result, warming=warming)
            except Exception as exc:
                cell.fail(name, exc)

    try:
        for repeat in range(settings.warmup):
            once(repeat, True)
        for repeat in range(_repeats(settings, cell.warm)):
            once(repeat, False)
    finally:
        gc.unfreeze()
    return cell.result()


async def _time_async(
    workload: Workload, libs: dict[str, Lib], settings: Settings
) -> dict[str, Any]:
    cell = _Cell(workload, settings)
    calls: dict[str, Callable[[], Awaitable[tuple[float, Any]]]] = {}
    for name, lib in libs.items():
        try:
            graph = workload.build(lib, True)
        except Exception as exc:
            cell.fail(name, exc)
            continue
        calls[name] = lambda lib=lib, graph=graph: workload.run_async(lib, graph)
    if workload.has_floor:
        calls[FLOOR] = workload.floor_async
    names = list(calls)
    _freeze(workload)

    async def once(repeat: int, warming: bool) -> None:
        for name in cell.order(names, repeat):
            gc.collect()
            try:
                elapsed, result = await calls[name]()
                cell.record(name, elapsed, result, warming=warming)
            except Exception as exc:
                cell.fail(name, exc)

    try:
        for repeat in range(settings.warmup):
            await once(repeat, True)
        for repeat in range(_repeats(settings, cell.warm)):
            await once(repeat, False)
    finally:
        gc.unfreeze()
    return cell.result()


def time_cell(
    workload: Workload, mode: str, libs: dict[str, Lib], settings: Settings
) -> dict[str, Any]:
    """``{contender: {"median", "min", "max", "repeats"} | {"error"}}`` for one cell."""
    runnable = {n: lib for n, lib in libs.items() if mode != "trio" or lib.supports_trio}
    if mode == "sync":
        return _time_sync(workload, runnable, settings)
    return anyio.run(_time_async, workload, runnable, settings, backend=mode)
