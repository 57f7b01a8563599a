"""The sync API through a real uvicorn server and a real httpx client, on SQLite and
PostgreSQL: enrolment, push/pull across tablets, and the hostile cases."""

from __future__ import annotations

import gzip
import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.core.events import format_at
from sync_server.security import code_hash
from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import (
    ADMIN_PASSWORD,
    Enrolled,
    admin_token,
    bearer,
    enrol_device,
    make_event,
    make_profile,
    open_repo,
    running_server,
    seed,
)

MAX_BODY = 2 * 1024 * 1024


@dataclass
class Srv:
    url: str
    data_dir: Path
    database_url: str | None
    admin: str

    def device(self, facility: str = "f1") -> Enrolled:
        return enrol_device(self.url, self.admin, facility)

    def post(self, path: str, dev: Enrolled, **kw: object) -> httpx.Response:
        return httpx.post(self.url + path, headers=dev.headers, timeout=30, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Srv]:
    db = url_for_backend(request.param)
    data = tmp_path_factory.mktemp("srv")
    with running_server(data, db, env={"SHIFT_MAX_BODY_BYTES": str(MAX_BODY)}) as url:
        seed(data, db, facilities={"f1": "Facility one", "f2": "Facility two"})
        yield Srv(url, data, db, admin_token(url))


def test_health_and_version(srv: Srv) -> None:
    h = httpx.get(srv.url + "/api/v1/health").json()
    assert h["status"] == "ok" and h["database"] in ("sqlite", "postgresql")
    v = httpx.get(srv.url + "/api/v1/version").json()
    assert v["api"] == "v1" and v["max_chunk"] == 500


def test_a_learner_s_history_follows_them_to_another_tablet(srv: Srv) -> None:
    tab_a, tab_b = srv.device("f1"), srv.device("f1")
    p = make_profile()
    events = [make_event(p["id"], tab_a.device_id, i + 1) for i in range(30)]
    r = srv.post("/api/v1/sync/push", tab_a, json={"profiles": [p], "events": events})
    assert r.status_code == 200 and len(r.json()["stored"]) == 30
    assert r.json()["profiles"][0]["status"] == "registered"
    # tablet B pulls in pages of 7 and gets profile (with verifier) + every event once
    got: list[dict[str, object]] = []
    cursor, pcursor, profiles = 0, 0, []
    while True:
        page = srv.post("/api/v1/sync/pull", tab_b, json={"events_after": cursor, "limit": 7,
                                                           "profiles_after": pcursor}).json()
        got += page["events"]
        profiles += page["profiles"]
        cursor, pcursor = page["events_cursor"], page["profiles_cursor"]
        if not page["more"]:
            break
    mine = [e for e in got if e["learner"] == p["id"]]
    assert [e["id"] for e in mine] == [e["id"] for e in events]
    assert all(e["received_at"] for e in mine)
    prof = next(x for x in profiles if x["id"] == p["id"])
    assert prof["pin_verifier"] == p["pin_verifier"] and "pin" not in prof
    assert prof["facility_id"] == "f1"
    # content comes back exactly as pushed (plus received_at)
    first = {k: v for k, v in mine[0].items() if k != "received_at"}
    assert first == events[0]


def test_facilities_are_isolated(srv: Srv) -> None:
    t1, t2 = srv.device("f1"), srv.device("f2")
    p1 = make_profile()
    srv.post("/api/v1/sync/push", t1, json={"profiles": [p1],
                                             "events": [make_event(p1["id"], t1.device_id, 1)]})
    # a device of f2 can neither write for f1's learner nor read f1's data
    r = srv.post("/api/v1/sync/push", t2, json={"events": [make_event(p1["id"], t2.device_id, 1)]})
    assert r.json()["rejected"][0]["reason"] == "other_facility"
    r = srv.post("/api/v1/sync/push", t2, json={"profiles": [{**p1, "updated_at": "2026-06-01T00:00:00.000Z"}]})
    assert r.json()["profiles"][0]["reason"] == "other_facility"
    pulled = srv.post("/api/v1/sync/pull", t2, json={}).json()
    assert all(e["learner"] != p1["id"] for e in pulled["events"])
    assert all(x["id"] != p1["id"] for x in pulled["profiles"])


