"""The HTTP API (Starlette routes) the official ``langgraph-sdk`` client talks to.

Paths, bodies, status codes and SSE framing follow the reference Agent Server; see
``shared/research/platform-api.md``. Handlers check input and look records up, then
hand work to the :class:`~stepgraph.server._runs.Manager`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import stepgraph

from . import _json
from ._assistants import merged_config, merged_context
from ._config import GraphEntry
from ._events import EventLog, LogEntry, encode_sse, mode_of
from ._http import ApiError, JSONResponse, StreamBody, Write
from ._introspect import graph_json, schemas_json, subgraphs_json
from ._items import namespace_of
from ._runs import Manager, RunState, empty_thread_state, now_iso, thread_state_json
from ._validate import check_uuid, run_kwargs, stream_modes

__all__ = ["Settings", "create_app"]

logger = logging.getLogger("stepgraph.server")

Handler = Callable[[Request], Awaitable[Response | StreamBody]]


class Settings:
    """Tunables of the HTTP layer (intervals in seconds): SSE heartbeat, wait/join
    keep-alive, and how long a stream gathers a burst of events into one write."""

    def __init__(
        self, *, heartbeat: float = 5.0, keepalive: float = 5.0, coalesce: float = 0.002
    ) -> None:
        self.heartbeat = heartbeat
        self.keepalive = keepalive
        self.coalesce = coalesce


def _json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse(content, status_code=status, headers=dict(headers or {}))


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = _json.loads(raw)
    except ValueError:
        raise ApiError(422, "Invalid JSON in request body") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ApiError(422, f"{data!r} is not of type 'object'")
    return data


def _int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ApiError(
            422, f"{value!r} is not of type 'integer'\n\nOn instance['{name}']"
        ) from None
    if out < 0:
        raise ApiError(422, f"{out} is less than the minimum of 0\n\nOn instance['{name}']")
    return out


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _matches(record: Mapping[str, Any], filters: Mapping[str, Any] | None) -> bool:
    if not filters:
        return True
    for key, value in filters.items():
        have = record.get(key)
        if isinstance(value, dict) and isinstance(have, dict):
            if not _matches(have, value):
                return False
        elif have != value:
            return False
    return True


def _page(items: list[Any], body: Mapping[str, Any]) -> tuple[list[Any], dict[str, str]]:
    limit = _int(body.get("limit"), "limit", 10)
    offset = _int(body.get("offset"), "offset", 0)
    page = items[offset : offset + limit]
    headers = {"X-Pagination-Total": str(len(items))}
    if offset + limit < len(items):
        headers["X-Pagination-Next"] = str(offset + limit)
    return page, headers


def _sorted(
    items: list[dict[str, Any]], body: Mapping[str, Any], default: str
) -> list[dict[str, Any]]:
    key = body.get("sort_by") or default
    reverse = (body.get("sort_order") or "desc").lower() != "asc"
    return sorted(items, key=lambda r: str(r.get(key) or ""), reverse=reverse)


def _select(items: list[dict[str, Any]], select: Any) -> list[dict[str, Any]]:
    if not select or not isinstance(select, list):
        return items
    return [{k: v for k, v in item.items() if k in select} for item in items]


class Api:
    """Request handlers bound to one manager."""

    def __init__(self, manager: Manager, settings: Settings) -> None:
        self.m = manager
        self.settings = settings

    # -- lookups ---------------------------------------------------------------

    def _assistant(self, request: Request) -> dict[str, Any]:
        assistant_id = check_uuid(request.path_params["assistant_id"], "assistant")
        return self.m.assistants.get(assistant_id)

    def _assistant_graph(self, request: Request) -> tuple[dict[str, Any], GraphEntry]:
        record = self._assistant(request)
        entry = self.m.assistants.entry(record)
        if entry is None:
            raise ApiError(404, f"Graph '{record['graph_id']}' is not served (see langgraph.json)")
        return record, entry

    def _thread(self, request: Request, *, runs: bool = False) -> dict[str, Any]:
        thread_id = check_uuid(request.path_params["thread_id"], "thread")
        thread = self.m.threads.get(thread_id)
        if thread is None:
            raise ApiError(
                404,
                "Thread or assistant not found."
                if runs
                else f"Thread with ID {thread_id} not found",
            )
        return thread

    def _run(self, request: Request) -> dict[str, Any]:
        thread = self._thread(request)
        run_id = check_uuid(request.path_params["run_id"], "run")
        run = self.m.runs.get(run_id)
        if run is None or run["thread_id"] != thread["thread_id"]:
            raise ApiError(404, f"Run with ID {run_id} not found")
        return run

    # -- system ----------------------------------------------------------------

    async def ok(self, request: Request) -> Response:
        return _json_response({"ok": True})

    async def info(self, request: Request) -> Response:
        return _json_response(
            {
                "version": stepgraph.__version__,
                "server": "stepgraph",
                "flags": {"assistants": True, "crons": False, "langsmith": False},
            }
        )

    # -- assistants ------------------------------------------------------------

    async def assistants_search(self, request: Request) -> Response:
        body = await _body(request)
        items = _sorted(self.m.assistants.search(body), body, "created_at")
        page, headers = _page(items, body)
        return _json_response(_select(page, body.get("select")), headers=headers)

    async def assistants_count(self, request: Request) -> Response:
        return _json_response(len(self.m.assistants.search(await _body(request))))

    async def assistants_create(self, request: Request) -> Response:
        record = self.m.assistants.create(await _body(request), now_iso())
        await self.m.store.flush()
        return _json_response(record)

    async def assistant_get(self, request: Request) -> Response:
        return _json_response(self._assistant(request))

    async def assistant_patch(self, request: Request) -> Response:
        assistant_id = check_uuid(request.path_params["assistant_id"], "assistant")
        record = self.m.assistants.update(assistant_id, await _body(request), now_iso())
        await self.m.store.flush()
        return _json_response(record)

    async def assistant_delete(self, request: Request) -> Response:
        record = self._assistant(request)
        assistant_id = record["assistant_id"]
        m = self.m
        for run in [r for r in m.runs.values() if r["assistant_id"] == assistant_id]:
            rs = m.live.get(run["run_id"])
            if rs is not None:
                await m.cancel(rs, "interrupt", wait=True)
            m.runs.pop(run["run_id"], None)
            m.store.delete_run(run["run_id"])
        if _flag(request.query_params.get("delete_threads")):
            for thread in list(m.threads.values()):
                if (thread.get("metadata") or {}).get("assistant_id") == assistant_id:
                    await m.delete_thread(thread["thread_id"])
        m.assistants.delete(assistant_id)
        await m.store.flush()
        return Response(status_code=204)

    async def assistant_versions(self, request: Request) -> Response:
        assistant_id = check_uuid(request.path_params["assistant_id"], "assistant")
        body = await _body(request)
        page, headers = _page(self.m.assistants.history(assistant_id, body), body)
        return _json_response(page, headers=headers)

    async def assistant_latest(self, request: Request) -> Response:
        assistant_id = check_uuid(request.path_params["assistant_id"], "assistant")
        body = await _body(request)
        if "version" not in body:
            raise ApiError(422, '"version" is a required property')
        record = self.m.assistants.set_latest(assistant_id, body["version"], now_iso())
        await self.m.store.flush()
        return _json_response(record)

    async def assistant_graph(self, request: Request) -> Response:
        record, entry = self._assistant_graph(request)
        async with entry.graph(record["config"], self.m.saver) as graph:
            return _json_response(graph_json(graph))

    async def assistant_schemas(self, request: Request) -> Response:
        record, entry = self._assistant_graph(request)
        async with entry.graph(record["config"], self.m.saver) as graph:
            return _json_response(schemas_json(entry.graph_id, graph))

    async def assistant_subgraphs(self, request: Request) -> Response:
        record, entry = self._assistant_graph(request)
        namespace = request.path_params.get("namespace")
        async with entry.graph(record["config"], self.m.saver) as graph:
            return _json_response(subgraphs_json(graph, namespace))

    # -- store -----------------------------------------------------------------

    async def store_put(self, request: Request) -> Response:
        self.m.items.put(await _body(request), now_iso())
        await self.m.store.flush()
        return Response(status_code=204)

    async def store_get(self, request: Request) -> Response:
        q = request.query_params
        namespace = namespace_of(q.get("namespace", "").split(".") if q.get("namespace") else [])
        key = q.get("key")
        if not key:
            raise ApiError(422, "Pass the item's key: GET /store/items?namespace=a.b&key=...")
        return _json_response(self.m.items.get(namespace, key))

    async def store_delete(self, request: Request) -> Response:
        self.m.items.delete(await _body(request))
        await self.m.store.flush()
        return Response(status_code=204)

    async def store_search(self, request: Request) -> Response:
        body = await _body(request)
        page, _ = _page(self.m.items.search(body), body)
        return _json_response({"items": page})

    async def store_namespaces(self, request: Request) -> Response:
        body = await _body(request)
        found = self.m.items.namespaces(body)
        page, _ = _page(found, {"limit": body.get("limit", 100), "offset": body.get("offset")})
        return _json_response({"namespaces": page})

    # -- threads ---------------------------------------------------------------

    async def threads_create(self, request: Request) -> Response:
        body = await _body(request)
        thread_id = body.get("thread_id")
        if thread_id is not None:
            check_uuid(str(thread_id), "thread")
            existing = self.m.threads.get(str(thread_id))
            if existing is not None:
                if body.get("if_exists") == "do_nothing":
                    return _json_response(existing)
                raise ApiError(409, f"Thread with ID {thread_id} already exists")
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ApiError(422, f"{metadata!r} is not of type 'object'")
        thread = await self.m.create_thread(thread_id and str(thread_id), metadata)
        supersteps = body.get("supersteps")
        if supersteps:
            await self._apply_supersteps(thread, supersteps)
        return _json_response(thread)

    async def _apply_supersteps(self, thread: dict[str, Any], supersteps: Any) -> None:
        entry = self.m.entry_for_thread(thread)
        if entry is None:
            raise ApiError(400, "Thread has no graph_id in its metadata: cannot apply supersteps")
        config = {"configurable": {"thread_id": thread["thread_id"], "checkpoint_ns": ""}}
        async with entry.graph({}, self.m.saver) as graph:
            for step in supersteps:
                for update in step.get("updates") or ():
                    config = await graph.aupdate_state(
                        config, update.get("values"), as_node=update.get("as_node")
                    )
        await self.m.refresh_thread(thread["thread_id"])

    async def thread_get(self, request: Request) -> Response:
        return _json_response(self._thread(request))

    async def thread_patch(self, request: Request) -> Response:
        thread = self._thread(request)
        body = await _body(request)
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ApiError(422, f"{metadata!r} is not of type 'object'")
        thread["metadata"] = {**thread.get("metadata", {}), **metadata}
        await self.m.save_thread(thread)
        return _json_response(thread)

    async def thread_delete(self, request: Request) -> Response:
        thread = self._thread(request)
        await self.m.delete_thread(thread["thread_id"])
        return Response(status_code=204)

    def _threads(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        items = list(self.m.threads.values())
        if body.get("ids"):
            wanted = {str(i) for i in body["ids"]}
            items = [t for t in items if t["thread_id"] in wanted]
        if body.get("status"):
            items = [t for t in items if t["status"] == body["status"]]
        items = [t for t in items if _matches(t.get("metadata") or {}, body.get("metadata"))]
        if body.get("values"):
            items = [t for t in items if _matches(t.get("values") or {}, body["values"])]
        return [t for t in items if not t["thread_id"].startswith("__")]

    async def threads_search(self, request: Request) -> Response:
        body = await _body(request)
        items = _sorted(self._threads(body), body, "created_at")
        page, headers = _page(items, body)
        return _json_response(_select(page, body.get("select")), headers=headers)

    async def threads_count(self, request: Request) -> Response:
        return _json_response(len(self._threads(await _body(request))))

    async def threads_prune(self, request: Request) -> Response:
        """``delete`` the threads, or ``keep_latest``: keep only their latest checkpoint."""
        body = await _body(request)
        ids = body.get("thread_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(422, '"thread_ids" is a required property (a list of thread ids)')
        strategy = body.get("strategy") or "delete"
        if strategy not in ("delete", "keep_latest"):
            raise ApiError(
                422,
                f"{strategy!r} is not one of ['delete', 'keep_latest']\n\nOn instance['strategy']",
            )
        pruned = 0
        for thread_id in ids:
            if thread_id not in self.m.threads:
                continue
            if self.m.is_busy(thread_id):
                raise ApiError(409, f"Thread {thread_id} is busy: a run is pending or running")
            if strategy == "delete":
                await self.m.delete_thread(thread_id)
            else:
                await self.m.keep_latest_checkpoint(thread_id)
            pruned += 1
        return _json_response({"pruned_count": pruned})

    async def thread_copy(self, request: Request) -> Response:
        thread = self._thread(request)
        copy = await self.m.create_thread(None, thread.get("metadata"))
        await self.m.copy_checkpoints(thread["thread_id"], copy["thread_id"])
        copy["values"] = thread.get("values")
        copy["interrupts"] = thread.get("interrupts") or {}
        if copy["interrupts"]:
            copy["status"] = "interrupted"
        await self.m.save_thread(copy)
        return _json_response(copy)

    async def _state(
        self, thread: Mapping[str, Any], checkpoint: Mapping[str, Any] | None, subgraphs: bool
    ) -> dict[str, Any]:
        entry = self.m.entry_for_thread(thread)
        if entry is None:
            return empty_thread_state()
        config = await self.m.graph_config(thread["thread_id"], checkpoint)
        async with entry.graph({}, self.m.saver) as graph:
            snapshot = await graph.aget_state(config, subgraphs=subgraphs)
        if not snapshot.created_at:
            return empty_thread_state()
        return thread_state_json(snapshot)

    async def thread_state(self, request: Request) -> Response:
        thread = self._thread(request)
        checkpoint_id = request.path_params.get("checkpoint_id")
        checkpoint = {"checkpoint_id": checkpoint_id} if checkpoint_id else None
        subgraphs = _flag(request.query_params.get("subgraphs"))
        return _json_response(await self._state(thread, checkpoint, subgraphs))

    async def thread_state_at(self, request: Request) -> Response:
        thread = self._thread(request)
        body = await _body(request)
        checkpoint = body.get("checkpoint")
        if not isinstance(checkpoint, dict):
            raise ApiError(422, '"checkpoint" is a required property')
        return _json_response(await self._state(thread, checkpoint, bool(body.get("subgraphs"))))

    async def thread_update_state(self, request: Request) -> Response:
        thread = self._thread(request)
        body = await _body(request)
        entry = self.m.entry_for_thread(thread)
        if entry is None:
            raise ApiError(
                400, "Thread has no graph ID. Run a graph on it first, or create it with graph_id."
            )
        if self.m.is_busy(thread["thread_id"]):
            raise ApiError(409, "Thread is busy: a run is pending or running")
        checkpoint = dict(body.get("checkpoint") or {})
        if body.get("checkpoint_id"):
            checkpoint["checkpoint_id"] = body["checkpoint_id"]
        config = await self.m.graph_config(thread["thread_id"], checkpoint)
        async with entry.graph({}, self.m.saver) as graph:
            try:
                new_config = await graph.aupdate_state(
                    config, body.get("values"), as_node=body.get("as_node")
                )
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
        await self.m.refresh_thread(thread["thread_id"])
        configurable = dict(new_config.get("configurable") or {})
        configurable.setdefault("checkpoint_map", {})
        return _json_response({"checkpoint": configurable})

    async def thread_history(self, request: Request) -> Response:
        thread = self._thread(request)
        if request.method == "GET":
            q = request.query_params
            body: dict[str, Any] = {"limit": q.get("limit"), "before": q.get("before")}
        else:
            body = await _body(request)
        limit = _int(body.get("limit"), "limit", 10)
        entry = self.m.entry_for_thread(thread)
        if entry is None:
            return _json_response([])
        before = body.get("before")
        if isinstance(before, str):
            before = {"checkpoint_id": before}
        config = await self.m.graph_config(thread["thread_id"], body.get("checkpoint"))
        before_config = (
            {"configurable": {**config["configurable"], **before}}
            if isinstance(before, dict)
            else None
        )
        out = []
        async with entry.graph({}, self.m.saver) as graph:
            async for snapshot in graph.aget_state_history(
                config, filter=body.get("metadata") or None, before=before_config, limit=limit
            ):
                out.append(thread_state_json(snapshot))
        return _json_response(out)

    # -- runs ------------------------------------------------------------------

    async def _new_run(
        self, request: Request, *, stream: bool, thread_less: bool, durable: bool
    ) -> RunState:
        """Check the body, resolve assistant and thread, record and queue the run;
        ``durable``: commit before it starts (background runs)."""
        body = await _body(request)
        checked = self._checked_run(body, stream=stream, thread_less=thread_less)
        path_thread = None if thread_less else request.path_params["thread_id"]
        return await self._create_run(body, checked, path_thread, durable=durable)

    def _checked_run(
        self, body: Mapping[str, Any], *, stream: bool, thread_less: bool
    ) -> tuple[dict[str, Any], dict[str, Any], GraphEntry]:
        """A run body's options (assistant config merged in), assistant and graph."""
        kwargs = run_kwargs(body, stream=stream, thread_less=thread_less)
        assistant = self.m.assistants.for_run(body["assistant_id"])
        entry = self.m.assistants.entry(assistant)
        if entry is None:
            raise ApiError(404, "Thread or assistant not found.")
        kwargs["config"] = merged_config(assistant, kwargs["config"])
        kwargs["context"] = merged_context(assistant, kwargs["context"])
        return kwargs, assistant, entry

    async def _create_run(
        self,
        body: Mapping[str, Any],
        checked: tuple[dict[str, Any], dict[str, Any], GraphEntry],
        path_thread: str | None,
        *,
        durable: bool,
    ) -> RunState:
        kwargs, assistant, entry = checked
        thread_less = path_thread is None
        metadata = body.get("metadata")
        strategy = body.get("multitask_strategy") or "enqueue"
        m = self.m
        for key in ("webhook", "feedback_keys", "langsmith_tracer"):
            if body.get(key):
                logger.info("run option %r accepted and ignored by stepgraph serve", key)
        if thread_less:
            thread = await m.create_thread(None, {"graph_id": entry.graph_id}, flush=False)
            thread_id = thread["thread_id"]
        else:
            thread_id = check_uuid(str(path_thread), "thread")
            if thread_id not in m.threads:
                if body.get("if_not_exists") == "create":
                    await m.create_thread(thread_id, {}, flush=False)
                else:
                    raise ApiError(404, "Thread or assistant not found.")
            if strategy == "reject" and m.is_busy(thread_id):
                raise ApiError(
                    409,
                    "Thread is already running a task. Wait for it to finish or choose a "
                    "different multitask strategy.",
                )
        return await m.create_run(
            thread_id,
            entry,
            kwargs,
            metadata=metadata,
            multitask_strategy=strategy,
            assistant_id=assistant["assistant_id"],
            durable=durable,
        )

    def _locations(self, rs: RunState, *, thread_less: bool, kind: str) -> dict[str, str]:
        run_path = (
            f"/runs/{rs.run_id}" if thread_less else f"/threads/{rs.thread_id}/runs/{rs.run_id}"
        )
        if kind == "stream":
            return {"Location": f"{run_path}/stream", "Content-Location": run_path}
        thread_run = f"/threads/{rs.thread_id}/runs/{rs.run_id}"
        return {"Location": f"{thread_run}/join", "Content-Location": thread_run}

    def _sse(
        self,
        log: EventLog,
        *,
        resumable: bool,
        cursor: int,
        modes: list[str] | None,
        on_disconnect: Callable[[], None] | None,
        headers: Mapping[str, str],
    ) -> StreamBody:
        wanted = None
        if modes:
            wanted = {"metadata", "error"}
            for mode in modes:
                wanted.add("messages" if mode == "messages-tuple" else mode)

        async def produce(write: Write) -> None:
            async def emit(entries: list[LogEntry]) -> None:
                frames = [
                    encode_sse(e, log.event_id(e.seq) if resumable else None)
                    for e in entries
                    if wanted is None or mode_of(e.event) in wanted
                ]
                if frames:
                    await write(b"".join(frames))

            async def heartbeat() -> None:
                await write(b": heartbeat\r\n\r\n")

            await log.follow(
                cursor, emit, heartbeat, self.settings.heartbeat, self.settings.coalesce
            )

        sse_headers = {
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
            **headers,
        }
        return StreamBody(
            produce,
            media_type="text/event-stream; charset=utf-8",
            headers=sse_headers,
            on_disconnect=on_disconnect,
        )

    def _canceller(self, rs: RunState, cancel_on_disconnect: bool) -> Callable[[], None] | None:
        """What to do when the client of ``rs``'s stream or wait goes away."""
        if not cancel_on_disconnect:
            return None

        def disconnected() -> None:
            if not rs.done.is_set():
                rs.cancel_action = rs.cancel_action or "interrupt"
                rs.scope.cancel()
                if not rs.started:
                    self._cancel_later(rs)

        return disconnected

    def _cancel_later(self, rs: RunState) -> None:
        tg = self.m._tg
        if tg is not None:
            tg.start_soon(functools.partial(self.m.cancel, rs, "interrupt", wait=False))

    def _wait_body(
        self,
        rs: RunState | None,
        *,
        headers: Mapping[str, str],
        cancel_on_disconnect: bool,
        fallback: Callable[[], Awaitable[Any]] | None = None,
    ) -> StreamBody:
        async def produce(write: Write) -> None:
            if rs is not None:
                while not rs.done.is_set():
                    with anyio.move_on_after(self.settings.keepalive):
                        await rs.done.wait()
                    if not rs.done.is_set():
                        await write(b"\n")
                output = rs.output
            else:
                output = await fallback() if fallback is not None else None
            await write(_json.dumps(output))

        return StreamBody(
            produce,
            media_type="application/json",
            headers=headers,
            on_disconnect=self._canceller(rs, cancel_on_disconnect) if rs is not None else None,
        )

    async def runs_stream(self, request: Request) -> StreamBody:
        thread_less = "thread_id" not in request.path_params
        rs = await self._new_run(request, stream=True, thread_less=thread_less, durable=False)
        return self._sse(
            rs.log,
            resumable=bool(rs.kwargs.get("stream_resumable")),
            cursor=-1,
            modes=None,
            on_disconnect=self._canceller(rs, rs.kwargs["on_disconnect"] == "cancel"),
            headers=self._locations(rs, thread_less=thread_less, kind="stream"),
        )

    async def runs_wait(self, request: Request) -> StreamBody:
        thread_less = "thread_id" not in request.path_params
        rs = await self._new_run(request, stream=False, thread_less=thread_less, durable=False)
        return self._wait_body(
            rs,
            headers=self._locations(rs, thread_less=thread_less, kind="wait"),
            cancel_on_disconnect=rs.kwargs["on_disconnect"] == "cancel",
        )

    async def runs_create(self, request: Request) -> Response:
        thread_less = "thread_id" not in request.path_params
        rs = await self._new_run(request, stream=False, thread_less=thread_less, durable=True)
        headers = {"Content-Location": f"/threads/{rs.thread_id}/runs/{rs.run_id}"}
        return _json_response(rs.record, headers=headers)

    async def runs_batch(self, request: Request) -> Response:
        """Thread-less background runs, one per body; all are checked before any starts."""
        raw = await request.body()
        try:
            bodies = _json.loads(raw) if raw.strip() else None
        except ValueError:
            raise ApiError(422, "Invalid JSON in request body") from None
        if not isinstance(bodies, list) or not all(isinstance(b, dict) for b in bodies):
            raise ApiError(422, "The body must be a JSON array of run objects")
        checked = [self._checked_run(b, stream=False, thread_less=True) for b in bodies]
        runs = []
        for body, options in zip(bodies, checked, strict=True):
            rs = await self._create_run(body, options, None, durable=False)
            runs.append(dict(rs.record))  # as created: pending
        await self.m.store.flush()
        return _json_response(runs)

    async def runs_list(self, request: Request) -> Response:
        thread = self._thread(request)
        q = request.query_params
        items = [r for r in self.m.runs.values() if r["thread_id"] == thread["thread_id"]]
        if q.get("status"):
            items = [r for r in items if r["status"] == q["status"]]
        items.sort(key=lambda r: (str(r["created_at"]), str(r["run_id"])), reverse=True)
        page, headers = _page(items, {"limit": q.get("limit"), "offset": q.get("offset")})
        return _json_response(page, headers=headers)

    async def run_get(self, request: Request) -> Response:
        return _json_response(self._run(request))

    async def run_delete(self, request: Request) -> Response:
        run = self._run(request)
        rs = self.m.live.get(run["run_id"])
        if rs is not None:
            await self.m.cancel(rs, "interrupt", wait=True)
        self.m.runs.pop(run["run_id"], None)
        self.m.store.delete_run(run["run_id"])
        await self.m.store.flush()
        return Response(status_code=204)

    async def _final_from_thread(self, thread_id: str) -> Any:
        thread = self.m.threads.get(thread_id)
        if thread is None:
            return None
        values = thread.get("values")
        interrupts = [i for group in (thread.get("interrupts") or {}).values() for i in group]
        if interrupts and isinstance(values, dict):
            return {**values, "__interrupt__": interrupts}
        return values

    async def run_join(self, request: Request) -> StreamBody | Response:
        try:
            run = self._run(request)
        except ApiError as exc:
            if exc.status != 404:
                raise
            # a temporary thread-less run's thread (and record) is deleted as it ends;
            # a join that arrives just after still gets its output from memory
            recent = self.m.run_state(str(request.path_params.get("run_id", "")))
            if recent is not None and str(recent.record.get("thread_id")) == str(
                request.path_params.get("thread_id")
            ):
                return self._wait_body(recent, headers={}, cancel_on_disconnect=False)
            return _json_response(
                {"__error__": {"error": "HTTPException", "message": "404: Run not found"}}
            )
        rs = self.m.run_state(run["run_id"])
        thread_id = run["thread_id"]
        return self._wait_body(
            rs,
            headers={},
            cancel_on_disconnect=False,
            fallback=lambda: self._final_from_thread(thread_id),
        )

    async def run_join_stream(self, request: Request) -> StreamBody:
        if "thread_id" in request.path_params:
            run = self._run(request)
        else:
            run_id = check_uuid(request.path_params["run_id"], "run")
            found = self.m.runs.get(run_id)
            if found is None and self.m.run_state(run_id) is None:
                raise ApiError(404, f"Run with ID {run_id} not found")
            run = found or self.m.run_state(run_id).record  # type: ignore[union-attr]
        q = request.query_params
        modes = [m for m in q.getlist("stream_mode") if m]
        if len(modes) == 1 and modes[0].startswith("["):
            modes = list(_json.loads(modes[0]))
        checked = stream_modes(modes) if modes else None
        last = request.headers.get("last-event-id")
        cursor = -1
        if last:
            try:
                cursor = int(last.rsplit("-", 1)[-1])
            except ValueError:
                raise ApiError(
                    422,
                    f"Invalid Last-Event-ID: {last!r} (pass the id of the last event received, "
                    "e.g. 1795236836986-12)",
                ) from None
        log = await self.m.event_log(run)
        if log is None:  # a finished run that was not resumable: nothing live to send
            log = EventLog.restored([], "0")
        resumable = bool(run["kwargs"].get("stream_resumable"))
        if not resumable and not last:
            cursor = log.next_seq - 1  # live events only, as the reference
        rs = self.m.live.get(run["run_id"])
        cancel = rs is not None and _flag(q.get("cancel_on_disconnect"))
        return self._sse(
            log,
            resumable=resumable,
            cursor=cursor,
            modes=checked,
            on_disconnect=self._canceller(rs, cancel) if rs is not None else None,
            headers={},
        )

    async def run_cancel(self, request: Request) -> Response | StreamBody:
        try:
            run = self._run(request)
        except ApiError as exc:
            if exc.status == 404 and "Run with ID" in exc.detail:
                raise ApiError(404, "No runs found to cancel.") from None
            raise
        q = request.query_params
        action = q.get("action") or "interrupt"
        if action not in ("interrupt", "rollback"):
            raise ApiError(422, f"{action!r} is not one of ['interrupt', 'rollback']")
        wait = _flag(q.get("wait"))
        rs = self.m.live.get(run["run_id"])
        if rs is not None:
            await self.m.cancel(rs, action, wait=wait)
        if not wait:
            return Response(status_code=202)
        final = rs or self.m.run_state(run["run_id"])
        thread_id = run["thread_id"]
        return self._wait_body(
            final,
            headers={"Location": f"/threads/{thread_id}/runs/{run['run_id']}/join"},
            cancel_on_disconnect=False,
            fallback=lambda: self._final_from_thread(thread_id),
        )

    async def runs_cancel_many(self, request: Request) -> Response:
        body = await _body(request)
        action = request.query_params.get("action") or "interrupt"
        if action not in ("interrupt", "rollback"):
            raise ApiError(422, f"{action!r} is not one of ['interrupt', 'rollback']")
        targets: list[RunState] = []
        if body.get("status"):
            status = body["status"]
            if status not in ("pending", "running", "all"):
                raise ApiError(422, f"{status!r} is not one of ['pending', 'running', 'all']")
            targets = [
                rs
                for rs in self.m.live.values()
                if status == "all" or rs.record["status"] == status
            ]
        else:
            thread_id = body.get("thread_id")
            run_ids = body.get("run_ids") or []
            if not thread_id or not run_ids:
                raise ApiError(422, "Pass either 'status', or 'thread_id' and 'run_ids'")
            for run_id in run_ids:
                rs = self.m.live.get(str(run_id))
                if rs is not None and rs.thread_id == thread_id:
                    targets.append(rs)
            if not targets and not any(
                str(r) in self.m.runs and self.m.runs[str(r)]["thread_id"] == thread_id
                for r in run_ids
            ):
                raise ApiError(404, "No runs found to cancel.")
        for rs in targets:
            await self.m.cancel(rs, action, wait=False)
        return Response(status_code=204)


