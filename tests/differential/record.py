"""Record LangGraph's real outputs for every corpus case.

Run with a Python that has langgraph 1.2.22 installed (stepgraph is not needed)::

    python tests/differential/record.py            # rewrite expected_langgraph.json
    python tests/differential/record.py --check    # compare, write nothing
    python tests/differential/record.py --only docs_joke --print

Each (case, api, mode) runs ``--repeat`` times; if the canonical results differ the
entry is stored with ``"deterministic": false`` and ``test_recorded.py`` skips it.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected_langgraph.json"

if __package__ in (None, ""):
    # Run as a script: make the package importable as ``differential``.
    sys.path.insert(0, str(HERE.parent))
    from differential.corpus import BUILD_CASES, CASES
    from differential.harness import observe, run_build
    from differential.libs import load_langgraph
else:
    from .corpus import BUILD_CASES, CASES
    from .harness import observe, run_build
    from .libs import load_langgraph

# The recorded API kinds: stepgraph's trio run is checked against "asyncio".
RECORDED_APIS = ("sync", "asyncio")


def dumps(obj: Any, depth: int = 0, flat_from: int = 6) -> str:
    """JSON with one line per recorded input: readable diffs, modest size."""
    pad = " " * depth
    if depth >= flat_from or not isinstance(obj, (dict, list)) or not obj:
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, dict):
        items = [
            f"{pad} {json.dumps(k, ensure_ascii=False)}: {dumps(v, depth + 1, flat_from)}"
            for k, v in obj.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [f"{pad} {dumps(v, depth + 1, flat_from)}" for v in obj]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def record_case(name: str, lib: Any, repeat: int) -> dict[str, Any]:
    fn = CASES[name]
    probe = fn(lib)
    out: dict[str, Any] = {"note": (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""}
    for api in RECORDED_APIS:
        if api == "sync" and probe.is_async:
            continue
        per_mode: dict[str, Any] = {}
        for mode in probe.modes():
            runs = [observe(fn, lib, api, mode) for _ in range(repeat)]
            first = runs[0]
            deterministic = all(
                json.dumps(r, sort_keys=True) == json.dumps(first, sort_keys=True) for r in runs
            )
            per_mode[mode] = {"deterministic": deterministic, "records": first}
            if not deterministic:
                print(f"  nondeterministic: {name} {api} {mode}", file=sys.stderr)
        out[api] = per_mode
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="case names")
    parser.add_argument("--check", action="store_true", help="compare with the file")
    parser.add_argument("--print", action="store_true", help="print the results")
    parser.add_argument("--output", type=Path, default=EXPECTED)
    args = parser.parse_args(argv)

    # LangGraph's own deprecation warnings must not change what is recorded.
    warnings.simplefilter("default")
    # LangGraph logs a warning for every ignored unknown destination: expected here.
    logging.getLogger("langgraph").setLevel(logging.ERROR)
    from importlib.metadata import version

    import langgraph  # noqa: F401  (fail early with a clear ImportError)

    lib = load_langgraph()
    names = args.only or list(CASES)
    cases = {}
    for name in names:
        print(f"recording {name}", file=sys.stderr)
        cases[name] = record_case(name, lib, args.repeat)

    build = {name: run_build(fn, lib) for name, fn in BUILD_CASES.items()}
    data = {
        "build": build,
        "meta": {
            "langgraph": version("langgraph"),
            "python": platform.python_version(),
            "repeat": args.repeat,
        },
        "cases": cases,
    }
    if args.print:
        print(dumps(data))
    if args.check:
        old = json.loads(args.output.read_text())["cases"]
        bad = [n for n in names if old.get(n) != cases[n]]
        old_build = json.loads(args.output.read_text())["build"]
        bad += [f"build:{n}" for n in build if old_build.get(n) != build[n]]
        print(f"{len(names) - len(bad)} same, {len(bad)} differ: {bad}", file=sys.stderr)
        return 1 if bad else 0
    if args.only is None and not args.print:
        args.output.write_text(dumps(data) + "\n")
        print(f"wrote {args.output} ({len(cases)} cases)", file=sys.stderr)
    elif args.only is not None and not args.print:
        old = json.loads(args.output.read_text()) if args.output.exists() else data
        old["cases"].update(cases)
        old["meta"] = data["meta"]
        old["build"] = build
        args.output.write_text(dumps(old) + "\n")
        print(f"updated {len(cases)} cases in {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
