"""A minimal HTTP/1.1 keep-alive connection for load generators.

The load generator shares the box's two cores with the server it measures; httpx
costs ~1.5 ms of CPU per request, which at thousands of requests per second is
CPU taken from the server. This speaks just enough HTTP/1.1 to the management
server (Content-Length bodies, one request at a time per connection) at a
fraction of that.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import orjson


class Closed(ConnectionError):
    """The server closed the connection (or it broke) before the answer was read."""


class Connection:
    def __init__(self, url: str) -> None:
        u = urlsplit(url)
        self.host, self.port, self.path = u.hostname or "127.0.0.1", u.port or 80, u.path or "/"
        self._r: asyncio.StreamReader | None = None
        self._w: asyncio.StreamWriter | None = None

    async def get(self, query: str) -> Any:
        return await self._exchange(f"GET {self.path}?{query} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())

    async def post(self, form: str) -> Any:
        body = form.encode()
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
        return await self._exchange(head.encode() + body)

    async def _exchange(self, request: bytes) -> Any:
        if self._w is None:
            self._r, self._w = await asyncio.open_connection(self.host, self.port)
        assert self._r is not None
        try:
            self._w.write(request)
            head = await self._r.readuntil(b"\r\n\r\n")
            length = None
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise Closed("an answer without Content-Length")
            return orjson.loads(await self._r.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as e:
            self.close()
            raise Closed(str(e)) from e

    def close(self) -> None:
        if self._w is not None:
            self._w.close()
        self._r = self._w = None
