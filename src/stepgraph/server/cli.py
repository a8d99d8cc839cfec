"""``stepgraph serve``: the command line (flags as ``langgraph dev``'s)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._serve import DEFAULT_DATABASE, ServeOptions, run

__all__ = ["main", "parser"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="stepgraph",
        description="stepgraph: serve LangGraph-style graphs to the langgraph-sdk client.",
    )
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        aliases=["dev"],
        help="serve the graphs of a langgraph.json over the Agent Server HTTP API",
        description=(
            "Serve the graphs named in a langgraph.json over the HTTP API that the official "
            "langgraph-sdk client (get_client / get_sync_client) talks to."
        ),
    )
    serve.add_argument(
        "--config", default="langgraph.json", help="path to langgraph.json (default: %(default)s)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port",
        type=int,
        default=2024,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    serve.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default="asyncio",
        help="event loop to run on (default: %(default)s)",
    )
    serve.add_argument(
        "--database-url",
        default=None,
        help=(
            "sqlite:///path or a file path (SQLite), postgresql://... (PostgreSQL), or :memory: "
            f"(nothing persists); default: {DEFAULT_DATABASE}"
        ),
    )
    serve.add_argument(
        "--heartbeat",
        type=float,
        default=5.0,
        help="seconds of SSE silence before a heartbeat comment (default: %(default)s)",
    )
    serve.add_argument(
        "--n-jobs-per-worker",
        type=_positive,
        default=32,
        help="runs executing at once; more wait as 'pending' (default: %(default)s)",
    )
    serve.add_argument(
        "--stream-log-size",
        type=int,
        default=10_000,
        help="events kept per run for resumable streams and joins (default: %(default)s)",
    )
    return top


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``stepgraph`` console script."""
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    options = ServeOptions(
        config=args.config,
        host=args.host,
        port=args.port,
        backend=args.backend,
        database_url=args.database_url,
        heartbeat=args.heartbeat,
        stream_log_size=args.stream_log_size,
        n_jobs_per_worker=args.n_jobs_per_worker,
    )
    raise SystemExit(run(options))