def _wrap(handler: Handler) -> Callable[[Request], Awaitable[Any]]:
    return handler


def create_app(manager: Manager, settings: Settings | None = None) -> Starlette:
    """The Starlette app serving ``manager``'s graphs, threads and runs."""
    api = Api(manager, settings or Settings())
    T = "/threads/{thread_id}"
    R = T + "/runs/{run_id}"
    routes = [
        Route("/", api.ok, methods=["GET"]),
        Route("/ok", api.ok, methods=["GET"]),
        Route("/info", api.info, methods=["GET"]),
        Route("/assistants", api.assistants_create, methods=["POST"]),
        Route("/assistants/search", api.assistants_search, methods=["POST"]),
        Route("/assistants/count", api.assistants_count, methods=["POST"]),
        Route("/assistants/{assistant_id}", api.assistant_get, methods=["GET"]),
        Route("/assistants/{assistant_id}", api.assistant_patch, methods=["PATCH"]),
        Route("/assistants/{assistant_id}", api.assistant_delete, methods=["DELETE"]),
        Route("/assistants/{assistant_id}/latest", api.assistant_latest, methods=["POST"]),
        Route("/assistants/{assistant_id}/graph", api.assistant_graph, methods=["GET"]),
        Route("/assistants/{assistant_id}/schemas", api.assistant_schemas, methods=["GET"]),
        Route("/assistants/{assistant_id}/subgraphs", api.assistant_subgraphs, methods=["GET"]),
        Route(
            "/assistants/{assistant_id}/subgraphs/{namespace}",
            api.assistant_subgraphs,
            methods=["GET"],
        ),
        Route("/assistants/{assistant_id}/versions", api.assistant_versions, methods=["POST"]),
        Route("/store/items", api.store_put, methods=["PUT"]),
        Route("/store/items", api.store_get, methods=["GET"]),
        Route("/store/items", api.store_delete, methods=["DELETE"]),
        Route("/store/items/search", api.store_search, methods=["POST"]),
        Route("/store/namespaces", api.store_namespaces, methods=["POST"]),
        Route("/threads", api.threads_create, methods=["POST"]),
        Route("/threads/search", api.threads_search, methods=["POST"]),
        Route("/threads/count", api.threads_count, methods=["POST"]),
        Route("/threads/prune", api.threads_prune, methods=["POST"]),
        Route(T, api.thread_get, methods=["GET"]),
        Route(T, api.thread_patch, methods=["PATCH"]),
        Route(T, api.thread_delete, methods=["DELETE"]),
        Route(T + "/copy", api.thread_copy, methods=["POST"]),
        Route(T + "/state", api.thread_state, methods=["GET"]),
        Route(T + "/state", api.thread_update_state, methods=["POST"]),
        Route(T + "/state/checkpoint", api.thread_state_at, methods=["POST"]),
        Route(T + "/state/{checkpoint_id}", api.thread_state, methods=["GET"]),
        Route(T + "/history", api.thread_history, methods=["GET", "POST"]),
        Route(T + "/runs", api.runs_create, methods=["POST"]),
        Route(T + "/runs", api.runs_list, methods=["GET"]),
        Route(T + "/runs/stream", api.runs_stream, methods=["POST"]),
        Route(T + "/runs/wait", api.runs_wait, methods=["POST"]),
        Route(R, api.run_get, methods=["GET"]),
        Route(R, api.run_delete, methods=["DELETE"]),
        Route(R + "/join", api.run_join, methods=["GET"]),
        Route(R + "/stream", api.run_join_stream, methods=["GET"]),
        Route(R + "/cancel", api.run_cancel, methods=["POST"]),
        Route("/runs", api.runs_create, methods=["POST"]),
        Route("/runs/stream", api.runs_stream, methods=["POST"]),
        Route("/runs/wait", api.runs_wait, methods=["POST"]),
        Route("/runs/cancel", api.runs_cancel_many, methods=["POST"]),
        Route("/runs/batch", api.runs_batch, methods=["POST"]),
        Route("/runs/{run_id}/stream", api.run_join_stream, methods=["GET"]),
    ]

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _json_response({"detail": exc.detail}, status=exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _json_response({"detail": exc.detail}, status=exc.status_code, headers=exc.headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _json_response({"detail": f"{type(exc).__name__}: {exc}"}, status=500)

    return Starlette(
        routes=routes,
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            Exception: server_error,
        },
    )


_ = now_iso
