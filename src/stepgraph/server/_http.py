"""ASGI responses the server needs beyond Starlette's: a streamed body that notices the
client going away at once (not only at the next write), and JSON error bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from . import _json

__all__ = ["ApiError", "JSONResponse", "StreamBody"]

Write = Callable[[bytes], Awaitable[None]]


class ApiError(Exception):
    """Answer with ``status`` and ``{"detail": detail}``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class JSONResponse(Response):
    """orjson-encoded JSON (compact, handles graph values)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _json.dumps(content)


class StreamBody:
    """A streamed response: ``produce(write)`` writes the body. If the client
    disconnects, ``produce`` is cancelled and ``on_disconnect`` is called."""

    def __init__(
        self,
        produce: Callable[[Write], Awaitable[None]],
        *,
        media_type: str,
        headers: Mapping[str, str] | None = None,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        self.produce = produce
        self.media_type = media_type
        self.headers = dict(headers or {})
        self.on_disconnect = on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = False
        headers = [(b"content-type", self.media_type.encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]

        async def write(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                nonlocal disconnected
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        disconnected = True
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(watch)
            try:
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await self.produce(write)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:  # the transport went away mid-write
                disconnected = True
            tg.cancel_scope.cancel()
        if disconnected and self.on_disconnect is not None:
            self.on_disconnect()
