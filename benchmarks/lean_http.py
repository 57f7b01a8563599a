"""A minimal asyncio HTTP/1.1 client for the server benchmarks' simulated tablets
(server_ingest.py's 4 clients, server_concurrency.py's 200 devices).

The tablets of a real burst each have their own CPU; the benchmark's run on the
server's two cores. httpx (pure-Python HTTP) cost ≈ 20 µs of CPU per pushed event — as
much as the server's whole ingest — so a burst measured with it was half a measure of
the clients. This client writes the request bytes and reads `Content-Length` bodies, no
more: keep-alive on one connection per device, gzip answers asked for and inflated (as
the app's sync client does), a fresh connection and one resend when the server closed an
idle one (pushes and pulls are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from typing import Any
from urllib.parse import urlsplit


class HTTPError(Exception):
    pass


class Connection:
    """One keep-alive connection to `base_url` (http only, 127.0.0.1 in the benchmarks)."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {
            "Host": f"{self.host}:{self.port}", "Accept-Encoding": "gzip",
            "Content-Type": "application/json", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> Any:
        """The JSON answer of a POST; HTTPError for a status other than 200."""
        for attempt in (1, 2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                return await self._exchange(path, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, path: str, body: bytes) -> Any:
        assert self.reader is not None and self.writer is not None
        self.writer.write(f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n"
                          .encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise HTTPError(f"{path}: answer without Content-Length: {headers}")
        data = await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("content-encoding") == "gzip":
            data = gzip.decompress(data)
        if headers.get("connection", "").lower() == "close":
            await self.close()
        if status != 200:
            raise HTTPError(f"{path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None
