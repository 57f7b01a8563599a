"""The HTML console on a real uvicorn server with a real httpx client (no browser):
login/CSRF, pack upload (good and broken), publish, rollback, enrolment code + QR,
device revoke, learners (create, CSV import with per-row errors, move), dashboard charts,
exports (CSV, xAPI lines) and the LRS push against a tiny fake LRS on 127.0.0.1."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import threading
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.packs.keys import TrustedKeys, load_public_key
from tests.integration.test_admin_certificates import (
    SAMPLE,
    console_login,
    page_csrf,
    pull_all,
    zipped_source,
)
from tests.support.learner_work import server_manifest, study
from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import (
    admin_token,
    bearer,
    enrol_device,
    make_event,
    make_profile,
    running_server,
    seed,
)


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One server per database backend for the whole module (tests use distinct data)."""
    url = url_for_backend(request.param)
    data = tmp_path_factory.mktemp("console") / "srv"
    seed(data, url, facilities={"f1": "Vilnius", "f2": "Iasi", "f3": "Klaipeda"})
    with running_server(data, url) as base:
        yield base, data


@pytest.fixture
def client(srv):
    base, _ = srv
    with httpx.Client(base_url=base, timeout=60) as c:
        console_login(c)
        yield c


def source_zip_with(tmp_path: Path,
                    edit: dict[str, tuple[str, str] | list[tuple[str, str]]]) -> bytes:
    """The sample source with text replaced in some files: {relative path: (old, new) or
    a list of them}."""
    folder = tmp_path / "promote-sample"
    shutil.copytree(SAMPLE, folder)
    for rel, changes in edit.items():
        path = folder / rel
        text = path.read_text(encoding="utf-8")
        for old, new in changes if isinstance(changes, list) else [changes]:
            assert old in text, (rel, old)
            text = text.replace(old, new, 1)
        path.write_text(text, encoding="utf-8")
    return zipped_source(folder)


def upload(client: httpx.Client, data: bytes, name: str = "sample.zip", kind: str = "auto"):
    return client.post("/admin/packs/upload", data={"csrf": page_csrf(client, "/admin/packs"),
                                                    "kind": kind},
                       files={"file": (name, data, "application/zip")})


# ----------------------------------------------------------------------------- auth