def test_staff_number_clash_returns_the_existing_id(srv: Srv) -> None:
    t1 = srv.device("f1")
    first = make_profile("CLASH-1")
    second = make_profile("clash-1")
    r = srv.post("/api/v1/sync/push", t1, json={"profiles": [first, second]}).json()
    assert r["profiles"][1] == {"id": second["id"], "status": "rejected",
                                "reason": "staff_number_taken", "existing_id": first["id"]}


@pytest.mark.parametrize("path,method", [("/api/v1/sync/pull", "GET"), ("/api/v1/sync/push", "POST"),
                                         ("/api/v1/packs", "GET"), ("/api/v1/devices/me", "GET"),
                                         ("/api/v1/blobs/" + "a" * 64, "GET")])
def test_device_endpoints_need_a_valid_token(srv: Srv, path: str, method: str) -> None:
    for headers in ({}, bearer("dev_wrong"), {"Authorization": "Basic abc"}, bearer(srv.admin)):
        r = httpx.request(method, srv.url + path, headers=headers, json={})
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer"


def test_revoked_token_stops_working_at_once(srv: Srv) -> None:
    dev = srv.device("f1")
    assert httpx.get(srv.url + "/api/v1/devices/me", headers=dev.headers).status_code == 200
    r = httpx.post(f"{srv.url}/api/v1/admin/devices/{dev.device_id}/revoke", headers=bearer(srv.admin))
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = httpx.get(srv.url + "/api/v1/devices/me", headers=dev.headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_admin_endpoints_need_an_admin(srv: Srv) -> None:
    dev = srv.device("f1")
    for headers in ({}, dev.headers, bearer("adm_forged")):
        assert httpx.get(srv.url + "/api/v1/admin/devices", headers=headers).status_code == 401
        r = httpx.post(srv.url + "/api/v1/admin/enrol-codes", headers=headers, json={"facility_id": "f1"})
        assert r.status_code == 401
    r = httpx.post(srv.url + "/api/v1/admin/login", json={"name": "admin", "password": "wrong-one"})
    assert r.status_code == 401
    r = httpx.post(srv.url + "/api/v1/admin/login", json={"name": "nobody", "password": ADMIN_PASSWORD})
    assert r.status_code == 401


def test_enrolment_codes_are_one_time_and_expire(srv: Srv) -> None:
    r = httpx.post(srv.url + "/api/v1/admin/enrol-codes", headers=bearer(srv.admin),
                   json={"facility_id": "f1"})
    code = r.json()["code"]
    ok = httpx.post(srv.url + "/api/v1/devices/enrol", json={"code": code, "device_id": "t-x", "name": "t"})
    assert ok.status_code == 201
    again = httpx.post(srv.url + "/api/v1/devices/enrol", json={"code": code, "device_id": "t-y", "name": "t"})
    assert again.status_code == 403 and "already used" in again.json()["detail"]
    # an expired code (made directly in the database with a past expiry)
    repo = open_repo(srv.data_dir, srv.database_url)
    try:
        past = format_at(datetime.now(UTC) - timedelta(seconds=1))
        repo.create_enrol_code(code_hash("OLD1-OLD2-OLD3"), "f1", past, "admin", past)
    finally:
        repo.close()
    r = httpx.post(srv.url + "/api/v1/devices/enrol", json={"code": "old1-old2-old3", "device_id": "t-z",
                                                            "name": "t"})
    assert r.status_code == 403 and "expired" in r.json()["detail"]
    r = httpx.post(srv.url + "/api/v1/devices/enrol", json={"code": "NOPE-NOPE-NOPE", "device_id": "t-z",
                                                            "name": "t"})
    assert r.status_code == 403 and "unknown" in r.json()["detail"]
    r = httpx.post(srv.url + "/api/v1/admin/enrol-codes", headers=bearer(srv.admin),
                   json={"facility_id": "ghost"})
    assert r.status_code == 404


def test_bodies_oversized_malformed_or_gzip(srv: Srv) -> None:
    dev = srv.device("f1")
    p = make_profile()
    events = [make_event(p["id"], dev.device_id, i + 1) for i in range(50)]
    raw = json.dumps({"profiles": [p], "events": events}).encode()
    headers = {**dev.headers, "Content-Type": "application/json"}
    # gzip request body accepted
    r = httpx.post(srv.url + "/api/v1/sync/push", content=gzip.compress(raw),
                   headers={**headers, "Content-Encoding": "gzip"})
    assert r.status_code == 200 and len(r.json()["stored"]) == 50
    # gzip response when asked
    r = httpx.post(srv.url + "/api/v1/sync/pull", json={}, headers={**dev.headers,
                                                                     "Accept-Encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip" and len(r.json()["events"]) >= 50
    # oversized (declared and streamed without a length)
    big = b'{"events": [' + b" " * (MAX_BODY + 10) + b"]}"
    assert httpx.post(srv.url + "/api/v1/sync/push", content=big, headers=headers).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 100_000

    r = httpx.post(srv.url + "/api/v1/sync/push", content=chunks(), headers=headers)
    assert r.status_code == 413
    # gzip bomb: 100 MB of zeros in ~100 kB
    bomb = gzip.compress(b"\0" * 100_000_000, compresslevel=9)
    assert len(bomb) < MAX_BODY
    r = httpx.post(srv.url + "/api/v1/sync/push", content=bomb, headers={**headers, "Content-Encoding": "gzip"})
    assert r.status_code == 413
    r = httpx.post(srv.url + "/api/v1/sync/push", content=b"not gzip",
                   headers={**headers, "Content-Encoding": "gzip"})
    assert r.status_code == 400
    r = httpx.post(srv.url + "/api/v1/sync/push", content=raw, headers={**headers, "Content-Encoding": "br"})
    assert r.status_code == 415
    # malformed JSON
    deep = b'{"events": [{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}"   # nesting bomb
    for body in (b"{", b"[]", b'{"events": [1, 2]}', b"\xff\xfe", b'{"events": null}', deep):
        r = httpx.post(srv.url + "/api/v1/sync/push", content=body, headers=headers)
        assert r.status_code == 422, body[:40]
    # the server is still fine
    assert httpx.get(srv.url + "/api/v1/health").status_code == 200


def _raw_get(url: str, path: str, headers: dict[str, str]) -> int:
    """Send a request line exactly as given (no client-side path normalisation)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_blob_ids_must_be_sha256(srv: Srv) -> None:
    dev = srv.device("f1")
    for path in ("/api/v1/blobs/../../etc/passwd", "/api/v1/blobs/..%2F..%2Fetc%2Fpasswd",
                 "/api/v1/blobs/%2e%2e%2fserver.sqlite3", "/api/v1/blobs/" + "A" * 64,
                 "/api/v1/blobs/" + "a" * 63 + "g", "/api/v1/blobs/" + "a" * 65,
                 "/api/v1/blobs/keys%2Fserver.key", "/api/v1/blobs/" + "a" * 64 + "%00"):
        assert _raw_get(srv.url, path, dev.headers) in (404, 422), path
    assert _raw_get(srv.url, "/api/v1/blobs/" + "a" * 64, dev.headers) == 404


def test_logs_hold_no_secrets(srv: Srv) -> None:
    dev = srv.device("f1")
    p = make_profile(staff_number=f"LOG-{uuid.uuid4().hex[:6]}")
    srv.post("/api/v1/sync/push", dev, json={"profiles": [p]})
    r = httpx.post(srv.url + "/api/v1/admin/enrol-codes", headers=bearer(srv.admin), json={"facility_id": "f1"})
    code = r.json()["code"]
    log = (srv.data_dir / "server.log").read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(x.get("path") == "/api/v1/sync/push" for x in lines)
    for secret in (dev.token, srv.admin, code, p["pin_verifier"], ADMIN_PASSWORD):
        assert secret not in log
