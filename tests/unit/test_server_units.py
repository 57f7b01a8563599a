"""Fast unit tests of the server's small parts (FastAPI TestClient only where HTTP matters)."""

from __future__ import annotations

import gzip
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.events import format_at
from sync_server.app import create_app
from sync_server.logs import JsonFormatter
from sync_server.middleware import BodyTooLarge, gunzip_limited
from sync_server.security import (
    code_hash,
    hash_password,
    needs_rehash,
    new_enrol_code,
    new_token,
    normalise_code,
    verify_password,
)
from sync_server.settings import Settings
from tests.support.server import ADMIN_PASSWORD, make_event, make_profile, seed

BASE = "http://testserver"  # TestClient's address; the configured SHIFT_PUBLIC_BASE_URL


def test_password_hash_is_salted_argon2id_and_verifies() -> None:
    h1, h2 = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert h1 != h2 and h1.startswith("$argon2id$v=19$m=19456,t=2,p=1$")   # OWASP cost
    assert verify_password("s3cret-pass", h1) and not needs_rehash(h1)
    assert not verify_password("s3cret-pasS", h1)
    assert not verify_password("x", "garbage")
    assert not verify_password("x", "scrypt$1$2$3$!!$!!")
    assert not verify_password("x", "$argon2id$v=19$m=1,t=1,p=1$!!$!!")
    # a hash of an older server (scrypt) still verifies and asks to be replaced
    import base64
    import hashlib
    salt = b"0123456789abcdef"
    old = "scrypt$16384$8$1${}${}".format(base64.b64encode(salt).decode(), base64.b64encode(
        hashlib.scrypt(b"s3cret-pass", salt=salt, n=16384, r=8, p=1, dklen=32)).decode())
    assert verify_password("s3cret-pass", old) and needs_rehash(old)
    assert not verify_password("s3cret-pasS", old)
    assert not verify_password("x", "scrypt$1048576$8$1$AAAA$AAAA")   # no DoS parameters


def test_tokens_and_codes() -> None:
    assert new_token("dev").startswith("dev_") and len(new_token("dev")) > 40
    code = new_enrol_code()
    assert len(code) == 14 and code.count("-") == 2
    assert code_hash(code) == code_hash(code.lower().replace("-", " "))
    assert normalise_code(" ab-cd ") == "ABCD"


def test_gunzip_limited() -> None:
    assert gunzip_limited(gzip.compress(b"hello"), 10) == b"hello"
    with pytest.raises(BodyTooLarge):
        gunzip_limited(gzip.compress(b"\0" * 10_000_000), 1_000_000)   # a gzip bomb
    with pytest.raises(ValueError, match="not valid gzip"):
        gunzip_limited(b"plain text", 100)
    with pytest.raises(ValueError, match="truncated"):
        gunzip_limited(gzip.compress(b"x" * 1000)[:-12], 10_000)


def test_log_lines_are_json_and_redact_secrets() -> None:
    rec = logging.LogRecord("t", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    rec.fields = {"device": "d1", "token": "dev_abc", "pin_verifier": "x", "code": "ABCD",
                  "password": "pw"}
    line = json.loads(JsonFormatter().format(rec))
    assert line["msg"] == "hello you" and line["device"] == "d1"
    for key in ("token", "pin_verifier", "code", "password"):
        assert line[key] == "[redacted]"


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHIFT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SHIFT_MAX_BODY_BYTES", "1234")
    monkeypatch.setenv("SHIFT_TRUSTED_KEYS", f"{tmp_path}/a.pub:{tmp_path}/b.pub")
    s = Settings.from_env()
    assert s.data_dir == tmp_path and s.max_body_bytes == 1234
    assert s.trusted_keys == (tmp_path / "a.pub", tmp_path / "b.pub")
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'server.sqlite3'}"
    monkeypatch.setenv("SHIFT_MAX_BODY_BYTES", "lots")
    with pytest.raises(ValueError, match="SHIFT_MAX_BODY_BYTES"):
        Settings.from_env()


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    data = tmp_path / "srv"
    app = create_app(Settings(data_dir=data, public_base_url=BASE))
    seed(data, facilities={"f1": "One", "f2": "Two"})
    with TestClient(app) as c:
        yield c