def test_login_logout_and_csrf(srv) -> None:
    base, _ = srv
    with httpx.Client(base_url=base) as anon:
        r = anon.get("/admin/packs")
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login?next=/admin/packs")
        page = anon.get("/admin/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        bad = anon.post("/admin/login", data={"csrf": csrf, "name": "admin", "password": "nope"})
        assert bad.status_code == 401 and "Wrong name or password" in bad.text
        assert anon.post("/admin/login", data={"csrf": "forged", "name": "admin",
                                               "password": "correct horse battery"}).status_code == 403
        ok = anon.post("/admin/login", data={"csrf": csrf, "name": "admin", "next": "//evil.example/x",
                                             "password": "correct horse battery"})
        assert ok.status_code == 303 and ok.headers["location"] == "/admin/"  # no open redirect
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        home = anon.get("/admin/")
        assert home.status_code == 200
        assert "default-src 'self'" in home.headers["content-security-policy"]
        # a POST without / with a wrong CSRF token is refused
        assert anon.post("/admin/facilities", data={"id": "x", "name": "X"}).status_code == 403
        assert anon.post("/admin/facilities", data={"id": "x", "name": "X",
                                                    "csrf": "0" * 64}).status_code == 403
        anon.post("/admin/logout", data={"csrf": page_csrf(anon, "/admin/")})
        assert anon.get("/admin/").status_code == 303


# ----------------------------------------------------------------------------- packs

def test_broken_source_shows_file_and_line(client, tmp_path: Path) -> None:
    data = source_zip_with(tmp_path, {"courses/boundaries/course.toml": ("pass_mark = 70",
                                                                         "pass_mark = 170")})
    r = upload(client, data)
    assert r.status_code == 422
    assert "The pack was not accepted" in r.text
    assert "course.toml" in r.text and "pass_mark" in r.text
    assert re.search(r'<td data-label="Line">6</td>', r.text), "the line number is shown"
    for junk, name in ((b"not a zip at all", "x.pack"), (b"PK\x03\x04garbage", "x.zip")):
        r = upload(client, junk, name)
        assert r.status_code == 422 and "The pack was not accepted" in r.text
    r = client.post("/admin/packs/upload", data={"csrf": page_csrf(client, "/admin/packs")},
                    files={"file": ("empty.zip", b"", "application/zip")})
    assert r.status_code == 422 and "empty" in r.text
    # zip-slip: an entry that climbs out of the folder is refused, nothing written outside
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("promote-sample/pack.toml", (SAMPLE / "pack.toml").read_text())
        zf.writestr("../../escaped.txt", "x")
    r = upload(client, buf.getvalue(), "slip.zip", kind="source")
    assert r.status_code == 422 and "The pack was not accepted" in r.text
    assert not list(tmp_path.parent.parent.rglob("escaped.txt"))
    # a source pack can't claim to be a built one and vice versa
    r = upload(client, zipped_source(), "sample.pack", kind="pack")
    assert r.status_code == 422


def test_upload_publish_rollback_and_device_catalogue(srv, client, tmp_path: Path) -> None:
    base, data = srv
    r = upload(client, zipped_source())
    assert r.status_code == 303, r.text
    page = client.get("/admin/packs").text
    assert "Uploaded promote-sample version 1" in page
    # v2 with another title
    v2 = source_zip_with(tmp_path, {"pack.toml": [
        ("version = 1", "version = 2"),
        ('title = { en = "Professional boundaries (sample)"',
         'title = { en = "Professional boundaries (v2)"')]})
    assert upload(client, v2).status_code == 303
    csrf = page_csrf(client, "/admin/packs")
    # one publish form per pack: nothing ticked is an error (no implicit "all"), the
    # ticks are kept; a choice goes to a confirmation naming facilities and roles
    nothing = client.post("/admin/packs/promote-sample/publish", data={"csrf": csrf, "version": "2"})
    assert nothing.status_code == 422 and "nothing is published to everyone" in nothing.text
    half = client.post("/admin/packs/promote-sample/publish",
                       data={"csrf": csrf, "version": "2", "facilities": ["f1"]})
    assert half.status_code == 422 and "Choose the roles" in half.text
    assert re.search(r'value="f1" checked', half.text), "the ticked facility stays ticked"
    assert client.get("/admin/packs").text.count('class="publish"') == 1  # per pack
    confirm = client.post("/admin/packs/promote-sample/publish",
                          data={"csrf": csrf, "version": "2", "facilities": ["f1"],
                                "roles": ["prison_officer"]})
    assert confirm.status_code == 200 and "Publish promote-sample v2?" in confirm.text
    assert re.search(r'id="confirm-facilities">Vilnius<', confirm.text)
    assert re.search(r'id="confirm-roles">Prison officer<', confirm.text)
    assert "Published promote-sample v2" not in client.get("/admin/packs").text  # not yet
    r = client.post("/admin/packs/promote-sample/publish",
                    data={"csrf": csrf, "version": "2", "facilities": ["f1"],
                          "roles": ["prison_officer"], "confirmed": "1"})
    assert r.status_code == 303
    assert "Published promote-sample v2 to Vilnius · Prison officer." in \
        client.get("/admin/packs").text

    token = admin_token(base)
    device = enrol_device(base, token, "f1", "tab-cat")
    other = enrol_device(base, token, "f2", "tab-other")
    cat = httpx.get(f"{base}/api/v1/packs", headers=device.headers).json()["packs"]
    assert [(p["id"], p["version"]) for p in cat] == [("promote-sample", 2)]
    assert httpx.get(f"{base}/api/v1/packs", headers=other.headers).json()["packs"] == []

    # roll back to v1 → v3 with v1's content, same audience, signed by the server key
    packs_page = client.get("/admin/packs").text
    assert "publishes to Vilnius · Prison officer" in packs_page   # said before the click
    r = client.post("/admin/packs/promote-sample/1/rollback", data={"csrf": csrf})
    assert r.status_code == 303
    assert ("republished as promote-sample v3, published to Vilnius · Prison officer."
            in client.get("/admin/packs").text)
    cat = httpx.get(f"{base}/api/v1/packs", headers=device.headers).json()["packs"]
    assert [(p["id"], p["version"]) for p in cat] == [("promote-sample", 3)]
    manifest = httpx.get(base + cat[0]["manifest_url"], headers=device.headers).content
    sig = json.loads(httpx.get(base + cat[0]["signature_url"], headers=device.headers).content)
    trusted = TrustedKeys([load_public_key(data / "keys" / "server.key.pub")])
    trusted.verify(sig["key_id"], base64.b64decode(sig["sig"]), manifest)
    assert json.loads(manifest)["version"] == 3
    # a tablet that has v2 installs the rolled-back v3 over the network path
    device_dir = tmp_path / "tablet"
    install_catalogue_version(base, device.headers, "promote-sample", 2, device_dir, trusted)
    installed = install_catalogue_version(base, device.headers, "promote-sample", 3, device_dir,
                                          trusted)
    assert installed.version == 3
    assert installed.manifest["title"]["en"] == "Professional boundaries (sample)"  # v1's
    # the device reports what it installed → the console shows it
    httpx.post(f"{base}/api/v1/sync/pull", headers=device.headers,
               json={"installed_packs": {"promote-sample": 2}})
    page = client.get("/admin/packs").text
    assert "tab-cat" not in page or "test tablet" in page
    # older than the newest published to its facility (3)
    assert 'class="stale" title="v3 is published to this facility">2 → 3<' in page
    # hostile publish input
    bad = client.post("/admin/packs/promote-sample/publish",
                      data={"csrf": csrf, "version": "9", "all_facilities": "1", "all_roles": "1"})
    assert bad.status_code == 422 and "was not uploaded" in bad.text
    bad = client.post("/admin/packs/promote-sample/publish",
                      data={"csrf": csrf, "version": "1", "all_facilities": "1",
                            "roles": ["warden"]})
    assert bad.status_code == 422 and "Unknown role" in bad.text
    bad = client.post("/admin/packs/promote-sample/publish",
                      data={"csrf": csrf, "version": "1", "facilities": ["nowhere"],
                            "all_roles": "1", "confirmed": "1"})
    assert bad.status_code == 422 and "does not exist" in bad.text
    hostile = client.post("/admin/packs/promote-sample/publish",
                          data={"csrf": csrf, "version": "1", "facilities": ["<script>x"],
                                "all_roles": "1"})
    assert hostile.status_code == 422 and "<script>x" not in hostile.text

    # withdraw: the device catalogue loses it and names it withdrawn; progress is kept
    r = client.post("/admin/packs/promote-sample/withdraw", data={"csrf": csrf})
    assert r.status_code == 303
    page = client.get("/admin/packs").text
    assert "Withdrew promote-sample" in page and "withdrawn" in page
    cat = httpx.get(f"{base}/api/v1/packs", headers=device.headers).json()
    assert cat == {"packs": [], "withdrawn": ["promote-sample"]}
    assert httpx.get(base + "/api/v1/packs/promote-sample/3/manifest",
                     headers=device.headers).status_code == 404
    r = client.post("/admin/packs/promote-sample/withdraw", data={"csrf": csrf})
    assert "nothing to withdraw" in client.get("/admin/packs").text
    # published again (all facilities, all roles, confirmed) → offered again
    r = client.post("/admin/packs/promote-sample/publish",
                    data={"csrf": csrf, "version": "3", "all_facilities": "1",
                          "all_roles": "1", "confirmed": "1"})
    assert r.status_code == 303
    cat = httpx.get(f"{base}/api/v1/packs", headers=device.headers).json()
    assert [(p["id"], p["version"]) for p in cat["packs"]] == [("promote-sample", 3)]
    assert cat["withdrawn"] == []


def install_catalogue_version(base: str, headers: dict, pack_id: str, version: int,
                              data_dir: Path, trusted: TrustedKeys) -> Any:
    """What the sync client does: manifest + signature, missing blobs, install_from_blobs."""
    from app.core.packs import BlobStore
    from app.core.packs.install import install_from_blobs

    manifest = httpx.get(f"{base}/api/v1/packs/{pack_id}/{version}/manifest", headers=headers)
    sig = httpx.get(f"{base}/api/v1/packs/{pack_id}/{version}/signature", headers=headers)
    assert manifest.status_code == 200 and sig.status_code == 200, (manifest.text, sig.text)
    blobs = BlobStore(data_dir / "blobs")
    for entry in json.loads(manifest.content)["files"]:
        if not blobs.has(entry["sha256"]):
            body = httpx.get(f"{base}/api/v1/blobs/{entry['sha256']}", headers=headers).content
            blobs.put_stream(entry["sha256"], entry["size"], [body])
    return install_from_blobs(manifest.content, sig.content, data_dir, trusted)


def test_built_pack_upload_trusted_and_untrusted(srv, client, tmp_path: Path) -> None:
    """A built .pack signed by a trusted key is accepted as it is; one signed by an
    unknown key is refused with the verifier's reason."""
    from app.core.packs import build_pack
    from app.core.packs.keys import generate_keypair, load_private_key

    _, data = srv
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "built.zip").write_bytes(source_zip_with(tmp_path, {"pack.toml": (
        'id = "promote-sample"', 'id = "promote-built"')}))
    with zipfile.ZipFile(folder / "built.zip") as zf:
        zf.extractall(folder)
    out = tmp_path / "out"
    out.mkdir()
    rogue = build_pack(folder / "promote-sample", generate_keypair()[0], out, version=7)
    r = upload(client, rogue.read_bytes(), "rogue.pack")
    assert r.status_code == 422 and "unknown key" in r.text
    good = build_pack(folder / "promote-sample", load_private_key(data / "keys" / "server.key"),
                      out, version=8)
    r = upload(client, good.read_bytes(), "good.pack")
    assert r.status_code == 303, r.text
    assert "Uploaded promote-built version 8" in client.get("/admin/packs").text
    # the same version again: versions only grow
    r = upload(client, good.read_bytes(), "good.pack")
    assert r.status_code == 422 and "not newer" in r.text


