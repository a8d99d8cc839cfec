"""Benchmarks: stepgraph side by side with LangGraph and a plain-Python floor.

    python benchmarks/run.py                   # everything (several minutes)
    python benchmarks/run.py --quick           # smaller sizes, fewer repeats (< 1 min)
    python benchmarks/run.py --only react,wide # scenarios whose name contains a pattern
    python benchmarks/report.py                # the JSON as Markdown tables

Every scenario runs in sync mode (``invoke``/``stream``), under asyncio
(``ainvoke``/``astream`` in ``anyio.run(backend="asyncio")``) and under trio (stepgraph
only). LangGraph's column is filled when ``import langgraph`` works
(``pip install langgraph==1.2.22``). Memory is measured afterwards, one fresh process per
scenario and contender (asyncio mode).
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script from anywhere, or imported by a tool
    sys.path.insert(0, str(HERE))

from benchlib import LANGGRAPH_INSTALL, Lib, load_all  # noqa: E402
from harness import FLOOR, Settings, time_cell  # noqa: E402
from report import text  # noqa: E402
from scenarios import Workload, slow_consumers, workloads  # noqa: E402

FULL = Settings(warmup=1, min_repeats=5, max_repeats=15, budget=1.5)
QUICK = Settings(warmup=1, min_repeats=1, max_repeats=3, budget=0.2)
MEMORY_MODE = "asyncio"


def _selected(name: str, patterns: Sequence[str]) -> bool:
    if not patterns:
        return True
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            if fnmatch.fnmatch(name, pattern):
                return True
        elif pattern in name:
            return True
    return False


def _machine() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> list[float] | None:
    """The 1/5/15-minute load averages: other work on the machine skews timings."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _git() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = out.stdout.strip() or "unknown"
    return sha + ("+dirty src" if dirty.stdout.strip() else "")


def _meta(
    args: argparse.Namespace, libs: dict[str, Lib], missing: dict[str, str]
) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/run.py" + "".join(f" {shlex.quote(a)}" for a in args.argv),
        "quick": args.quick,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": _machine(),
        "cores": os.cpu_count(),
        "libraries": {name: lib.version for name, lib in libs.items()},
        "missing": missing,
        "git": _git(),
        "load_average_before": _load(),
    }


