"""Print, case by case, where stepgraph differs from the recorded LangGraph outputs.

A compact companion to ``test_recorded.py`` for whoever fixes the engine::

    PYTHONPATH=src python tests/differential/report.py [case ...] [--api sync] [--mode values]

For each differing (case, api, mode) it prints the first differing record and the first
differing chunk, expected (LangGraph) against got (stepgraph).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parent))
    from differential.corpus import CASES
    from differential.harness import canonical, run_case, segment_sizes
    from differential.libs import load_target
else:
    from .corpus import CASES
    from .harness import canonical, run_case, segment_sizes
    from .libs import load_target


def short(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, ensure_ascii=False).replace('{"$tuple": ', "T(")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def explain(expected: list[dict], got: list[dict]) -> list[str]:
    lines = []
    if len(expected) != len(got):
        lines.append(f"{len(expected)} inputs expected, {len(got)} run")
    for index, (exp, act) in enumerate(zip(expected, got, strict=False)):
        if exp == act:
            continue
        where = f"input #{index}"
        if exp.get("error") != act.get("error"):
            lines.append(f"{where} error: expected {short(exp.get('error'))}")
            lines.append(f"{' ' * len(where)}        got {short(act.get('error'))}")
        if "output" in exp and exp.get("output") != act.get("output"):
            lines.append(f"{where} output: expected {short(exp.get('output'))}")
            lines.append(f"{' ' * len(where)}         got {short(act.get('output'))}")
        if "chunks" in exp and exp.get("chunks") != act.get("chunks"):
            e_chunks, a_chunks = exp["chunks"], act.get("chunks", [])
            first = next(
                (i for i, (x, y) in enumerate(zip(e_chunks, a_chunks, strict=False)) if x != y),
                min(len(e_chunks), len(a_chunks)),
            )
            lines.append(
                f"{where}: {len(e_chunks)} chunks expected, {len(a_chunks)} got;"
                f" first difference at chunk {first}"
            )
            lines.append(f"   expected: {short(e_chunks[first : first + 3])}")
            lines.append(f"   got:      {short(a_chunks[first : first + 3])}")
        for key in sorted((set(exp) | set(act)) - {"error", "output", "chunks"}):
            if exp.get(key) != act.get(key):
                lines.append(f"{where} {key}: expected {short(exp.get(key))}")
                lines.append(f"{' ' * len(where)} {' ' * len(key)}       got {short(act.get(key))}")
        break  # later inputs usually differ as a consequence
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*")
    parser.add_argument("--api", action="append", choices=("sync", "asyncio", "trio"))
    parser.add_argument("--mode", action="append")
    parser.add_argument("--expected", type=Path, default=HERE / "expected_langgraph.json")
    args = parser.parse_args(argv)

    recorded = json.loads(args.expected.read_text(encoding="utf-8"))["cases"]
    lib = load_target()
    apis = args.api or ["sync", "asyncio", "trio"]
    same = differ = 0
    for name in args.cases or list(CASES):
        for api in apis:
            rec_api = "asyncio" if api == "trio" else api
            if rec_api not in recorded.get(name, {}):
                continue
            for mode, entry in recorded[name][rec_api].items():
                if (args.mode and mode not in args.mode) or not entry["deterministic"]:
                    continue
                ok = False
                try:
                    case, records = run_case(CASES[name], lib, api, mode)
                    sizes = None
                    if mode == "updates" and case.parallel:
                        sizes = segment_sizes(recorded[name][rec_api]["updates+values"]["records"])
                    got = canonical(case, mode, records, sizes)
                    ok = got == entry["records"]
                    lines = [] if ok else explain(entry["records"], got)
                except Exception as exc:
                    lines = [
                        "harness crashed: "
                        + "".join(traceback.format_exception_only(type(exc), exc)).strip()
                    ]
                if ok:
                    same += 1
                    continue
                differ += 1
                print(f"--- {name} [{api} {mode}]")
                for line in lines:
                    print("    " + line)
    print(f"{same} same, {differ} differ", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