# ----------------------------------------------------------------------------- devices

def test_enrol_code_with_qr_and_revoke(srv, client) -> None:
    base, _ = srv
    r = client.post("/admin/devices/enrol-code", data={"csrf": page_csrf(client, "/admin/devices"),
                                                       "facility": "f2"})
    assert r.status_code == 200
    code = re.search(r'id="enrol-code">([A-Z0-9-]+)<', r.text).group(1)
    assert "<svg" in r.text and "Enrolment code" in r.text
    enrolled = httpx.post(f"{base}/api/v1/devices/enrol",
                          json={"code": code, "device_id": "tab-qr", "name": "QR tablet"})
    assert enrolled.status_code == 201, enrolled.text
    headers = bearer(enrolled.json()["token"])
    assert httpx.get(f"{base}/api/v1/devices/me", headers=headers).status_code == 200
    assert "QR tablet" in client.get("/admin/devices").text
    r = client.post("/admin/devices/tab-qr/revoke", data={"csrf": page_csrf(client, "/admin/devices")})
    assert r.status_code == 303
    assert httpx.get(f"{base}/api/v1/devices/me", headers=headers).status_code == 401
    assert "revoked" in client.get("/admin/devices").text
    r = client.post("/admin/devices/enrol-code", data={"csrf": page_csrf(client, "/admin/devices"),
                                                       "facility": "../f1"})
    assert r.status_code == 303


