"""Turn a results JSON written by ``benchmarks/run.py`` into tables.

    python benchmarks/report.py [benchmarks/results.json] [-o table.md]

prints (or writes) Markdown: timings per scenario and mode, the per-step engine
overhead, memory, the slow-consumer stream, and the performance targets. ``run.py``
uses :func:`text` from here for its terminal table, so both always agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

__all__ = ["TARGETS", "markdown", "text"]

SG, LG, FLOOR = "stepgraph", "langgraph", "floor"
LANGGRAPH_INSTALL = "pip install langgraph==1.2.22"

# (what, scenario name globs, modes, kind, threshold): "speedup" is LangGraph/stepgraph
# (at least), "floor" is stepgraph/floor (at most), "trio" is trio/asyncio (at most).
# "[1-9]??*" picks the long variants (sequential_1000, or sequential_200 in --quick).
TARGETS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str, float], ...] = (
    ("≥10× LangGraph", ("sequential_[1-9]??*",), ("sync", "asyncio"), "speedup", 10.0),
    ("≥10× LangGraph", ("command_goto_*",), ("sync", "asyncio"), "speedup", 10.0),
    ("≥10× LangGraph", ("tiny_invoke_*",), ("asyncio",), "speedup", 10.0),
    ("≥10× LangGraph", ("stream_custom_*",), ("asyncio",), "speedup", 10.0),
    ("≥5× LangGraph", ("fanout_*",), ("sync", "asyncio"), "speedup", 5.0),
    ("≥5× LangGraph", ("react_*",), ("sync", "asyncio"), "speedup", 5.0),
    ("≥5× LangGraph", ("tiny_invoke_*",), ("sync",), "speedup", 5.0),
    ("≥5× LangGraph", ("stream_custom_*",), ("sync",), "speedup", 5.0),
    ("≥2× LangGraph", ("wide_*",), ("sync", "asyncio"), "speedup", 2.0),
    ("≤3× floor", ("wide_*",), ("sync", "asyncio", "trio"), "floor", 3.0),
    ("trio ≤1.3× asyncio", ("*",), ("trio",), "trio", 1.3),
)


# -- formatting ----------------------------------------------------------------------


def fmt_time(seconds: float | None, unit: str = "ms") -> str:
    if seconds is None:
        return "—"
    if unit == "us":
        value, suffix = seconds * 1e6, " µs"
    else:
        value, suffix = seconds * 1e3, " ms"
        if value >= 1000:
            value, suffix = value / 1e3, " s"
    if value >= 100:
        return f"{value:.0f}{suffix}"
    if value >= 10:
        return f"{value:.1f}{suffix}"
    if value >= 0.1:
        return f"{value:.2f}{suffix}"
    return f"{value:.3f}{suffix}"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:.0f}×"
    if value >= 10:
        return f"{value:.1f}×"
    return f"{value:.2f}×"


def fmt_mb(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _median(cell: Any) -> float | None:
    if isinstance(cell, dict) and "median" in cell:
        return float(cell["median"])
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def _cell(row: dict[str, Any], name: str) -> str:
    cell = row.get(name)
    if cell is None:
        return "—"
    if "median" in cell:
        return fmt_time(cell["median"], row.get("unit", "ms"))
    if "na" in cell:
        return "n/a"
    if "missing" in cell:
        return "not installed"
    return "error"


def _errors(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, str] = {}
    for row in rows:
        for name in (SG, LG, FLOOR):
            cell = row.get(name) or {}
            if "error" in cell:
                seen.setdefault(f"{name}: {cell['error']}", f"{row['workload']} ({row['mode']})")
    return [f"{what} — first in {where}" for what, where in seen.items()]


# -- tables ------------------------------------------------------------------------------


def timing_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    rows = data.get("timing", [])
    asyncio_sg = {r["workload"]: _median(r.get(SG)) for r in rows if r["mode"] == "asyncio"}
    header = [
        "scenario",
        "ckpt",
        "mode",
        "stepgraph",
        "LangGraph",
        "floor",
        "LG/SG",
        "SG/floor",
        "trio/asyncio",
    ]
    out = []
    for row in rows:
        sg, lg, floor = _median(row.get(SG)), _median(row.get(LG)), _median(row.get(FLOOR))
        trio = _ratio(sg, asyncio_sg.get(row["workload"])) if row["mode"] == "trio" else None
        out.append(
            [
                row["name"] + (" (µs/call)" if row.get("unit") == "us" else ""),
                "yes" if row.get("checkpointer") else "",
                row["mode"],
                _cell(row, SG),
                _cell(row, LG),
                _cell(row, FLOOR),
                fmt_ratio(_ratio(lg, sg)),
                fmt_ratio(_ratio(sg, floor)),
                fmt_ratio(trio),
            ]
        )
    return header, out


def overhead_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    derived = data.get("derived", {}).get("per_step_overhead_us", {})
    header = ["scenario", "mode", "stepgraph µs/step", "LangGraph µs/step"]
    out = []
    for key, modes in derived.items():
        for mode, values in modes.items():
            out.append(
                [
                    key,
                    mode,
                    _num(values.get(SG)),
                    _num(values.get(LG)),
                ]
            )
    return header, out


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def memory_rows(data: dict[str, Any], section: str) -> tuple[list[str], list[list[str]]]:
    header = [
        "scenario",
        "mode",
        "SG RSS peak Δ MB",
        "SG RSS kept MB",
        "SG py peak MB",
        "LG RSS peak Δ MB",
        "LG RSS kept MB",
        "LG py peak MB",
        "floor py peak MB",
    ]
    if section == "slow_consumer":
        header += ["SG time", "LG time"]
    out = []
    for row in data.get(section, []):
        sg, lg, floor = row.get(SG) or {}, row.get(LG) or {}, row.get(FLOOR) or {}
        line = [
            row["workload"],
            row["mode"],
            _mem(sg, "rss_peak_mb"),
            _mem(sg, "rss_retained_mb"),
            _mem(sg, "py_peak_mb"),
            _mem(lg, "rss_peak_mb"),
            _mem(lg, "rss_retained_mb"),
            _mem(lg, "py_peak_mb"),
            _mem(floor, "py_peak_mb"),
        ]
        if section == "slow_consumer":
            line += [fmt_time(sg.get("seconds")), fmt_time(lg.get("seconds"))]
        out.append(line)
    return header, out


def _mem(cell: dict[str, Any], key: str) -> str:
    if "error" in cell:
        return "error"
    if "na" in cell:
        return "n/a"
    if "missing" in cell:
        return "not installed"
    return fmt_mb(cell.get(key))


def target_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    rows = [r for r in data.get("timing", []) if not r.get("checkpointer")]
    asyncio_sg = {r["workload"]: _median(r.get(SG)) for r in rows if r["mode"] == "asyncio"}
    header = ["target", "scenario", "mode", "measured", "met"]
    out = []
    for what, globs, modes, kind, threshold in TARGETS:
        for row in rows:
            if row["mode"] not in modes or not any(fnmatch(row["name"], g) for g in globs):
                continue
            sg, lg, floor = _median(row.get(SG)), _median(row.get(LG)), _median(row.get(FLOOR))
            if kind == "speedup":
                value = _ratio(lg, sg)
                met = None if value is None else value >= threshold
            elif kind == "floor":
                value = _ratio(sg, floor)
                met = None if value is None else value <= threshold
            else:
                value = _ratio(sg, asyncio_sg.get(row["workload"]))
                met = None if value is None else value <= threshold
            verdict = "?" if met is None else "yes" if met else "**no**"
            out.append([what, row["name"], row["mode"], fmt_ratio(value), verdict])
    return header, out


# -- rendering ---------------------------------------------------------------------------


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    numeric = [i >= 3 for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if right else c.ljust(w)
            for c, w, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def _notes(data: dict[str, Any]) -> list[str]:
    meta = data.get("meta", {})
    notes = []
    if LG in meta.get("missing", {}):
        notes.append(f"LangGraph is not installed, so its columns are empty: `{LANGGRAPH_INSTALL}`")
    if meta.get("quick"):
        notes.append("Quick mode: fewer repeats and smaller sizes; not for publishing.")
    return notes


def _meta_lines(data: dict[str, Any]) -> list[str]:
    meta = data.get("meta", {})
    libs = ", ".join(f"{k} {v}" for k, v in meta.get("libraries", {}).items())
    return [
        f"- date: {meta.get('date', '?')}",
        f"- machine: {meta.get('machine', '?')}, {meta.get('cores', '?')} cores, "
        f"{meta.get('platform', '?')}",
        f"- Python {meta.get('python', '?')}; {libs}",
        f"- command: `{meta.get('command', '?')}` (git {meta.get('git', '?')}), "
        f"{meta.get('seconds', 0):.0f} s",
        f"- load average before/after: {meta.get('load_average_before')} / "
        f"{meta.get('load_average')}",
    ]


def markdown(data: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    parts = ["### Timings", "", *_meta_lines(data), ""]
    parts += [f"> {n}" for n in _notes(data)]
    parts += [
        "",
        "Median of N repeats after warm-up, all columns measured in the same process. "
        "*floor* is a plain-Python loop doing the same node work without an engine. "
        "LG/SG = how many times faster stepgraph is; SG/floor = engine cost over the floor.",
        "",
        _md_table(*timing_rows(data)),
        "",
    ]
    errors = _errors(data.get("timing", []))
    if errors:
        parts += ["Errors:", "", *[f"- {e}" for e in errors], ""]
    parts += [
        "### Per-step engine overhead",
        "",
        "(chain time − floor) / steps.",
        "",
        _md_table(*overhead_rows(data)),
        "",
    ]
    if data.get("memory"):
        parts += [
            "### Memory",
            "",
            "One fresh process per cell; RSS peak Δ = peak RSS during one run minus RSS "
            "before it; kept = RSS after minus before; py peak = tracemalloc peak "
            "(a separate run).",
            "",
            _md_table(*memory_rows(data, "memory")),
            "",
        ]
    if data.get("slow_consumer"):
        parts += [
            "### Slow consumer",
            "",
            "Custom chunks from an async node that yields between chunks, read by a "
            "consumer that also yields (`await anyio.lowlevel.checkpoint()`) between "
            "chunks. Target: RSS growth < 10 MB.",
            "",
            _md_table(*memory_rows(data, "slow_consumer")),
            "",
        ]
    targets = target_rows(data)
    if targets[1]:
        parts += ["### Targets (no checkpointer)", "", _md_table(*targets), ""]
    return "\n".join(parts)


def text(data: dict[str, Any]) -> str:
    """The timing, overhead and memory tables for a terminal."""
    parts = [_text_table(*timing_rows(data)), ""]
    parts += [f"note: {n}" for n in _notes(data)]
    errors = _errors(data.get("timing", []))
    if errors:
        parts += ["errors:", *[f"  {e}" for e in errors], ""]
    parts += ["per-step engine overhead:", _text_table(*overhead_rows(data)), ""]
    if data.get("memory"):
        parts += ["memory (MB):", _text_table(*memory_rows(data, "memory")), ""]
    if data.get("slow_consumer"):
        parts += ["slow consumer:", _text_table(*memory_rows(data, "slow_consumer")), ""]
    targets = target_rows(data)
    if targets[1]:
        parts += ["targets (no checkpointer):", _text_table(*targets), ""]
    return "\n".join(parts)


#: the scenarios the README shows (every target is in RESULTS.md)
README_SCENARIOS = (
    "sequential_1000",
    "command_goto_1000",
    "tiny_invoke*",
    "stream_custom_100k",
    "fanout_100",
    "react_100",
    "wide_state_9x1200",
    "wide_dict_9x1200",
)
README_BEGIN = "<!-- performance table: generated by benchmarks/report.py --readme -->"
README_END = "<!-- end of generated performance table -->"


def readme_section(data: dict[str, Any]) -> str:
    """The README's summary: where the run came from, every target with stepgraph's and
    LangGraph's times and the ratio, and the per-step overhead."""
    meta = data.get("meta", {})
    libs = ", ".join(f"{k} {v}" for k, v in meta.get("libraries", {}).items())
    timing = {
        (r["name"], r["mode"]): r for r in data.get("timing", []) if not r.get("checkpointer")
    }
    _, targets = target_rows(data)
    rows = []
    for what, name, mode, measured, met in targets:
        if not any(fnmatch(name, g) for g in README_SCENARIOS):
            continue
        row = timing.get((name, mode), {})
        unit = row.get("unit", "ms")
        rows.append(
            [
                what,
                f"{name} ({mode})",
                fmt_time(_median(row.get(SG)), unit),
                fmt_time(_median(row.get(LG)), unit),
                fmt_time(_median(row.get(FLOOR)), unit),
                measured,
                met,
            ]
        )
    lines = [
        f"Latest run: {meta.get('date', '?')}, `{meta.get('command', '?')}` at git "
        f"{meta.get('git', '?')}; {meta.get('machine', '?')}, {meta.get('cores', '?')} cores, "
        f"CPython {meta.get('python', '?')}, {libs}; load average "
        f"{meta.get('load_average_before')} before, {meta.get('load_average')} after.",
        *[f"> {n}" for n in _notes(data)],
        "",
        _md_table(
            ["target", "scenario", "stepgraph", "LangGraph", "floor", "measured", "met"], rows
        ),
        "",
        "Every target and scenario, with and without a checkpointer, memory and the slow "
        "consumer: [`benchmarks/RESULTS.md`](benchmarks/RESULTS.md).",
        "",
    ]
    overhead = data.get("derived", {}).get("per_step_overhead_us", {})
    for key, modes in overhead.items():
        parts = [
            f"{mode} {_num(v.get(SG))} µs (LangGraph {_num(v.get(LG))})"
            for mode, v in modes.items()
        ]
        lines.append(f"Per-step engine overhead, {key}: " + "; ".join(parts) + ".")
    return "\n".join(lines).rstrip()


def update_readme(path: Path, data: dict[str, Any]) -> None:
    """Replace the text between the README markers with :func:`readme_section`."""
    text = path.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"{path}: markers {README_BEGIN!r} ... {README_END!r} not found")
    body = readme_section(data)
    path.write_text(text[: start + len(README_BEGIN)] + "\n\n" + body + "\n\n" + text[end:])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).with_name("results.json")
    parser.add_argument("results", nargs="?", type=Path, default=default)
    parser.add_argument("-o", "--output", type=Path, help="write Markdown here")
    parser.add_argument(
        "--readme", type=Path, help="also rewrite the generated table in this README"
    )
    args = parser.parse_args(argv)
    data = json.loads(args.results.read_text())
    if args.readme:
        update_readme(args.readme, data)
    out = markdown(data)
    if args.output:
        args.output.write_text(out + "\n")
    else:
        sys.stdout.write(out + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