def _device(c: TestClient, facility: str, device_id: str) -> dict[str, str]:
    tok = c.post("/api/v1/admin/login", json={"name": "admin", "password": ADMIN_PASSWORD}).json()["token"]
    code = c.post("/api/v1/admin/enrol-codes", json={"facility_id": facility},
                  headers={"Authorization": f"Bearer {tok}"}).json()["code"]
    r = c.post("/api/v1/devices/enrol", json={"code": code, "device_id": device_id, "name": "t"})
    assert r.status_code == 201
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_first_start_makes_the_signing_key(tmp_path: Path) -> None:
    create_app(Settings(data_dir=tmp_path / "s", public_base_url=BASE))
    assert (tmp_path / "s" / "keys" / "server.key").exists()
    assert (tmp_path / "s" / "keys" / "server.key.pub").exists()
    assert (tmp_path / "s" / "server.sqlite3").exists()


def test_push_rejects_each_bad_event_with_a_reason(client: TestClient) -> None:
    h1 = _device(client, "f1", "tab-1")
    h2 = _device(client, "f2", "tab-2")
    mine, theirs = make_profile("A-1"), make_profile("B-1")
    assert client.post("/api/v1/sync/push", headers=h2, json={"profiles": [theirs]}).status_code == 200
    now = datetime.now(UTC)
    good = make_event(mine["id"], "tab-1", 1)
    events = [
        good,
        make_event(mine["id"], "tab-1", 2, at=format_at(now + timedelta(days=2))),
        make_event(mine["id"], "tab-1", 3, at="2019-12-31T23:59:59.000Z"),
        make_event(theirs["id"], "tab-1", 4),
        make_event("00000000-0000-4000-8000-000000000000", "tab-1", 5),
        {**make_event(mine["id"], "tab-1", 6), "type": "made.up"},
        {**good, "seq": 99},                       # same id, different content in one chunk
        dict(good),                                # exact repeat in the chunk
        {"no": "id"},
    ]
    r = client.post("/api/v1/sync/push", headers=h1, json={"profiles": [mine], "events": events})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stored"] == [good["id"]]
    assert body["duplicate"] == [good["id"]]
    reasons = {x["index"]: x["reason"] for x in body["rejected"]}
    assert reasons == {1: "at_in_future", 2: "at_too_old", 3: "other_facility",
                       4: "unknown_learner", 5: "bad_schema", 6: "conflict", 8: "bad_schema"}
    assert "type" in next(x["detail"] for x in body["rejected"] if x["index"] == 5)
    # a later different copy is a conflict and the stored copy is kept
    r = client.post("/api/v1/sync/push", headers=h1, json={"events": [{**good, "seq": 7}]})
    assert r.json()["rejected"][0]["reason"] == "conflict"
    pulled = client.get("/api/v1/sync/pull", headers=h1).json()["events"]
    assert [(e["id"], e["seq"]) for e in pulled] == [(good["id"], 1)]


def test_chunk_limit_and_schema_errors(client: TestClient) -> None:
    h = _device(client, "f1", "tab-1")
    p = make_profile()
    too_many = [make_event(p["id"], "tab-1", i + 1) for i in range(501)]
    assert client.post("/api/v1/sync/push", headers=h, json={"events": too_many}).status_code == 422
    assert client.post("/api/v1/sync/push", headers=h, json={"events": "x"}).status_code == 422
    assert client.post("/api/v1/sync/push", headers=h, json={"surprise": 1}).status_code == 422
    bad_role = {**p, "role": "warden-in-chief"}
    r = client.post("/api/v1/sync/push", headers=h, json={"profiles": [bad_role]})
    outcome = r.json()["profiles"][0]
    assert outcome.pop("detail").startswith("role: unknown role 'warden-in-chief'")
    assert outcome == {"id": p["id"], "status": "rejected", "reason": "unknown_role",
                       "existing_id": None}