# ----------------------------------------------------------------------------- learners

def test_learners_create_import_move(client) -> None:
    csrf = page_csrf(client, "/admin/learners")
    r = client.post("/admin/learners", data={"csrf": csrf, "staff_number": "LT-100",
                                             "name": "Ona Onaitė", "facility": "f1",
                                             "role": "prison_officer", "language": "lt"})
    # the one-time PIN set-up code is shown once, on a printable page
    assert r.status_code == 200 and "PIN set-up codes" in r.text
    code = re.search(r'class="pin-code">([A-Z0-9-]{14})<', r.text).group(1)
    assert "Ona Onaitė" in client.get("/admin/learners").text
    assert code not in client.get("/admin/learners").text
    r = client.post("/admin/learners", data={"csrf": csrf, "staff_number": "LT-100",
                                             "name": "Someone Else", "facility": "f1",
                                             "role": "prison_officer", "language": "lt"})
    # a duplicate names the person (not an internal id) and the facility
    assert "already belongs to Ona Onaitė (LT-100) in Vilnius" in client.get("/admin/learners").text
    r = client.post("/admin/learners", data={"csrf": csrf, "staff_number": "X1", "name": "A",
                                             "facility": "f1", "role": "inmate", "language": "en"})
    assert "unknown role" in client.get("/admin/learners").text

    sheet = ("\ufeffstaff_number;name;facility;role;language\n"
             "RO-1;Ștefan Țăranu;f2;social_worker;ro\n"
             "RO-2;Ana;nowhere;social_worker;ro\n"
             "RO-3;Bob;f2;warden;en\n"
             "LT-100;Dup of existing;f1;prison_officer;lt\n"
             "RO-1;Dup in file;f2;social_worker;ro\n"
             ";;f2;trainer;en\n"
             "RO-4;Maria;f2;psychologist;ro\n").encode("utf-8")
    r = client.post("/admin/learners/import", data={"csrf": csrf},
                    files={"file": ("staff.csv", sheet, "text/csv")})
    assert r.status_code == 422
    assert "Imported 2 learners; 6 rows with errors." in r.text
    slips = re.findall(r'<td data-label="Name">([^<]+)</td>.*?class="pin-code">([A-Z0-9-]{14})<',
                       r.text, re.S)
    assert sorted(name for name, _ in slips) == ["Maria", "Ștefan Țăranu"]
    assert len({code for _, code in slips}) == 2
    for line, text in ((3, "unknown facility"), (4, "unknown role"), (5, "already belongs"),
                       (6, "repeats line 2"), (7, "empty")):
        assert re.search(rf"<tr><td>{line}</td><td>[^<]*</td><td>[^<]*{text}", r.text), (line, text)
    page = client.get("/admin/learners?facility=f2").text
    assert "Ștefan Țăranu" in page and "Maria" in page and "Bob" not in page

    learner_id = re.search(r'href="/admin/learners/([0-9a-f-]+)">Ștefan', page).group(1)
    # a move asks first, naming the person and both facilities; then moves
    ask = client.post(f"/admin/learners/{learner_id}/move", data={"csrf": csrf, "facility": "f1"})
    assert ask.status_code == 200
    assert re.search(r"Move <strong>Ștefan Țăranu</strong> \(RO-1\) from <strong>Iasi</strong> "
                     r"to <strong>Vilnius</strong>", ask.text)
    assert learner_id not in client.get("/admin/learners?facility=f1").text   # not yet
    r = client.post(f"/admin/learners/{learner_id}/move",
                    data={"csrf": csrf, "facility": "f1", "confirmed": "1"})
    assert r.status_code == 303
    assert "Moved Ștefan Țăranu (RO-1) from Iasi to Vilnius." in client.get(r.headers["location"]).text
    assert learner_id in client.get("/admin/learners?facility=f1").text
    r = client.post(f"/admin/learners/{learner_id}/move", data={"csrf": csrf, "facility": "nowhere"})
    assert "does not exist" in client.get(r.headers["location"]).text
    binary = client.post("/admin/learners/import", data={"csrf": csrf},
                         files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")})
    assert "not UTF-8" in binary.text


def test_moving_a_learner_takes_their_history_to_the_new_facility(srv, client) -> None:
    base, _ = srv
    token = admin_token(base)
    old_tab = enrol_device(base, token, "f1", "move-old")   # (f3 is the dashboard test's)
    new_tab = enrol_device(base, token, "f2", "move-new")
    learner = make_profile("MOVE-1", name="Jonas")
    events = [make_event(learner["id"], "move-old", i) for i in (1, 2, 3)]
    r = httpx.post(f"{base}/api/v1/sync/push", headers=old_tab.headers,
                   json={"profiles": [learner], "events": events})
    assert len(r.json()["stored"]) == 3
    assert not [e for e in pull_all(base, new_tab.headers) if e["learner"] == learner["id"]]
    csrf = page_csrf(client, "/admin/learners")
    r = client.post(f"/admin/learners/{learner['id']}/move",    # confirmed (issue 21)
                    data={"csrf": csrf, "facility": "f2", "confirmed": "1"})
    assert r.status_code == 303
    moved = [e["id"] for e in pull_all(base, new_tab.headers) if e["learner"] == learner["id"]]
    assert sorted(moved) == sorted(e["id"] for e in events)      # the whole history came along
    late = make_event(learner["id"], "move-old", 4)
    r = httpx.post(f"{base}/api/v1/sync/push", headers=old_tab.headers, json={"events": [late]})
    assert [x["reason"] for x in r.json()["rejected"]] == ["other_facility"]


# ----------------------------------------------------------------------------- reports

class FakeLrs:
    """A tiny xAPI LRS: POST /statements with basic auth, statements kept by id; a batch
    with an id it already has is refused whole with 409 (as some LRSs do)."""

    def __init__(self, user: str = "lrs", password: str = "secret") -> None:
        self.statements: dict[str, dict[str, Any]] = {}
        self.requests = 0
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        lrs = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                lrs.requests += 1
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path != "/xapi/statements":
                    return self._send(404, b"[]")
                if self.headers.get("authorization") != expected:
                    return self._send(401, b"{}")
                if self.headers.get("x-experience-api-version") != "1.0.3":
                    return self._send(400, b"{}")
                batch = json.loads(body)
                if any(s["id"] in lrs.statements for s in batch):
                    return self._send(409, b"{}")
                for s in batch:
                    lrs.statements[s["id"]] = s
                self._send(200, json.dumps([s["id"] for s in batch]).encode())

            def _send(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/xapi"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_dashboard_exports_and_lrs(srv, client) -> None:
    base, _ = srv
    token = admin_token(base)
    r = httpx.post(f"{base}/api/v1/admin/packs/upload/source", headers={**bearer(token),
                   "Content-Type": "application/octet-stream"},
                   content=zipped_source(), timeout=60)
    version = r.json()["version"] if r.status_code == 201 else max(
        p["version"] for p in httpx.get(f"{base}/api/v1/admin/packs", headers=bearer(token)).json()
        if p["id"] == "promote-sample")
    httpx.post(f"{base}/api/v1/admin/packs/promote-sample/publish", headers=bearer(token),
               json={"version": version, "facilities": [], "roles": []})
    device = enrol_device(base, token, "f3", f"tab-{uuid.uuid4().hex[:6]}")  # f3: only these two
    dev = device.device_id
    ann, ben = make_profile(name="Ann Analyst"), make_profile(name="Ben =HYPERLINK(1)")
    ev = lambda who, seq, type, ref, data, at="2026-03-01T09:00:00.000Z": make_event(  # noqa: E731
        who["id"], dev, seq, type=type, ref=ref, data=data, at=at, pack="promote-sample",
        pack_version=version)
    # Ann really does the course (the server re-scores her quiz before it certifies)
    manifest = server_manifest(base, device.headers, "promote-sample", version)
    ann_work = study(manifest, ann["id"], "boundaries", device=dev, answers="half",
                     first_seq=100)
    ann_score = next(e for e in ann_work if e["type"] == "quiz.submitted")["data"]["score"]
    events = [
        *ann_work,
        ev(ben, 4, "quiz.submitted", {"course": "boundaries", "attempt": "b1"}, {"score": 40, "passed": False}),
        ev(ann, 5, "selfassessment.rated", {"profile": "prison-officer", "assessment": "s1", "task": "a1"}, {"level": 1}),
        ev(ben, 6, "selfassessment.rated", {"profile": "prison-officer", "assessment": "s2", "task": "a1"}, {"level": 3}),
    ]
    r = httpx.post(f"{base}/api/v1/sync/push", headers=device.headers,
                   json={"profiles": [ann, ben], "events": events})
    assert len(r.json()["stored"]) == len(events), r.text

    page = client.get("/admin/").text
    # issue 21: the bars and the gap map are HTML (real text at every width), not SVG
    assert 'class="stack-bar"' in page and '<table class="heat">' in page
    assert "Keeping professional boundaries" in page
    assert "Self-assessment skill gaps" in page
    # 2 learners in f3: Ann completed, Ben tried and failed (in progress); pass rate 1 of 2
    row = re.search(r"<td data-label=\"Facility\">Klaipeda</td>(.*?)</tr>",
                    page.split("Keeping professional boundaries</td>", 1)[1], re.S)
    assert row, page
    cells = re.findall(r"<td[^>]*>(?:<a [^>]*>)?([^<]*)", row.group(1))
    assert cells[:7] == ["2", "0", "1", "0", "1", "50%", "50% "], cells
    heat = page.split('<table class="heat">', 1)[1]
    assert 'title="2 learners">+1.0</td>' in heat   # duty a: ((3-1) + (3-3)) / 2
    assert client.get("/admin/?facility=f2&role=psychologist").status_code == 200

    body = client.get("/admin/exports/progress.csv")
    assert body.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.content.decode("utf-8-sig"))))
    mine = {r["name"]: r for r in rows if r["course"] == "boundaries"}
    assert mine["Ann Analyst"]["passed"] == "yes"
    assert float(mine["Ann Analyst"]["best_score"]) == ann_score
    assert mine["Ann Analyst"]["certificate"], "the certificate id is in the export"
    assert mine["'Ben =HYPERLINK(1)"]["passed"] == "no" if "'Ben =HYPERLINK(1)" in mine else \
        mine["Ben =HYPERLINK(1)"]["passed"] == "no"

    api_csv = httpx.get(f"{base}/api/v1/admin/exports/progress.csv", headers=bearer(token))
    assert api_csv.status_code == 200 and "Ann Analyst" in api_csv.content.decode("utf-8-sig")
    assert httpx.get(f"{base}/api/v1/admin/exports/progress.csv").status_code == 401
    api_lines = httpx.get(f"{base}/api/v1/admin/exports/xapi.jsonl", headers=bearer(token)).text
    lines = client.get("/admin/exports/xapi.jsonl").text.splitlines()
    assert len(api_lines.splitlines()) == len(lines)
    statements = [json.loads(line) for line in lines]
    ids = {s["id"] for s in statements}
    assert {e["id"] for e in events} <= ids
    assert all("actor" in s and "verb" in s and "object" in s for s in statements)

    lrs = FakeLrs()
    try:
        def push(password: str = "secret") -> str:
            return client.post("/admin/exports/lrs", data={
                "csrf": page_csrf(client, "/admin/exports"), "endpoint": lrs.url,
                "username": "lrs", "password": password}).text
        first = push()
        assert f"Sent {len(statements)}, already in the LRS 0" in first, first
        assert set(lrs.statements) == ids
        second = push()  # idempotent: nothing new, nothing duplicated
        assert f"Sent 0, already in the LRS {len(statements)}" in second
        assert len(lrs.statements) == len(ids)
        wrong = push("wrong")
        assert "LRS answered HTTP 401" in wrong
    finally:
        lrs.close()
    unreachable = client.post("/admin/exports/lrs", data={
        "csrf": page_csrf(client, "/admin/exports"), "endpoint": "http://127.0.0.1:9/xapi",
        "username": "u", "password": "p"})
    assert unreachable.status_code == 502 and "LRS unreachable" in unreachable.text


