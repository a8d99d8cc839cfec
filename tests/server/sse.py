"""A small SSE reader for raw-HTTP tests (keeps ids and heartbeat comments visible)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import attrs
import httpx
import orjson


@attrs.frozen
class Event:
    event: str
    data: Any
    id: str | None


HEARTBEAT = Event(":heartbeat", None, None)


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    """Events of an SSE response, in order; heartbeat comments as :data:`HEARTBEAT`."""
    name, data, event_id = "", [], None
    async for line in response.aiter_lines():
        if line == "":
            if name or data:
                yield Event(name, orjson.loads("\n".join(data)) if data else None, event_id)
            name, data, event_id = "", [], None
        elif line.startswith(":"):
            yield HEARTBEAT
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                event_id = value


async def until(stream: AsyncIterator[Event], predicate: Any) -> list[Event]:
    """Read events up to and including the first that satisfies ``predicate``."""
    seen = []
    async for event in stream:
        seen.append(event)
        if predicate(event):
            return seen
    raise AssertionError(f"stream ended first: {seen}")


def started(event: Event) -> bool:
    return event.event.startswith("custom") and event.data == {"started": True}


class RawStream:
    """An SSE response read straight off a socket (HTTP/1.1, chunked): closing it drops
    the connection at once, like a client going away mid-stream.
    (httpx's streaming iterators are async generators that trio reports as garbage
    collected unexhausted when a test stops reading early.)"""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._buffer = b""
        self._raw = b""
        self._chunked = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self._eof = False

    async def _receive(self) -> bool:
        try:
            self._raw += await self._stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            self._eof = True
            return False
        return True

    async def _fill(self) -> bool:
        """Move at least one more body byte into the buffer; False at the end."""
        while not self._eof:
            if not self._chunked:
                if self._raw:
                    self._buffer, self._raw = self._buffer + self._raw, b""
                    return True
            elif b"\r\n" in self._raw:
                size_line, rest = self._raw.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self._eof = True
                    return False
                if len(rest) >= size + 2:
                    self._buffer += rest[:size]
                    self._raw = rest[size + 2 :]
                    return True
            await self._receive()
        return False

    async def _read_head(self) -> None:
        while b"\r\n\r\n" not in self._raw:
            if not await self._receive():
                raise AssertionError(f"no response head: {self._raw!r}")
        head, self._raw = self._raw.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            key, _, value = line.partition(":")
            self.headers[key.strip().lower()] = value.strip()
        self._chunked = self.headers.get("transfer-encoding") == "chunked"

    async def next(self) -> Event | None:
        """The next event (or :data:`HEARTBEAT`), None at the end of the response."""
        while True:
            for sep in (b"\r\n\r\n", b"\n\n"):
                if sep in self._buffer:
                    block, self._buffer = self._buffer.split(sep, 1)
                    break
            else:
                if not await self._fill():
                    return None
                continue
            name, data, event_id = "", [], None
            for line in block.decode().splitlines():
                if line.startswith(":"):
                    return HEARTBEAT
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
                elif field == "id":
                    event_id = value
            if name or data:
                return Event(name, orjson.loads("\n".join(data)) if data else None, event_id)

    async def rest(self) -> list[Event]:
        """Every remaining event but heartbeats."""
        out = []
        while (event := await self.next()) is not None:
            if event is not HEARTBEAT:
                out.append(event)
        return out

    async def until(self, predicate: Any) -> list[Event]:
        seen = []
        while (event := await self.next()) is not None:
            seen.append(event)
            if predicate(event):
                return seen
        raise AssertionError(f"stream ended first: {seen}")


@contextlib.asynccontextmanager
async def raw_sse(
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[RawStream]:
    """Open an SSE request on a plain TCP connection; leaving the block closes it."""
    url = httpx.URL(base_url)
    payload = b"" if body is None else orjson.dumps(body)
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {url.host}:{url.port}",
        "Accept: text/event-stream",
        "Connection: close",
        f"Content-Length: {len(payload)}",
    ]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    async with await anyio.connect_tcp(str(url.host), int(url.port or 80)) as stream:
        await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        raw = RawStream(stream)
        await raw._read_head()
        yield raw
