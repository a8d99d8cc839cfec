"""Load: 200 concurrent streaming runs from 50 clients against one server (loopback
only, bounded in count and time). Every client must get every event of its runs, in
order; throughput and latencies are printed, not asserted: first event (``metadata``,
sent as soon as the run is queued) and first graph event (the run's first chunk).
The server runs at most ``--n-jobs-per-worker`` (32) runs at once; the rest wait
``pending`` with their streams open."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from .conftest import ServerProcess
from .sse import events

pytestmark = pytest.mark.anyio

CLIENTS = 50
RUNS_PER_CLIENT = 4
TOKENS = 20
DEADLINE = 120.0


@pytest.fixture
async def clients(server: ServerProcess) -> AsyncIterator[list[httpx.AsyncClient]]:
    limits = httpx.Limits(max_connections=RUNS_PER_CLIENT + 2)
    opened = [
        httpx.AsyncClient(base_url=server.url, timeout=DEADLINE, limits=limits)
        for _ in range(CLIENTS)
    ]
    try:
        yield opened
    finally:
        for client in opened:
            await client.aclose()


async def test_200_concurrent_streams_from_50_clients(
    clients: list[httpx.AsyncClient], server: ServerProcess, anyio_backend: str
) -> None:
    latencies: list[float] = []
    graph_latencies: list[float] = []
    counts: list[int] = []
    problems: list[str] = []
    body = {
        "assistant_id": "talker",
        "input": {"n": TOKENS},
        "stream_mode": ["custom", "messages-tuple", "values"],
        "stream_resumable": True,
    }

    async def one_run(client: httpx.AsyncClient) -> None:
        started = time.perf_counter()
        first: float | None = None
        first_chunk: float | None = None
        seen = []
        async with client.stream("POST", "/runs/stream", json=body) as response:
            assert response.status_code == 200
            async for event in events(response):
                if first is None:
                    first = time.perf_counter() - started
                if event.id is not None:
                    if first_chunk is None and event.event != "metadata":
                        first_chunk = time.perf_counter() - started
                    seen.append(event)
        assert first is not None
        assert first_chunk is not None
        latencies.append(first)
        graph_latencies.append(first_chunk)
        counts.append(len(seen))
        seqs = [int(str(e.id).rsplit("-", 1)[1]) for e in seen]
        custom = [e.data["i"] for e in seen if e.event == "custom"]
        tokens = [e.data[0]["content"] for e in seen if e.event == "messages"]
        if seqs != list(range(len(seen))):
            problems.append(f"ids not gap-free: {seqs}")
        if custom != list(range(TOKENS)):
            problems.append(f"custom out of order or missing: {custom}")
        if tokens != [f"t{i} " for i in range(TOKENS)]:
            problems.append(f"tokens out of order or missing: {tokens}")
        if seen[0].event != "metadata" or seen[-1].event != "values":
            problems.append(f"first/last events: {seen[0].event}, {seen[-1].event}")

    async def one_client(client: httpx.AsyncClient) -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(RUNS_PER_CLIENT):
                tg.start_soon(one_run, client)

    began = time.perf_counter()
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            for client in clients:
                tg.start_soon(one_client, client)
    elapsed = time.perf_counter() - began
    assert problems == []
    assert len(counts) == CLIENTS * RUNS_PER_CLIENT
    total = sum(counts)

    def p50_p99(values: list[float]) -> str:
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"

    print(
        f"\nload [server {server.backend}, client {anyio_backend}]: "
        f"{len(counts)} streaming runs from {CLIENTS} clients, {total} events in "
        f"{elapsed:.2f}s = {total / elapsed:.0f} events/s, {len(counts) / elapsed:.1f} runs/s; "
        f"first event {p50_p99(latencies)}; first graph event {p50_p99(graph_latencies)}"
    )