def test_upload_shows_the_quiz_quality_report(srv, client, tmp_path: Path) -> None:
    """Issue 16: an upload whose quiz breaks quality rules is stored, and the packs page
    shows the report — file:line of the zipped source, field, course, language, rule."""
    data = source_zip_with(tmp_path, {
        "pack.toml": ('id = "promote-sample"', 'id = "quality-demo"'),
        "courses/boundaries/quiz.toml": [
            ('text = { en = "Giving him your phone number for emergencies"',
             'text = { en = "None of the above is professional in this case"'),
            ('outcome = "spot-manipulation"\n', "")]})
    r = upload(client, data, "quality-demo.zip")
    assert r.status_code == 200, r.text
    assert "Uploaded quality-demo version 1" in r.text and "Quiz quality report" in r.text
    rows = re.findall(r'<tr class="finding">(.*?)</tr>', r.text, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    by_rule = {c[5]: c for c in cells}
    allnone = by_rule["all-none-of-the-above"]
    assert allnone[0] == "courses/boundaries/quiz.toml" and allnone[1].isdigit()
    assert allnone[2] == "questions[0].options[2].text.en" and allnone[4] == "en"
    assert "untagged" in by_rule and "outcome-thin" in by_rule
    assert "source-" not in r.text                   # no server temp folder in the report
    # stored all the same: a finding is a warning, not a refusal
    assert "quality-demo" in client.get("/admin/packs").text
    # a clean upload has no report
    r = upload(client, source_zip_with(tmp_path / "clean", {
        "pack.toml": ('id = "promote-sample"', 'id = "quality-clean"')}), "clean.zip")
    assert r.status_code == 303