def _absent(libs: dict[str, Lib], missing: dict[str, str], mode: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, why in missing.items():
        out[name] = {"missing": why}
    for name, lib in libs.items():
        if mode == "trio" and not lib.supports_trio:
            out[name] = {"na": f"{name} cannot run on trio"}
    return out


def _progress(workload: Workload, mode: str, cells: dict[str, Any]) -> None:
    def show(cell: dict[str, Any]) -> str:
        if "median" in cell:
            scale, unit = (1e6, "µs") if workload.unit == "us" else (1e3, "ms")
            return f"{cell['median'] * scale:.3g} {unit} ×{cell['repeats']}"
        return next(iter(cell))

    shown = ", ".join(f"{name} {show(cell)}" for name, cell in cells.items())
    print(f"  {workload.key:<28} {mode:<8} {shown}", file=sys.stderr, flush=True)


def run_timing(
    chosen: list[Workload],
    modes: Sequence[str],
    libs: dict[str, Lib],
    missing: dict[str, str],
    settings: Settings,
) -> list[dict[str, Any]]:
    rows = []
    for workload in chosen:
        for mode in workload.modes:
            if mode not in modes:
                continue
            try:
                cells = time_cell(workload, mode, libs, settings)
            except Exception as exc:  # e.g. trio not installed
                error = {"error": f"{type(exc).__name__}: {exc}"}
                cells = dict.fromkeys(libs, error)
            cells.update(_absent(libs, missing, mode))
            _progress(workload, mode, cells)
            rows.append(
                {
                    "workload": workload.key,
                    "name": workload.name,
                    "group": workload.group,
                    "checkpointer": workload.checkpointer,
                    "mode": mode,
                    "unit": workload.unit,
                    **cells,
                }
            )
    return rows


def per_step_overhead(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """(chain − floor) / steps, in µs, from the longest sequential chain measured."""
    chains = [r for r in rows if r["group"] == "sequential" and "floor" in r]
    if not chains:
        return {}
    steps = max(int(r["name"].rsplit("_", 1)[1]) for r in chains)
    out: dict[str, Any] = {}
    for row in chains:
        if int(row["name"].rsplit("_", 1)[1]) != steps:
            continue
        floor = row[FLOOR].get("median")
        values = {}
        for name in ("stepgraph", "langgraph"):
            median = (row.get(name) or {}).get("median")
            if median is not None and floor is not None:
                values[name] = (median - floor) / steps * 1e6
        out.setdefault(row["workload"], {})[row["mode"]] = values
    return out


def run_memory(
    chosen: list[Workload],
    libs: dict[str, Lib],
    missing: dict[str, str],
    quick: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from memory import measure_all

    jobs: list[tuple[str, str, str]] = []
    for workload in chosen:
        if workload.group in ("compile", "first_chunk"):
            continue
        if quick and workload.checkpointer:
            continue  # --quick keeps under a minute: memory without checkpointer only
        modes = workload.modes if workload.group == "slow_consumer" else (MEMORY_MODE,)
        for mode in modes:
            names = [n for n, lib in libs.items() if mode != "trio" or lib.supports_trio]
            if workload.has_floor:
                names.append(FLOOR)
            jobs += [(workload.key, name, mode) for name in names]

    def progress(job: tuple[str, str, str], result: dict[str, Any]) -> None:
        shown = ", ".join(
            f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()
        )
        print(f"  memory {job[0]:<28} {job[2]:<8} {job[1]:<9} {shown}", file=sys.stderr)

    results = measure_all(jobs, quick, progress=progress)
    memory: dict[tuple[str, str], dict[str, Any]] = {}
    for (key, name, mode), result in results.items():
        memory.setdefault((key, mode), {"workload": key, "mode": mode})[name] = result
    for row in memory.values():
        row.update(_absent(libs, missing, row["mode"]))
    slow = [r for r in memory.values() if r["workload"].startswith("slow_consumer")]
    other = [r for r in memory.values() if not r["workload"].startswith("slow_consumer")]
    return other, slow


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        description="stepgraph vs LangGraph benchmarks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument(
        "--json",
        type=Path,
        default=HERE / "results.json",
        help="where to write results (default: benchmarks/results.json)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run scenarios whose name contains NAME (or matches a glob); repeatable, "
        "comma-separated",
    )
    parser.add_argument(
        "--modes",
        default="sync,asyncio,trio",
        help="comma-separated subset of sync,asyncio,trio",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip memory measurements")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    args.argv = argv
    patterns = [p.strip() for item in args.only for p in item.split(",") if p.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    started = time.perf_counter()
    libs, missing = load_all()
    if "stepgraph" not in libs:
        print(f"cannot import stepgraph: {missing['stepgraph']}", file=sys.stderr)
        return 2
    if "langgraph" in missing:
        print(
            f"langgraph is not installed; its columns stay empty ({LANGGRAPH_INSTALL})",
            file=sys.stderr,
        )
    chosen = [w for w in workloads(args.quick) if _selected(w.key, patterns)]
    slow = [w for w in slow_consumers(args.quick) if _selected(w.key, patterns)]
    settings = QUICK if args.quick else FULL
    data: dict[str, Any] = {"meta": _meta(args, libs, missing)}
    print("timing:", file=sys.stderr)
    data["timing"] = run_timing(chosen, modes, libs, missing, settings)
    data["derived"] = {"per_step_overhead_us": per_step_overhead(data["timing"])}
    data["meta"]["timing_seconds"] = time.perf_counter() - started
    if not args.no_memory:
        print("memory:", file=sys.stderr)
        data["memory"], data["slow_consumer"] = run_memory(
            [*chosen, *slow], libs, missing, args.quick
        )
    data["meta"]["load_average"] = _load()
    data["meta"]["seconds"] = time.perf_counter() - started
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=1, default=str) + "\n")
    if args.markdown:
        from report import markdown

        args.markdown.write_text(markdown(data) + "\n")
    print(text(data))
    print(f"results: {args.json} ({data['meta']['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