def test_openapi_describes_every_route_with_models(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/devices/enrol", "/api/v1/sync/push", "/api/v1/sync/pull",
                 "/api/v1/packs", "/api/v1/blobs/{sha256}", "/api/v1/admin/packs/upload",
                 "/api/v1/health", "/api/v1/version"):
        assert path in paths
    push = paths["/api/v1/sync/push"]["post"]
    assert push["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PushResponse")
    assert "PullResponse" in spec["components"]["schemas"]
    body = push["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body == "#/components/schemas/PushRequest"
    refs = set()

    def collect(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"].rsplit("/", 1)[-1])
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    collect(spec)
    assert refs <= set(spec["components"]["schemas"]), refs - set(spec["components"]["schemas"])


def test_create_app_includes_every_router_itself(tmp_path: Path) -> None:
    """One place gathers the routers (sync_server.app.ROUTERS: JSON API, console, public
    certificate pages) and create_app includes them directly — no optional extensions
    looked up by name; the certificate issuer follows pushes as a typed hook."""
    app = create_app(Settings(data_dir=tmp_path / "s", public_base_url=BASE))
    with TestClient(app) as c:
        for path, status in (("/api/v1/health", 200), ("/admin/login", 200),
                             ("/admin/static/admin.css", 200), ("/issuer", 200),
                             ("/status/1", 404), ("/api/v1/admin/certificates", 401),
                             (f"/verify/{uuid.uuid4()}", 404)):
            assert c.get(path).status_code == status, path
        assert "/api/v1/sync/push" in c.get("/openapi.json").json()["paths"]
    state = app.state.shift
    assert state.push_hooks == [state.issuer]


def test_admin_login_is_throttled_after_repeated_failures(client: TestClient) -> None:
    from sync_server.services.login_throttle import LoginThrottle
    throttle = LoginThrottle(client.app.state.shift.repo)  # type: ignore[attr-defined]
    try:
        for _ in range(5):
            r = client.post("/api/v1/admin/login", json={"name": "admin", "password": "wrong-guess"})
            assert r.status_code == 401
        r = client.post("/api/v1/admin/login", json={"name": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 429 and "too many failed logins" in r.json()["detail"]
        # (as if the window had passed; the lock-out is per name and address)
        throttle.succeeded("admin", "testclient")
        r = client.post("/api/v1/admin/login", json={"name": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200
    finally:
        throttle.succeeded("admin", "testclient")


def test_profile_ids_are_canonical_uuids(client: TestClient) -> None:
    """Profile ids follow the shared rules (app/core/profile_rules.py): canonical
    lower-case UUIDs only, the form every tablet accepts — an upper-case spelling would be
    a second learner for the same id (issue 13, row 10)."""
    h = _device(client, "f1", "tab-9")
    p = make_profile(learner_id="0A1B2C3D-0000-4000-8000-00000000ABCD")
    r = client.post("/api/v1/sync/push", headers=h,
                    json={"profiles": [p], "events": [make_event(p["id"], "tab-9", 1)]}).json()
    assert (r["profiles"][0]["status"], r["profiles"][0]["reason"]) == ("rejected", "bad_field")
    assert r["profiles"][0]["detail"].startswith("id: ")
    assert r["stored"] == [] and len(r["rejected"]) == 1
    lower = make_profile(learner_id=p["id"].lower())
    r = client.post("/api/v1/sync/push", headers=h,
                    json={"profiles": [lower], "events": [make_event(lower["id"], "tab-9", 1)]})
    assert r.json()["profiles"][0]["status"] == "registered" and len(r.json()["stored"]) == 1


def test_server_root_leads_a_browser_to_the_admin_console(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/"
    page = client.get("/")                      # not logged in: the console's login page
    assert page.status_code == 200 and "/admin/login" in str(page.url)
    assert "/" not in client.get("/openapi.json").json()["paths"]


def test_push_calls_on_stored_hooks_with_only_newly_stored_events(tmp_path: Path) -> None:
    from sync_server.db import open_repository
    from sync_server.db.repository import Device
    from sync_server.services import sync as sync_service

    repo = open_repository(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        repo.create_facility("f1", "One", "2026-01-01T00:00:00.000Z")
        device = Device("tab", "f1", "tab", "2026-01-01T00:00:00.000Z")
        profile = make_profile("S-1")
        sync_service.save_profiles(repo, device, [profile])
        seen: list[list[str]] = []

        def broken(events: list[dict]) -> None:
            raise RuntimeError("hook bug")

        hooks = [broken, lambda events: seen.append([e["id"] for e in events])]
        a, b, c = (make_event(profile["id"], "tab", i) for i in (1, 2, 3))
        bad = {**make_event(profile["id"], "tab", 4), "type": "no.such"}
        first = sync_service.push(repo, device, [a, b, a, bad], on_stored=hooks)
        assert first.stored == [a["id"], b["id"]] and seen == [[a["id"], b["id"]]]  # a broken
        second = sync_service.push(repo, device, [a, b, c], on_stored=hooks)       # hook is logged
        assert second.duplicate == [a["id"], b["id"]] and seen[-1] == [c["id"]]
        sync_service.push(repo, device, [a, b, c], on_stored=hooks)                 # nothing new:
        assert len(seen) == 2                                                       # no call
    finally:
        repo.close()


@pytest.mark.parametrize("body", [b'{"events": [{"a": NaN}]}', b'{"events": [], "x": Infinity}',
                                  b'{"events": {"0": {}}}', b'{"profiles": [{"id": 1}]}',
                                  "{\"events\": []}".encode("utf-16")])
def test_push_bodies_that_are_not_the_schema_are_422(client: TestClient, body: bytes) -> None:
    h = _device(client, "f1", "tab-422")
    r = client.post("/api/v1/sync/push", headers={**h, "Content-Type": "application/json"},
                    content=body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "body"
