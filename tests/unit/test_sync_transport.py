"""Transport, backoff and client rules against a small *hostile* HTTP server on 127.0.0.1
(a real socket server whose answers each test scripts): retries with jitter, error
mapping, TLS with a custom CA, Range edge cases, answers the protocol does not allow."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.core.errors import (
    PackVerifyError,
    SyncAuthError,
    SyncError,
    SyncNetworkError,
    SyncProtocolError,
    SyncTLSError,
)
from app.core.store import Secret, Store
from app.sync import RetryPolicy, SyncClient, SyncManager, Transport
from tests.support.server import free_port

Answer = tuple[int, dict[str, str], bytes]
Route = Callable[["Handler"], Answer]


class Handler(BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}
    log: list[tuple[str, str, dict[str, str], bytes]] = []

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        self.body = body
        self.log.append((self.command, self.path, dict(self.headers), body))
        route = self.routes.get(f"{self.command} {self.path.split('?')[0]}")
        status, headers, data = route(self) if route else (404, {}, b'{"detail":"no route"}')
        self.send_response(status)
        headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle  # noqa: N815

    def log_message(self, *args: Any) -> None:
        return None


class FakeServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        handler = type("H", (Handler,), {"routes": {}, "log": []})
        self.handler = handler
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def route(self, key: str, fn: Route) -> None:
        self.handler.routes[key] = fn

    @property
    def log(self) -> list[tuple[str, str, dict[str, str], bytes]]:
        return self.handler.log

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def js(obj: Any, status: int = 200, **headers: str) -> Answer:
    return status, dict(headers), json.dumps(obj).encode()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.close()


class Sleeps(list):  # type: ignore[type-arg]
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def policy(attempts: int = 4) -> tuple[RetryPolicy, Sleeps]:
    sleeps = Sleeps()
    return RetryPolicy(attempts=attempts, base=0.5, cap=4.0, sleep=sleeps, rand=lambda: 1.0), sleeps


# ------------------------------------------------------------------------ backoff
def test_backoff_is_exponential_capped_and_jittered() -> None:
    p = RetryPolicy(base=0.5, factor=2, cap=4.0, rand=lambda: 1.0)
    assert [p.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert p.delay(0, retry_after=120) == 4.0 and p.delay(3, retry_after=1.5) == 1.5
    jittered = RetryPolicy(base=1, cap=8)
    values = [jittered.delay(3) for _ in range(200)]
    assert all(0 <= v <= 8 for v in values) and len(set(values)) > 150   # spread, not a wave
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


# ------------------------------------------------------------------------ error mapping
def test_transient_errors_are_retried_then_succeed(server: FakeServer) -> None:
    answers = iter([js({}, 503), js({}, 429, **{"Retry-After": "1"}), js({"ok": True})])
    server.route("GET /x", lambda h: next(answers))
    retry, sleeps = policy()
    with Transport(server.url, retry=retry) as t:
        assert t.call("GET", "/x") == {"ok": True}
        assert t.stats.retries == 2 and t.stats.requests == 3
    assert sleeps == [0.5, 1.0]          # backoff, then the server's Retry-After


def test_errors_map_to_the_sync_error_tree(server: FakeServer) -> None:
    server.route("GET /down", lambda h: js({"detail": "db down"}, 500))
    server.route("GET /auth", lambda h: js({"detail": "unknown device token"}, 401))
    server.route("GET /bad", lambda h: js({"detail": [{"loc": ["body", "events", 3, "seq"],
                                                       "msg": "must be >= 1"}]}, 422))
    server.route("GET /html", lambda h: (200, {"Content-Type": "text/html"}, b"<html>hi"))
    server.route("POST /enrol", lambda h: js({}, 503))
    retry, sleeps = policy(attempts=3)
    with Transport(server.url, retry=retry) as t:
        with pytest.raises(SyncNetworkError, match="HTTP 500: db down"):
            t.call("GET", "/down")
        assert len(sleeps) == 0              # a 500 is not a transient gateway error
        with pytest.raises(SyncAuthError, match="unknown device token"):
            t.call("GET", "/auth")
        with pytest.raises(SyncProtocolError, match=r"body\.events\.3\.seq: must be >= 1"):
            t.call("GET", "/bad")
        with pytest.raises(SyncProtocolError, match="not JSON"):
            t.call("GET", "/html")
        before = len(server.log)
        with pytest.raises(SyncNetworkError):
            t.call("POST", "/enrol", body={"code": "x"}, idempotent=False)
        assert len(server.log) == before + 1   # a one-time code is never sent twice


def test_unreachable_server_is_retried_then_a_network_error() -> None:
    retry, sleeps = policy(attempts=3)
    with Transport(f"http://127.0.0.1:{free_port()}", retry=retry) as t:
        with pytest.raises(SyncNetworkError, match="cannot reach"):
            t.call("POST", "/api/v1/sync/push", body={"events": []}, idempotent=False)
        assert len(sleeps) == 2               # connect failed: safe even for enrolment
        assert not t.probe(0.5)


def test_token_only_in_the_header_and_big_bodies_gzipped(server: FakeServer) -> None:
    server.route("POST /echo", lambda h: js({"n": len(json.loads(h.body)["events"])}))
    with Transport(server.url, token=Secret("dev_s3cret"), retry=policy()[0]) as t:
        assert "s3cret" not in repr(t)
        assert t.call("POST", "/echo", body={"events": [{"x": "y" * 100}] * 500}) == {"n": 500}
        assert t.call("POST", "/echo", body={"events": []}) == {"n": 0}
    (_, _, big_headers, _), (_, _, small_headers, _) = server.log[-2:]
    assert big_headers["Authorization"] == "Bearer dev_s3cret"
    assert big_headers.get("Content-Encoding") == "gzip" and "Content-Encoding" not in small_headers


# ------------------------------------------------------------------------ TLS
def _cert(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "facility-server")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(
                ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "ca.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_verified_by_default_custom_ca_bundle_accepted(tmp_path: Path) -> None:
    cert, key = _cert(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = FakeServer(tls=ctx)
    server.route("GET /api/v1/health", lambda h: js({"status": "ok"}))
    try:
        with Transport(server.url, retry=policy()[0]) as t, \
                pytest.raises(SyncTLSError, match="ca_bundle"):
            t.call("GET", "/api/v1/health")
        with Transport(server.url, ca_bundle=cert, retry=policy()[0]) as t:
            assert t.call("GET", "/api/v1/health") == {"status": "ok"}
        with pytest.raises(SyncTLSError, match="not a readable file"):
            Transport(server.url, ca_bundle=tmp_path / "missing.pem")
        (tmp_path / "junk.pem").write_text("not a certificate")
        with pytest.raises(SyncTLSError, match="not a PEM CA bundle"):
            Transport(server.url, ca_bundle=tmp_path / "junk.pem")
        # the setting reaches the client through the store
        with Store.open(tmp_path / "dev") as store:
            store.settings.update({"server_url": server.url, "ca_bundle": str(cert)})
            store.settings.set_secret("device_token", "dev_x")
            with SyncClient(store).transport() as t:
                assert t.call("GET", "/api/v1/health") == {"status": "ok"}
    finally:
        server.close()


# ------------------------------------------------------------------------ Range download
def test_download_edge_cases(server: FakeServer, tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    server.route("GET /full", lambda h: (200, {"Content-Type": "application/octet-stream"}, data))
    server.route("GET /huge", lambda h: (200, {}, data + b"extra"))
    server.route("GET /wrongrange", lambda h: (206, {"Content-Range": f"bytes 0-{len(data) - 1}/"
                                                      f"{len(data)}"}, data))
    busy = iter([(503, {"Retry-After": "0"}, b"{}")])
    server.route("GET /busy", lambda h: next(busy, (200, {}, data)))
    dest = tmp_path / "part"
    with Transport(server.url, retry=policy()[0]) as t:
        assert t.download("/busy", dest, len(data)) == len(data) and t.stats.retries == 1
    dest.write_bytes(data[:1000])
    with Transport(server.url, retry=policy()[0]) as t:
        # server ignores Range → the partial is replaced, not appended to
        assert t.download("/full", dest, len(data)) == len(data)
        assert dest.read_bytes() == data
        assert t.download("/full", dest, len(data)) == 0          # already complete
        dest.unlink()
        with pytest.raises(PackVerifyError, match="larger than"):
            t.download("/huge", dest, len(data))
        dest.write_bytes(data[:10])
        with pytest.raises(SyncProtocolError, match="does not start at byte 10"):
            t.download("/wrongrange", dest, len(data))


# ------------------------------------------------------------------------ client rules
GOOD_EVENT = {"id": "2b7d4c0e-8a51-4d0e-9a43-1d1f5b7c9e01", "learner": "learner-x",
              "device": "dev-other", "seq": 1, "at": "2026-11-20T10:00:00.000Z",
              "type": "card.viewed", "ref": {"course": "c", "lesson": "l", "card": "0"},
              "data": {}, "received_at": "2026-11-20T10:00:01.000Z"}


def _client(tmp: Path, url: str) -> tuple[Store, SyncClient]:
    store = Store.open(tmp / "dev")
    store.settings.set("server_url", url)
    store.settings.set_secret("device_token", "dev_tok")
    return store, SyncClient(store, retry=policy(2)[0])


def _pull(events: list[Any], ec: int, profiles: list[Any] | None = None, pc: int = 0,
          more: bool = False) -> Route:
    return lambda h: js({"events": events, "events_cursor": ec, "profiles": profiles or [],
                         "profiles_cursor": pc, "more": more})


def test_hostile_pull_answers(server: FakeServer, tmp_path: Path) -> None:
    store, client = _client(tmp_path, server.url)
    try:
        bad = [{**GOOD_EVENT, "id": "not-a-uuid"}, {"type": "card.viewed"}, "junk"]
        no_pin = {"id": "6f1c1b52-1111-4aaa-8bbb-123456789abc", "staff_number": "S1",
                  "display_name": "No Pin", "role": "prison_officer", "language": "en",
                  "pin_verifier": None, "updated_at": "2026-11-20T10:00:00.000Z"}
        from app.core import pins
        ok = {**no_pin, "id": "6f1c1b52-2222-4aaa-8bbb-123456789abc", "staff_number": "S2",
              "display_name": "Has Pin", "pin_verifier": pins.make_verifier("1357")}
        bad_role = {**ok, "id": "6f1c1b52-3333-4aaa-8bbb-123456789abc", "staff_number": "S3",
                    "role": "warden-of-everything"}
        server.route("POST /api/v1/sync/pull",
                     _pull([GOOD_EVENT, *bad], 5, [no_pin, bad_role, ok], 1))
        server.route("POST /api/v1/sync/push", lambda h: js({"stored": [], "duplicate": [],
                                                             "rejected": [], "profiles": []}))
        report = client.sync()
        assert (report.events_merged, report.events_skipped) == (1, 3)
        assert report.profiles_skipped == 1 and report.profiles_changed == 2
        listed = {p["id"]: p["needs_pin"] for p in store.profiles.list()}   # one bad, others in
        assert listed == {ok["id"]: False, no_pin["id"]: True}   # no PIN yet: set on the tablet
        assert store.profiles.verify_pin(ok["id"], "1357")
        assert store.settings.get("sync_cursor") == 5

        server.route("POST /api/v1/sync/pull", _pull([], 2))
        with pytest.raises(SyncProtocolError, match="backwards"):
            client.sync()
        server.route("POST /api/v1/sync/pull", _pull([], 5, pc=1, more=True))
        with pytest.raises(SyncProtocolError, match="did not move"):
            client.sync()
        server.route("POST /api/v1/sync/pull", lambda h: js({"events": {}, "more": False}))
        with pytest.raises(SyncProtocolError, match="pull.events"):
            client.sync()
        assert store.settings.get("sync_cursor") == 5        # nothing moved on bad answers
    finally:
        store.close()


def test_push_acknowledges_only_what_the_server_named(server: FakeServer, tmp_path: Path) -> None:
    store, client = _client(tmp_path, server.url)
    try:
        ids = [store.append({"learner": "learner-x", "type": "card.viewed",
                             "ref": {"course": "c", "lesson": "l", "card": str(n)}})
               for n in range(4)]
        server.route("POST /api/v1/sync/pull", _pull([], 0))
        foreign = "9d3c3c1e-0000-4000-8000-000000000000"
        server.route("POST /api/v1/sync/push", lambda h: js({
            "stored": [ids[0], foreign], "duplicate": [ids[1]],
            "rejected": [{"index": 2, "id": None, "reason": "bad_schema", "detail": "seq: no"}],
            "profiles": []}))
        report = client.sync()
        assert report.events_acknowledged == 2 and report.events_rejected == {ids[2]: "bad_schema: seq: no"}
        assert report.events_held == {ids[3]: "the server did not answer for this event"}
        assert [e["id"] for e in store.outbox()] == [ids[3]]
        assert [r["event"]["id"] for r in store.rejected()] == [ids[2]]
        # (a sync ends with the certificate-trust GETs, app/sync/certificates.py)
        pushed = json.loads([entry for entry in server.log if entry[1].endswith("/sync/push")][-1][3])
        assert set(pushed) == {"profiles", "events"} and len(pushed["events"]) == 4
    finally:
        store.close()


# ------------------------------------------------------------------------ manager
def test_manager_runs_one_sync_at_a_time_in_the_background(server: FakeServer,
                                                           tmp_path: Path) -> None:
    gate = threading.Event()

    def slow_pull(h: Handler) -> Answer:
        gate.wait(10)
        return _pull([], 0)(h)

    server.route("POST /api/v1/sync/pull", slow_pull)
    server.route("POST /api/v1/sync/push", lambda h: js({"stored": [], "duplicate": [],
                                                         "rejected": [], "profiles": []}))
    server.route("GET /api/v1/health", lambda h: js({"status": "ok"}))
    store, client = _client(tmp_path, server.url)
    manager = SyncManager(store, client=client, interval=0.05)
    try:
        seen: list[tuple[str, int, int]] = []
        t0 = time.perf_counter()
        first = manager.sync_now(lambda *a: seen.append(a))
        assert time.perf_counter() - t0 < 0.5 and first.running    # never blocks the caller
        second = manager.sync_now()
        assert second.running and second.started_at == first.started_at
        gate.set()
        done = manager.wait(10)
        assert done.state == "ok" and done.last_sync_at and done.last_report is not None
        assert ("pull", 0, 0) in seen and any(s[0] == "push" for s in seen)
        pulls = [x for x in server.log if x[1] == "/api/v1/sync/pull"]
        assert len(pulls) == 1                                       # one sync, not two

        # background: probes, then syncs while reachable
        manager.start()
        deadline = time.monotonic() + 5
        while len([x for x in server.log if x[1] == "/api/v1/sync/pull"]) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        manager.stop()
        assert any(x[1] == "/api/v1/health" for x in server.log)
    finally:
        manager.stop()
        store.close()


def test_manager_offline_and_not_enrolled(tmp_path: Path) -> None:
    with Store.open(tmp_path / "dev") as store:
        manager = SyncManager(store)
        assert manager.sync_now() is not None
        assert manager.wait(5).state == "not_enrolled"
        assert not manager.tick()                       # not enrolled: no probe at all
        store.settings.set("server_url", f"http://127.0.0.1:{free_port()}")
        store.settings.set_secret("device_token", "dev_tok")
        manager.client.retry = RetryPolicy(attempts=1)
        assert not manager.tick() and manager.status().state == "offline"
        manager.sync_now()
        status = manager.wait(5)
        assert status.state == "offline" and "cannot reach" in (status.last_error or "")


def test_push_halves_the_chunk_when_the_body_is_too_large(server: FakeServer,
                                                          tmp_path: Path) -> None:
    store, client = _client(tmp_path, server.url)
    try:
        ids = [store.append({"learner": "learner-x", "type": "card.viewed",
                             "ref": {"course": "c", "lesson": "l", "card": str(n % 5)}})
               for n in range(300)]
        server.route("POST /api/v1/sync/pull", _pull([], 0))

        def push(h: Handler) -> Answer:
            events = json.loads(h.body)["events"]
            if len(events) > 80:
                return js({"detail": "request body larger than the limit"}, 413)
            return js({"stored": [e["id"] for e in events], "duplicate": [], "rejected": [],
                       "profiles": []})

        server.route("POST /api/v1/sync/push", push)
        report = client.sync()
        assert report.events_acknowledged == 300 and store.outbox_count() == 0
        sizes = [len(json.loads(x[3])["events"]) for x in server.log if x[1] == "/api/v1/sync/push"]
        assert sizes[0] == 300 and 250 in sizes and 125 in sizes and 62 in sizes
        assert sum(s for s in sizes if s <= 80) >= 300
        assert {e["id"] for e in store.events("learner-x")} == set(ids)
    finally:
        store.close()


def test_device_syncer_runs_a_sync_with_progress(server: FakeServer, tmp_path: Path) -> None:
    """The application layer's Syncer seam, wired as the composition root wires it
    (Device.open(..., syncer=DeviceSyncer)): one syncer per Device, progress, background."""
    from app.core.application import Device
    from app.sync import PHASE_TEXT, DeviceSyncer

    server.route("POST /api/v1/sync/pull", _pull([GOOD_EVENT], 1))
    server.route("POST /api/v1/sync/push", lambda h: js({"stored": [], "duplicate": [],
                                                         "rejected": [], "profiles": []}))
    server.route("POST /api/v1/devices/enrol", lambda h: js(
        {"device_id": json.loads(h.body)["device_id"], "facility_id": "f1",
         "facility_name": "One", "token": "dev_from_enrol"}, 201))
    dev = Device.open(tmp_path / "tablet", syncer=DeviceSyncer)
    syncer = dev.syncer
    assert isinstance(syncer, DeviceSyncer)
    try:
        dev.set_setting("server_url", server.url)
        assert not dev.sync_summary().online
        with pytest.raises(SyncError, match="not enrolled"):
            dev.sync_now()
        seen: list[tuple[float, str]] = []
        status = syncer.sync_now(progress=lambda f, m: seen.append((f, m)), enrol_code="ABC-123")
        assert status.state == "ok" and dev.store.settings.get_secret("device_token") is not None
        assert seen[-1] == (1.0, "Sync finished")
        # stable phase ids for a translated UI (the text itself stays English)
        assert seen[-1][1].phase == "done"
        assert {m.phase for _, m in seen} >= {"pull", "push", "done"}
        assert all(m.phase in PHASE_TEXT and isinstance(m, str) for _, m in seen)
        pushes = [m for _, m in seen if m.phase == "push"]
        assert all(0 <= m.done <= max(m.total, m.done) for m in pushes)
        assert all(0.0 <= f <= 1.0 for f, _ in seen)
        assert [f for f, _ in seen] == sorted(f for f, _ in seen)      # the bar only moves on
        assert dev.sync_summary().online and dev.sync_summary().last_sync is not None
        assert dev.syncer is syncer and syncer.status().state == "ok"   # one per Device
        dev.sync_now()                                     # the Device's own call path
        assert dev.store.event_count() == 1

        # background loop: probes at once, then syncs because the server answers
        server.route("GET /api/v1/health", lambda h: js({"status": "ok"}))
        pulls = len([x for x in server.log if x[1] == "/api/v1/sync/pull"])
        manager = syncer.manager
        assert dev.start_background_sync()
        loop = manager._loop
        syncer.start_background()                          # idempotent
        assert loop is not None and manager._loop is loop
        deadline = time.monotonic() + 5
        while len([x for x in server.log if x[1] == "/api/v1/sync/pull"]) == pulls:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        syncer.stop_background()
        assert manager.wait(5).state == "ok" and manager._loop is None
    finally:
        dev.close()


def test_redirects_are_not_followed_and_bad_encodings_refused(server: FakeServer) -> None:
    elsewhere = FakeServer()
    elsewhere.route("GET /steal", lambda h: js({"got": h.headers.get("Authorization")}))
    server.route("GET /moved", lambda h: (302, {"Location": f"{elsewhere.url}/steal"}, b""))
    server.route("GET /gz", lambda h: (200, {"Content-Encoding": "gzip"}, b"not gzip at all"))
    try:
        with Transport(server.url, token=Secret("dev_tok"), retry=policy()[0]) as t:
            with pytest.raises(SyncProtocolError, match="HTTP 302"):
                t.call("GET", "/moved")
            with pytest.raises(SyncProtocolError, match="unreadable answer"):
                t.call("GET", "/gz")
        assert elsewhere.log == []              # the token never left for another host
    finally:
        elsewhere.close()


def test_oversized_answers_are_refused(server: FakeServer) -> None:
    server.route("GET /flood", lambda h: js({"events": ["x" * 100] * 100}))
    with Transport(server.url, retry=policy()[0], max_answer_bytes=5_000) as t, \
            pytest.raises(SyncProtocolError, match="larger than 5000 bytes"):
        t.call("GET", "/flood")
    with Transport(server.url, retry=policy()[0]) as t:
        assert len(t.call("GET", "/flood")["events"]) == 100
        assert t.stats.body_bytes_received > 10_000


def test_a_cut_download_resumes_from_the_last_byte_received(server: FakeServer,
                                                            tmp_path: Path) -> None:
    """Every byte that arrived is on disk before the cut: the retry asks for the rest
    (regression: httpx's iter_raw(chunk_size) held up to 64 KiB back, so a cut in the
    first 64 KiB restarted the blob and later cuts re-fetched up to 64 KiB)."""
    data = bytes(range(256)) * 800                      # 200 KiB
    cut = 5_000
    ranges: list[str | None] = []

    def blob(h: Handler) -> Answer:
        ranges.append(h.headers.get("Range"))
        if len(ranges) == 1:     # announce everything, send 5,000 bytes, close
            return 200, {"Content-Length": str(len(data)),
                         "Content-Type": "application/octet-stream"}, data[:cut]
        start = int(h.headers["Range"].split("=")[1].rstrip("-"))
        return 206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}",
                     "Content-Type": "application/octet-stream"}, data[start:]

    server.route("GET /blob", blob)
    dest = tmp_path / "part"
    with Transport(server.url, retry=policy(3)[0]) as t:
        assert t.download("/blob", dest, len(data)) == len(data)
        assert t.stats.retries == 1
    assert ranges == [None, f"bytes={cut}-"]
    assert dest.read_bytes() == data
