"""The HTTP boundary of the sync client: the one module that touches httpx.

Everything httpx can raise is turned into the app.core.errors SyncError tree here:

- cannot connect, timeout, connection dropped, 502/503/504/429 → retried with backoff
  and jitter (RetryPolicy), then `SyncNetworkError`;
- certificate not trusted → `SyncTLSError` (never retried: waiting does not fix it);
- 401 / 403 → `SyncAuthError` (token revoked, code used …);
- 429 with code `quota_exceeded` (the device's daily quota on the server) →
  `SyncQuotaError` at once, carrying Retry-After (retrying before the reset is useless);
- any other 4xx, a redirect (never followed: the token must not go to another host),
  a body that does not decode or is not the JSON the protocol promises (parsed within
  the limits of app/core/bounded_json.py: never a RecursionError) → `SyncProtocolError`.

The device token is a `Secret`; it is revealed only into the Authorization header of
the httpx client and is never part of a message, a log line or a repr.

TLS: verification is always on. `ca_bundle` (the "ca_bundle" setting) adds a facility
CA file for a server with its own certificate; it replaces the system store for this
client, so only that CA (and the system's, if the file contains them) is trusted.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.core import bounded_json
from app.core.errors import (
    DeviceRevokedError,
    ErrorCode,
    JSONLimitError,
    PackVerifyError,
    SyncAuthError,
    SyncError,
    SyncNetworkError,
    SyncProtocolError,
    SyncQuotaError,
    SyncTLSError,
)
from app.core.store import Secret
from app.sync.backoff import RetryPolicy

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 502, 503, 504})
DOWNLOAD_CHUNK = 64 * 1024
GZIP_MIN_BYTES = 16 * 1024
MAX_ANSWER_BYTES = 64 * 1024 * 1024   # a pull page is ≤ 1000 events of ≤ 16 KiB
USER_AGENT = "shift-learning-device/1"


@dataclass
class TransferStats:
    """Bytes on the wire as this client sees them (request line + headers + body)."""

    requests: int = 0
    retries: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    body_bytes_sent: int = 0
    body_bytes_received: int = 0


def _json(response: httpx.Response) -> Any:
    """The answer's JSON within the boundary limits (app/core/bounded_json.py); a body
    that is not JSON (or too deep) raises JSONLimitError."""
    return bounded_json.loads(response.content, what="answer")


def _detail(response: httpx.Response) -> str:
    try:
        body = _json(response)
    except JSONLimitError:
        return response.text[:200].strip() or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail[:500]
    if isinstance(body, dict) and isinstance(body.get("detail"), list):  # FastAPI 422
        parts = []
        for item in body["detail"][:3]:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{where}: {item.get('msg', '')}")
        return "; ".join(parts) or "invalid request"
    return response.reason_phrase


def _is_tls(exc: BaseException) -> bool:
    """Did the TLS handshake fail? Decided by the exception chain (httpx raises a
    ConnectError from the ``ssl.SSLError``), never by the text of a message."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _server_code(response: httpx.Response) -> str | None:
    """The ``code`` field of the server's error answer (e.g. ``quota_exceeded``), if any."""
    try:
        body = _json(response)
    except JSONLimitError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code[:64] if isinstance(code, str) else None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _quota(response: httpx.Response) -> SyncQuotaError | None:
    """A 429 that says the device's quota for the day is used up (code
    `quota_exceeded`), as a SyncQuotaError; None for any other 429 (retried)."""
    if _server_code(response) != "quota_exceeded":
        return None
    wait = _retry_after(response)
    body = _json(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    return SyncQuotaError(
        f"the server's daily quota for this tablet is used up "
        f"({detail if isinstance(detail, str) else 'quota_exceeded'}); "
        "nothing was lost: the outbox is kept and sent later",
        retry_after=max(0.0, wait) if wait is not None else 3600.0,
        quota=str(body.get("quota") or ""))


def tls_context(ca_bundle: str | os.PathLike[str] | None) -> ssl.SSLContext:
    """An SSL context that verifies certificates: the system/certifi CAs, or only the CA
    file given. Contexts are cached (loading a CA store costs ~20 ms per sync)."""
    if not ca_bundle:
        return _default_context()
    path = Path(ca_bundle)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise SyncTLSError(f"ca_bundle: {path} is not a readable file") from None
    if not path.is_file():
        raise SyncTLSError(f"ca_bundle: {path} is not a readable file")
    return _bundle_context(str(path.resolve()), mtime)


@functools.lru_cache(maxsize=1)
def _default_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


@functools.lru_cache(maxsize=8)
def _bundle_context(path: str, _mtime: int) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise SyncTLSError(f"ca_bundle: {path} is not a PEM CA bundle ({exc})") from None


class Transport:
    """One server, one token, one pooled httpx client (keep-alive across a sync)."""

    def __init__(self, base_url: str, *, token: Secret | None = None,
                 ca_bundle: str | os.PathLike[str] | None = None,
                 retry: RetryPolicy | None = None, timeout: float = 20.0,
                 gzip_min_bytes: int = GZIP_MIN_BYTES,
                 max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise SyncError(f"server_url: expected http(s)://host[:port], got {base_url!r}",
                            code=ErrorCode.SERVER_URL_INVALID)
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.gzip_min_bytes = gzip_min_bytes
        self.max_answer_bytes = max_answer_bytes
        self.stats = TransferStats()
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = "Bearer " + token.reveal()
        self._client = httpx.Client(base_url=self.base_url, headers=headers,
                                    verify=tls_context(ca_bundle),
                                    timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                                    follow_redirects=False)

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, token masked)"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ JSON calls
    def call(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
             idempotent: bool = True, raw: bytes | None = None, items: str | None = None,
             headers: dict[str, str] | None = None) -> Any:
        """One protocol call; returns the decoded JSON answer.

        `idempotent=False` (enrolment: a one-time code) retries only when the request
        surely never reached the server (connect failed). With `items` (a pull page:
        "events"), an item of that list nested too deep to parse comes back as a
        `bounded_json.BadItem` in its place instead of failing the whole answer."""
        content: bytes | None = raw
        headers = dict(headers or {})
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        if content is not None:
            headers["Content-Type"] = "application/json"
            if len(content) >= self.gzip_min_bytes:
                content = gzip.compress(content, compresslevel=5)
                headers["Content-Encoding"] = "gzip"
        response = self._send(method, path, content=content, headers=headers, params=params,
                              idempotent=idempotent)
        try:
            return bounded_json.loads(response.content, items=items, what="answer")
        except JSONLimitError as exc:
            what = "not JSON" if exc.code == "invalid_json" else "refused"
            raise SyncProtocolError(f"{method} {path}: the server's answer is {what} "
                                    f"({exc})") from None

    def get_bytes(self, path: str, *, limit: int) -> bytes:
        """A small binary resource (manifest, signature), at most `limit` bytes."""
        response = self._send("GET", path, headers={"Accept": "*/*"})
        if len(response.content) > limit:
            raise SyncProtocolError(f"GET {path}: answer larger than {limit} bytes")
        return response.content

    def probe(self, timeout: float = 3.0) -> bool:
        """Is the server reachable and healthy right now? One try, short timeout."""
        try:
            response = self._client.get("/api/v1/health", timeout=timeout)
        except httpx.HTTPError:
            return False
        finally:
            self.stats.requests += 1
        return response.status_code == 200

    def _count(self, request: httpx.Request, response: httpx.Response | None) -> None:
        self.stats.requests += 1
        try:
            body = len(request.content)
        except httpx.RequestNotRead:
            body = 0
        head = len(request.method) + len(str(request.url.raw_path)) + 12 + sum(
            len(k) + len(v) + 4 for k, v in request.headers.raw)
        self.stats.bytes_sent += head + body
        self.stats.body_bytes_sent += body
        if response is not None:
            got = getattr(response, "num_bytes_downloaded_raw", response.num_bytes_downloaded)
            rhead = 17 + sum(len(k) + len(v) + 4 for k, v in response.headers.raw)
            self.stats.bytes_received += rhead + got
            self.stats.body_bytes_received += got

    def _send(self, method: str, path: str, *, content: bytes | None = None,
              headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
              idempotent: bool = True) -> httpx.Response:
        retry = 0
        while True:
            request = self._client.build_request(method, path, content=content, headers=headers,
                                                 params=params)
            try:
                response = self._read_limited(request)
            except httpx.TransportError as exc:
                self._count(request, None)
                if _is_tls(exc):
                    raise SyncTLSError(f"{self.base_url}: TLS certificate not trusted ({exc}); "
                                       "set the facility CA file as ca_bundle") from None
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (idempotent or never_sent) and retry + 1 < self.retry.attempts:
                    log.info("sync: %s %s failed (%s); retry %d", method, path,
                             type(exc).__name__, retry + 1)
                    self.stats.retries += 1
                    self.retry.wait(retry)
                    retry += 1
                    continue
                raise SyncNetworkError(f"{method} {path}: {self._why(exc)}") from None
            except httpx.HTTPError as exc:      # e.g. a body that does not decode
                self._count(request, None)
                raise SyncProtocolError(f"{method} {path}: unreadable answer "
                                        f"({type(exc).__name__})") from None
            self._count(request, response)
            if response.status_code == 429:
                quota = _quota(response)
                if quota is not None:   # resets at a known time: retrying now is pointless
                    raise quota
            if response.status_code in RETRY_STATUS and idempotent \
                    and retry + 1 < self.retry.attempts:
                self.stats.retries += 1
                self.retry.wait(retry, _retry_after(response))
                retry += 1
                continue
            self._raise_for_status(method, path, response)
            return response

    def _read_limited(self, request: httpx.Request) -> httpx.Response:
        """Send and read the answer, refusing one larger than `max_answer_bytes` (a
        hostile or broken server must not exhaust the tablet's memory)."""
        response = self._client.send(request, stream=True)
        try:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_answer_bytes:
                    raise SyncProtocolError(f"{request.method} {request.url.path}: answer larger "
                                            f"than {self.max_answer_bytes} bytes")
        finally:
            response.close()
        headers = [(k, v) for k, v in response.headers.raw
                   if k.lower() not in (b"content-encoding", b"content-length",
                                        b"transfer-encoding")]
        plain = httpx.Response(response.status_code, headers=headers, content=bytes(body),
                               request=request)
        plain.num_bytes_downloaded_raw = response.num_bytes_downloaded  # type: ignore[attr-defined]
        return plain

    def _why(self, exc: httpx.TransportError) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return f"no answer from {self.base_url} in time"
        if isinstance(exc, httpx.ConnectError):
            return f"cannot reach {self.base_url}"
        return f"connection to {self.base_url} dropped ({type(exc).__name__})"

    @staticmethod
    def _raise_for_status(method: str, path: str, response: httpx.Response) -> None:
        code = response.status_code
        if code < 300:
            return
        what = f"{method} {path}: HTTP {code}: {_detail(response)}"
        server_code = _server_code(response)
        if code == 401 and server_code == "device_revoked":
            raise DeviceRevokedError(what, status=code, server_code=server_code)
        if code in (401, 403):
            raise SyncAuthError(what, status=code, server_code=server_code)
        if code in RETRY_STATUS or code >= 500:
            raise SyncNetworkError(what, status=code, server_code=server_code)
        raise SyncProtocolError(what, status=code, server_code=server_code)

    # ------------------------------------------------------------------ blob download
    def download(self, path: str, dest: Path, size: int,
                 on_bytes: Callable[[int], None] | None = None) -> int:
        """Fetch the rest of a `size`-byte resource into `dest`, resuming at dest's size
        with an HTTP Range request; returns the body bytes received by this call.

        A dropped connection keeps what arrived (it is on disk) and the retry asks only
        for the rest. Retries are counted per stall: a try that made progress resets
        the count, so a flaky link still finishes a large blob."""
        received = retry = high = 0   # high: the furthest a try got (progress is beyond)
        restarted = False
        while True:
            offset = dest.stat().st_size if dest.exists() else 0
            whole = False      # a 200 answer: the whole body from byte 0
            if offset > size:
                dest.unlink()
                offset = 0
            if offset == size:
                return received
            headers = {"Accept": "*/*", "Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            request = self._client.build_request("GET", path, headers=headers)
            got_this_try = 0
            response: httpx.Response | None = None
            try:
                response = self._client.send(request, stream=True)
                try:
                    if response.status_code == 416 and not restarted:
                        dest.unlink(missing_ok=True)   # our partial does not fit: start over
                        restarted = True
                        continue
                    if response.status_code == 206:
                        expect = f"bytes {offset}-"
                        if not response.headers.get("content-range", "").startswith(expect):
                            raise SyncProtocolError(f"GET {path}: Content-Range "
                                                    f"{response.headers.get('content-range')!r} "
                                                    f"does not start at byte {offset}")
                        mode = "ab"
                    elif response.status_code == 200:
                        mode, offset, whole = "wb", 0, True   # Range ignored: full body
                    else:
                        response.read()
                        if response.status_code in RETRY_STATUS \
                                and retry + 1 < self.retry.attempts:
                            self.stats.retries += 1
                            self.retry.wait(retry, _retry_after(response))
                            retry += 1
                            continue
                        self._raise_for_status("GET", path, response)
                        raise SyncProtocolError(f"GET {path}: unexpected HTTP "
                                                f"{response.status_code}",
                                                status=response.status_code)
                    with open(dest, mode) as fh:
                        # no chunk_size: httpx would hold up to that many bytes back,
                        # and a cut connection would lose them (resume starts earlier)
                        for chunk in response.iter_raw():
                            if offset + len(chunk) > size:
                                raise PackVerifyError(f"{path}: larger than the {size} bytes "
                                                      "the manifest lists")
                            fh.write(chunk)
                            offset += len(chunk)
                            got_this_try += len(chunk)
                            if on_bytes is not None:
                                on_bytes(len(chunk))
                        fh.flush()
                        os.fsync(fh.fileno())
                finally:
                    response.close()
            except httpx.TransportError as exc:
                received += got_this_try
                self._count(request, response)
                if _is_tls(exc):
                    raise SyncTLSError(f"{self.base_url}: TLS certificate not trusted") from None
                retry = 0 if offset > high else retry   # a body from 0 again: no progress
                high = max(high, offset)
                if retry + 1 < self.retry.attempts:
                    self.stats.retries += 1
                    self.retry.wait(retry)
                    retry += 1
                    continue
                raise SyncNetworkError(f"GET {path}: {self._why(exc)} after {offset} of "
                                       f"{size} bytes; the next sync resumes there") from None
            except httpx.HTTPError as exc:
                raise SyncProtocolError(f"GET {path}: unreadable answer "
                                        f"({type(exc).__name__})") from None
            received += got_this_try
            self._count(request, response)
            if offset < size:   # clean end of a short body: ask again for the rest
                if got_this_try == 0:
                    raise SyncProtocolError(f"GET {path}: the server sent no bytes at {offset}")
                if whole:       # it ignores Range: asking again gets the same short body
                    raise SyncProtocolError(f"GET {path}: a whole answer, {offset} of {size} B")
                continue
            return received
