"""Where the time goes: one benchmark scenario under cProfile or pyinstrument.

    python benchmarks/profiling.py sequential_1000 --mode asyncio
    python benchmarks/profiling.py tiny_invoke_x1000 --mode sync --top 30
    python benchmarks/profiling.py react_100 --lib langgraph --tool pyinstrument

The scenario is built and run once (warm-up), then ``--runs`` runs are profiled. In sync
mode stepgraph runs graphs on the calling thread's private event loop, so one
profiler sees the whole run (worker threads, where sync nodes of multi-task steps run,
are not profiled). Output: top functions by own time and by cumulative time, and
the wall time per run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import anyio  # noqa: E402

from benchlib import load  # noqa: E402
from scenarios import registry  # noqa: E402


def _stats(profile: cProfile.Profile, title: str, top: int, runs: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs()
    total = stats.total_tt  # type: ignore[attr-defined]
    out.write(f"\n=== {title}: {total * 1e3 / runs:.2f} ms profiled per run ===\n")
    for order in ("tottime", "cumulative"):
        out.write(f"\n--- by {order} ---\n")
        stats.sort_stats(order).print_stats(top)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="workload key, e.g. sequential_1000 or react_100+ckpt")
    parser.add_argument("--mode", default="asyncio", choices=("sync", "asyncio", "trio"))
    parser.add_argument("--lib", default="stepgraph", choices=("stepgraph", "langgraph"))
    parser.add_argument("--tool", default="cprofile", choices=("cprofile", "pyinstrument"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--quick", action="store_true", help="the --quick sizes")
    args = parser.parse_args(argv)

    workload = registry(args.quick)[args.scenario]
    lib = load(args.lib)
    is_async = args.mode != "sync"
    graph = workload.build(lib, is_async)
    workload.prepare()

    if is_async:

        async def run_all(n: int) -> float:
            total = 0.0
            for _ in range(n):
                elapsed, result = await workload.run_async(lib, graph)
                workload.check(result)
                total += elapsed
            return total

        def runs(n: int) -> float:
            return float(anyio.run(run_all, n, backend=args.mode))

    else:

        def runs(n: int) -> float:
            total = 0.0
            for _ in range(n):
                elapsed, result = workload.run_sync(lib, graph)
                workload.check(result)
                total += elapsed
            return total

    runs(1)  # warm-up: event loops, thread pools, lazy imports
    started = time.perf_counter()
    plain = runs(args.runs)
    print(
        f"{args.scenario} [{args.lib}, {args.mode}]: {plain * 1e3 / args.runs:.3f} ms per run "
        f"unprofiled ({time.perf_counter() - started:.2f} s for {args.runs} runs)"
    )

    if args.tool == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        runs(args.runs)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return 0

    main_profile = cProfile.Profile()
    main_profile.enable()
    runs(args.runs)
    main_profile.disable()
    print(_stats(main_profile, "calling thread", args.top, args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
