"""ASGI middleware: request body limit, gzip request bodies, JSON access log.

Bodies of JSON endpoints are read here in full (they are small: ≤ 500 events), counted
while reading and, with `Content-Encoding: gzip`, inflated with a hard output limit —
so an oversized body or a gzip bomb is answered 413 before any endpoint runs. Streaming
uploads (paths in `streaming_prefixes`) only get a Content-Length check here; the
endpoint counts the bytes as it writes them to disk.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sync_server.logs import log

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("sync_server.access")


async def _json_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


def gunzip_limited(data: bytes, limit: int) -> bytes:
    """Inflate a gzip body; BodyTooLarge past `limit` bytes, ValueError if not gzip."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"request body is not valid gzip: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge
    if not inflater.eof:
        raise ValueError("request body is not valid gzip: truncated stream")
    return out


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int,
                 streaming_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes
        self.streaming = streaming_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        path: str = scope.get("path", "")
        streaming = any(path.startswith(p) for p in self.streaming)
        limit = self.max_upload if streaming else self.max_body
        try:
            declared = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            await _json_error(send, 400, "Content-Length: not a number")
            return
        if declared > limit:
            await _json_error(send, 413, f"request body larger than {limit} bytes")
            return
        encoding = headers.get(b"content-encoding", b"identity").lower().strip()
        if streaming:
            if encoding not in (b"identity", b""):
                await _json_error(send, 415, "uploads must not be content-encoded")
                return
            await self.app(scope, receive, send)
            return
        if encoding not in (b"identity", b"", b"gzip"):
            await _json_error(send, 415, f"Content-Encoding {encoding.decode(errors='replace')!r} "
                                         "not supported (use gzip)")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # client went away mid-body: nothing was processed
            part = message.get("body", b"")
            size += len(part)
            if size > limit:
                await _json_error(send, 413, f"request body larger than {limit} bytes")
                return
            chunks.append(part)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if encoding == b"gzip":
            try:
                body = gunzip_limited(body, limit)
            except BodyTooLarge:
                await _json_error(send, 413, f"inflated request body larger than {limit} bytes")
                return
            except ValueError as exc:
                await _json_error(send, 400, str(exc))
                return
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"]
                                if k.lower() not in (b"content-encoding", b"content-length")]
            scope["headers"].append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class AccessLogMiddleware:
    """One JSON line per request: method, path (no query string), status, ms, device."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            state = scope.get("state") or {}
            log(access_log, logging.INFO, "request", method=scope["method"], path=scope["path"],
                status=status, ms=round((time.perf_counter() - start) * 1000, 1),
                device=state.get("device_id"), admin=state.get("admin"))


class GZipExceptMiddleware:
    """Starlette's GZipMiddleware, except for paths whose bodies must stay byte-exact
    (blobs: already-compressed media served with Range, where the byte offsets of a 206
    must refer to the file itself).

    Level 1, not Starlette's default 9: on a 1000-event pull page (≈ 300 kB of JSON) level 9
    costs ~40 ms of CPU for a 15 % smaller body, level 1 ~1 ms — under 200 syncing tablets
    the server's CPU is the bottleneck, not the bandwidth."""

    def __init__(self, app: ASGIApp, *, minimum_size: int = 1024, compresslevel: int = 1,
                 except_prefixes: tuple[str, ...] = ()) -> None:
        from starlette.middleware.gzip import GZipMiddleware
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size,
                                   compresslevel=compresslevel)
        self.skip = except_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(self.skip):
            await self.app(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)
