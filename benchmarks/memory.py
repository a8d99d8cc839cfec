"""Memory per workload, each measured in a fresh process.

Every (workload, contender, mode) gets its own process, forked from a clean parent that
has only imported the libraries (``forkserver``), so one workload's garbage and
allocator arenas never flatter or spoil another's numbers. In that process:

1. a tiny instance of the same scenario runs once on the same backend (thread pools,
   portals, lazy imports and first-use caches exist before measuring), then the graph
   is built;
2. **RSS**: the peak-RSS mark is reset (``/proc/self/clear_refs``), the workload runs
   once; ``rss_peak_mb`` is VmHWM minus VmRSS before the run, ``rss_retained_mb`` is
   VmRSS after minus before;
3. **tracemalloc**: the workload runs once more with tracemalloc on (it slows Python
   allocation several-fold, so never during timing); ``py_peak_mb`` is its peak.

Without ``/proc`` (not Linux) RSS falls back to ``resource.getrusage`` max RSS growth.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import tracemalloc
from collections.abc import Callable, Iterable
from typing import Any

import anyio

from benchlib import load
from harness import FLOOR, describe_error
from scenarios import Workload, registry

__all__ = ["measure_all"]

_MB = 1024 * 1024
# imported once in the fork server, so no child measures a lazy import as its own growth
_PRELOAD = [
    "benchlib",
    "scenarios",
    "harness",
    "trio",
    "anyio._backends._asyncio",
    "anyio._backends._trio",
    "stepgraph.graph",
    "stepgraph.checkpoint.memory",
    "langgraph.graph",
    "langgraph.checkpoint.memory",
    "langchain_core.messages",
]


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _maxrss_kb() -> int:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage // 1024 if sys.platform == "darwin" else usage


class _Rss:
    """RSS before/after one run, and the peak in between."""

    def __init__(self) -> None:
        gc.collect()
        gc.freeze()  # a collection must not touch (copy) pages inherited from the parent
        self.exact = _reset_peak() and _status_kb("VmRSS") is not None
        self.before = _status_kb("VmRSS") if self.exact else _maxrss_kb()

    def done(self) -> dict[str, float]:
        before = self.before or 0
        if self.exact:
            peak = _status_kb("VmHWM") or 0
            after = _status_kb("VmRSS") or 0
            return {
                "rss_peak_mb": (peak - before) / 1024,
                "rss_retained_mb": (after - before) / 1024,
            }
        return {"rss_peak_mb": (_maxrss_kb() - before) / 1024}


async def _measure_async(workload: Workload, contender: str, mode: str) -> dict[str, Any]:
    warm = workload.small()
    if contender == FLOOR:
        await warm.floor_async()

        async def run() -> tuple[float, Any]:
            return await workload.floor_async()

    else:
        lib = load(contender)
        await warm.run_async(lib, warm.build(lib, True))
        graph = workload.build(lib, True)

        async def run() -> tuple[float, Any]:
            return await workload.run_async(lib, graph)

    workload.prepare()
    out: dict[str, Any] = {}
    rss = _Rss()
    seconds, result = await run()
    out.update(rss.done())
    workload.check(result)
    out["seconds"] = seconds
    del result
    gc.collect()
    tracemalloc.start()
    await run()
    out["py_peak_mb"] = tracemalloc.get_traced_memory()[1] / _MB
    tracemalloc.stop()
    return out


def _measure_sync(workload: Workload, contender: str) -> dict[str, Any]:
    warm = workload.small()
    if contender == FLOOR:
        warm.floor_sync()
        run: Callable[[], tuple[float, Any]] = workload.floor_sync
    else:
        lib = load(contender)
        warm.run_sync(lib, warm.build(lib, False))
        graph = workload.build(lib, False)

        def run() -> tuple[float, Any]:
            return workload.run_sync(lib, graph)

    workload.prepare()
    out: dict[str, Any] = {}
    rss = _Rss()
    seconds, result = run()
    out.update(rss.done())
    workload.check(result)
    out["seconds"] = seconds
    del result
    gc.collect()
    tracemalloc.start()
    run()
    out["py_peak_mb"] = tracemalloc.get_traced_memory()[1] / _MB
    tracemalloc.stop()
    return out


def _child(job: tuple[str, str, str, bool]) -> dict[str, Any]:
    """Runs in the fresh process: measure one (workload key, contender, mode)."""
    key, contender, mode, quick = job
    try:
        workload = registry(quick)[key]
        if mode == "sync":
            return _measure_sync(workload, contender)
        return anyio.run(_measure_async, workload, contender, mode, backend=mode)
    except Exception as exc:
        return {"error": describe_error(exc)}


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def measure_all(
    jobs: Iterable[tuple[str, str, str]],
    quick: bool,
    *,
    processes: int | None = None,
    timeout: float = 300.0,
    progress: Callable[[tuple[str, str, str], dict[str, Any]], None] | None = None,
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Measure every ``(workload key, contender, mode)``, one fresh process each."""
    jobs = list(jobs)
    results: dict[tuple[str, str, str], dict[str, Any]] = {}
    if not jobs:
        return results
    # RSS is per process, so measuring two at a time on two cores is still honest.
    workers = processes or max(1, min(2, os.cpu_count() or 1))
    with _context().Pool(workers, maxtasksperchild=1) as pool:
        pending = [
            (job, pool.apply_async(_child, ((job[0], job[1], job[2], quick),))) for job in jobs
        ]
        for job, handle in pending:
            try:
                result = handle.get(timeout)
            except multiprocessing.TimeoutError:
                result = {"error": f"timed out after {timeout:.0f} s"}
            except Exception as exc:
                result = {"error": describe_error(exc)}
            results[job] = result
            if progress is not None:
                progress(job, result)
    return results
