"""Run the server: open the database, load the graphs, serve HTTP with hypercorn on trio
or asyncio, and stop cleanly on SIGINT/SIGTERM (runs cancelled, statuses stored)."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import attrs

from ._app import Settings, create_app
from ._config import ConfigError, load_config
from ._graph_store import ServerStore
from ._runs import Manager, now_iso
from ._store import MemoryStore, MetaStore, PostgresStore, SqliteStore

__all__ = ["DEFAULT_DATABASE", "ServeOptions", "serve"]

logger = logging.getLogger("stepgraph.server")

DEFAULT_DATABASE = "./.stepgraph/state.sqlite"


@attrs.frozen(kw_only=True)
class ServeOptions:
    """What ``stepgraph serve`` was asked to do."""

    config: str = "langgraph.json"
    host: str = "127.0.0.1"
    port: int = 2024
    backend: str = "asyncio"
    database_url: str | None = None
    heartbeat: float = 5.0
    stream_log_size: int = 10_000
    n_jobs_per_worker: int = 32


def _database(url: str | None) -> tuple[str, str]:
    """``("memory" | "sqlite" | "postgres", path or url)``."""
    if url is None:
        return "sqlite", DEFAULT_DATABASE
    if url in (":memory:", "memory", "memory://"):
        return "memory", ""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgres", url
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        return "sqlite", path[1:] if path.startswith("/") else path
    return "sqlite", url


@contextlib.asynccontextmanager
async def _open_database(url: str | None) -> AsyncIterator[tuple[Any, MetaStore, str]]:
    kind, where = _database(url)
    if kind == "memory":
        from stepgraph.checkpoint import InMemorySaver

        yield InMemorySaver(), MemoryStore(), "memory (nothing persists)"
        return
    store: MetaStore
    if kind == "postgres":
        from stepgraph.checkpoint.postgres import PostgresSaver

        async with PostgresSaver.from_conn_string(where) as saver:
            store = await anyio.to_thread.run_sync(PostgresStore, where)
            try:
                yield saver, store, "PostgreSQL"
            finally:
                await store.aclose()
        return
    from stepgraph.checkpoint.sqlite import SqliteSaver

    path = Path(where)
    path.parent.mkdir(parents=True, exist_ok=True)
    # WAL + NORMAL: no fsync per checkpoint (many concurrent runs); nothing is lost when
    # the process dies, only (possibly) the last transactions on a power cut.
    async with SqliteSaver.from_conn_string(path, synchronous="NORMAL") as saver:
        store = await anyio.to_thread.run_sync(SqliteStore, path)
        try:
            yield saver, store, f"SQLite {str(path)!r}"
        finally:
            await store.aclose()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve(options: ServeOptions) -> None:
    """Serve until SIGINT/SIGTERM. Prints ``stepgraph serve: listening on <url>`` on
    stdout once connections are accepted (tests and scripts wait for that line)."""
    from hypercorn.config import Config

    cfg = load_config(options.config)
    async with _open_database(options.database_url) as (saver, store, where):
        manager = Manager(
            cfg.graphs,
            saver,
            store,
            log_size=options.stream_log_size,
            workers=options.n_jobs_per_worker,
        )
        graph_store = ServerStore(manager.items, now_iso)
        for entry in cfg.graphs:
            entry.load(saver, graph_store)
        app = create_app(manager, Settings(heartbeat=options.heartbeat))
        sock = _listen(options.host, options.port)
        port = sock.getsockname()[1]
        hyper = Config()
        hyper.bind = [f"fd://{sock.fileno()}"]
        hyper.accesslog = None
        hyper.errorlog = logging.getLogger("hypercorn.error")
        hyper.graceful_timeout = 10.0
        stopped = anyio.Event()
        async with anyio.create_task_group() as tg:
            await manager.start(tg)

            async def on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        logger.info("stopping: cancelling runs")
                        await manager.shutdown()
                        stopped.set()
                        return

            tg.start_soon(on_signal)
            host = f"[{options.host}]" if ":" in options.host else options.host
            graphs = ", ".join(e.graph_id for e in cfg.graphs)
            print(
                f"stepgraph serve: graphs {graphs}; database {where}; {options.backend}",
                flush=True,
            )
            print(f"stepgraph serve: listening on http://{host}:{port}", flush=True)
            if options.backend == "trio":
                from hypercorn.trio import serve as hyper_serve
            else:
                from hypercorn.asyncio import serve as hyper_serve  # type: ignore[assignment]

            async def http() -> None:
                try:
                    await hyper_serve(app, hyper, shutdown_trigger=stopped.wait)  # type: ignore[arg-type]
                except BaseException as exc:
                    # hypercorn's asyncio serve re-raises the CancelledError of its own
                    # timed-out graceful wait when connections outlive it; that is no
                    # cancellation of ours: end this task (a child, so it leaves the
                    # server's own task untouched) and finish the shutdown.
                    if not (stopped.is_set() and type(exc).__name__ == "CancelledError"):
                        raise
                    logger.warning("connections still open after the graceful timeout were dropped")
                http_done.set()

            http_done = anyio.Event()
            tg.start_soon(http)
            await http_done.wait()
            await manager.shutdown()
            tg.cancel_scope.cancel()
        with contextlib.suppress(OSError):  # hypercorn closed the fd already
            sock.close()


def run(options: ServeOptions) -> int:
    """Blocking entry point; the process exit status."""
    logging.basicConfig(level=logging.INFO, format="stepgraph: %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        anyio.run(serve, options, backend=options.backend)
    except ConfigError as exc:
        print(f"stepgraph serve: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0
