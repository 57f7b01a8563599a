"""Certificates end to end on a real uvicorn server: a learner's pushed work (read every
card, passed the quiz — events made by the real learning engine) gives exactly one signed
certificate per learner + course, it comes back in the pull, verifies offline with the
server's public key, /verify answers genuine / revoked / tampered / unknown, and the PDF
is served. Runs on SQLite and (when available) PostgreSQL. What the server refuses to
certify: tests/integration/test_certificate_trust.py."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.certificates import CertificateStatus, did_key, verify_credential
from app.core.packs.keys import TrustedKeys, load_public_key
from tests.support.learner_work import server_manifest, study
from tests.support.postgres import (  # noqa: F401 - database_url: parametrised fixture
    BACKENDS,
    database_url,
    url_for_backend,
)
from tests.support.server import (
    Enrolled,
    ServerProcess,
    admin_token,
    bearer,
    enrol_device,
    make_event,
    make_profile,
    open_repo,
    running_server,
    seed,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "content_packs" / "promote-sample"


def zipped_source(folder: Path = SAMPLE) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder)}")
    return buf.getvalue()


def upload_and_publish(base: str, token: str, facilities: list[str]) -> dict:
    r = httpx.post(f"{base}/api/v1/admin/packs/upload/source", content=zipped_source(),
                   headers={**bearer(token), "Content-Type": "application/octet-stream"},
                   timeout=60)
    assert r.status_code == 201, r.text
    pack = r.json()
    r = httpx.post(f"{base}/api/v1/admin/packs/{pack['id']}/publish", headers=bearer(token),
                   json={"version": pack["version"], "facilities": facilities, "roles": []})
    assert r.status_code == 201, r.text
    return pack


def console_login(client: httpx.Client, name: str = "admin",
                  password: str = "correct horse battery") -> None:
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/admin/login", data={"csrf": csrf, "name": name, "password": password,
                                          "next": "/admin/"})
    assert r.status_code == 303, r.text


def page_csrf(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def pull_all(base: str, headers: dict) -> list[dict]:
    events, cursor = [], 0
    while True:
        body = httpx.post(f"{base}/api/v1/sync/pull", headers=headers,
                          json={"events_after": cursor}).json()
        events += body["events"]
        cursor = body["events_cursor"]
        if not body["more"]:
            return events


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One server per backend for the tests below (distinct devices and learners)."""
    url = url_for_backend(request.param)
    data = tmp_path_factory.mktemp("certs") / "srv"
    seed(data, url, facilities={"f1": "Vilnius", "f2": "Iasi"})
    with running_server(data, url) as base:
        yield base, data, url


def test_completion_issues_one_certificate_that_verifies_offline(server) -> None:
    base, data, db_url = server
    token = admin_token(base)
    pack = upload_and_publish(base, token, ["f1"])
    device = enrol_device(base, token, "f1", "tab-1")
    learner = make_profile("LT-7", name="Žydrūnė Šėtonaitė")
    learner["language"] = "lt"
    manifest = server_manifest(base, device.headers, pack["id"], pack["version"])
    work = study(manifest, learner["id"], "boundaries", answers="half")
    done = work[-1]
    assert done["type"] == "course.completed"
    r = httpx.post(f"{base}/api/v1/sync/push", headers=device.headers,
                   json={"profiles": [learner], "events": work})
    assert r.status_code == 200 and r.json()["stored"] == [e["id"] for e in work], r.text
    pushed_at = r.json()["received_at"]
    server_score = next(e for e in work if e["type"] == "quiz.submitted")["data"]["score"]
    assert 70 <= server_score < 100       # a partly right multiple-choice answer

    # the same completion again, and a second completion from another tablet: still one
    again = make_event(learner["id"], "tab-2", 1, type="course.completed", pack=pack["id"],
                       pack_version=pack["version"], ref={"course": "boundaries"},
                       at="2026-01-02T09:00:00.000Z")
    r = httpx.post(f"{base}/api/v1/sync/push", headers=device.headers, json={"events": [done, again]})
    assert r.status_code == 200, r.text

    received = [e for e in pull_all(base, device.headers) if e["type"] == "certificate.received"]
    assert len(received) == 1
    event = received[0]
    assert event["learner"] == learner["id"] and event["ref"]["course"] == "boundaries"
    assert event["data"]["title"] == "Profesinių ribų išlaikymas"
    # the device's learning fold accepts the pulled event as it comes (with received_at)
    from app.core.learning.state import LearnerState
    state = LearnerState(learner["id"])
    assert state.apply(event) and not state.ignored
    (cert,) = state.certificates.values()
    assert (cert.course, cert.title) == ("boundaries", "Profesinių ribų išlaikymas")
    credential = event["data"]["credential"]
    trusted = TrustedKeys([load_public_key(data / "keys" / "server.key.pub")])
    result = verify_credential(credential, trusted)
    assert result.status is CertificateStatus.GENUINE, result
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["name"] == "Profesinių ribų išlaikymas"      # the learner's language
    assert achievement["inLanguage"] == "lt"
    assert credential["credentialSubject"]["result"] == [
        {"type": ["Result"], "value": f"{server_score:.2f}".rstrip("0").rstrip("."),
         "resultDescription": f"{achievement['id']}#quiz-score"}]
    assert credential["awardedDate"] == pushed_at          # when the server received it
    server_did = did_key(load_public_key(data / "keys" / "server.key.pub"))
    assert credential["issuer"]["id"] == server_did
    cid = credential["id"].removeprefix("urn:uuid:")

    # a device of the other facility never sees it
    other = enrol_device(base, token, "f2", "tab-f2")
    assert not [e for e in pull_all(base, other.headers) if e["type"] == "certificate.received"]

    answer = httpx.get(f"{base}/verify/{cid}", headers={"Accept": "application/json"}).json()
    assert answer["status"] == "genuine" and answer["genuine"] is True
    assert answer["credential"] == credential
    html = httpx.get(f"{base}/verify/{cid}")
    assert html.status_code == 200 and "Genuine certificate" in html.text
    assert "Žydrūnė Šėtonaitė" in html.text
    # the page's words follow the reader's browser; the certificate's texts keep theirs
    lt = httpx.get(f"{base}/verify/{cid}", headers={"Accept-Language": "lt-LT,lt;q=0.9,en;q=0.5"})
    assert lt.status_code == 200 and '<html lang="lt">' in lt.text
    assert "Tikras pažymėjimas" in lt.text and "Genuine certificate" not in lt.text
    assert "Suteiktas" in lt.text and "Žydrūnė Šėtonaitė" in lt.text
    achievement = credential["credentialSubject"]["achievement"]
    assert f'<dd lang="{achievement.get("inLanguage", "en")}">' in lt.text
    # a hostile Accept-Language changes nothing but the words (English here)
    odd = httpx.get(f"{base}/verify/{cid}", headers={"Accept-Language": "<script>;q=9," * 50})
    assert odd.status_code == 200 and "Genuine certificate" in odd.text and "<script>;" not in odd.text
    pdf = httpx.get(f"{base}/certificates/{cid}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    # the short link printed on the PDF leads to the verify page (issue 21 item 10)
    from sync_server.certificates import short_id
    short = httpx.get(f"{base}/v/{short_id(cid)}")
    assert short.status_code == 308 and short.headers["location"] == f"/verify/{cid}"
    for junk in ("0OIl", "x" * 60, "%3Cscript%3E", short_id(str(uuid.uuid4()))):
        assert httpx.get(f"{base}/v/{junk}").status_code == 404
    assert httpx.get(f"{base}/certificates/{cid}.json").json() == credential

    # revoke in the console → verify says revoked (and not genuine)
    with httpx.Client(base_url=base) as client:
        console_login(client)
        csrf = page_csrf(client, "/admin/certificates")
        r = client.post(f"/admin/certificates/{cid}/revoke", data={"csrf": csrf, "reason": "issued in error"})
        assert r.status_code == 303
        listing = client.get("/admin/certificates").text
        assert "revoked" in listing and "issued in error" in listing   # the console keeps it
        assert "reason is internal" in client.get("/admin/certificates").text
    answer = httpx.get(f"{base}/verify/{cid}", headers={"Accept": "application/json"}).json()
    assert (answer["status"], answer["genuine"], answer["revoked"]) == ("revoked", False, True)
    # the reason is internal: the public answer says only "revoked" and the date
    assert answer["reason"] == "revoked by the issuer" and answer["revoked_at"]
    assert "issued in error" not in json.dumps(answer)
    public_page = httpx.get(f"{base}/verify/{cid}").text
    assert "issued in error" not in public_page and answer["revoked_at"][:10] in public_page
    # the JSON admin API sees it; revoking twice is a 404; no token is a 401
    listed = httpx.get(f"{base}/api/v1/admin/certificates", headers=bearer(token)).json()
    assert [(c["id"], c["revoke_reason"]) for c in listed] == [(cid, "issued in error")]
    again = httpx.post(f"{base}/api/v1/admin/certificates/{cid}/revoke", headers=bearer(token),
                       json={"reason": "again"})
    assert again.status_code == 404
    assert httpx.get(f"{base}/api/v1/admin/certificates").status_code == 401
    assert httpx.post(f"{base}/api/v1/admin/certificates/{cid}/revoke",
                      json={"reason": "x"}).status_code == 401
    assert "Revoked certificate" in httpx.get(f"{base}/verify/{cid}").text

    # someone edits the stored JSON in the database → tampered
    repo = open_repo(data, db_url)
    try:
        forged = repo.get_certificate(cid).credential
        forged["credentialSubject"]["achievement"]["name"] = "Director of everything"
        with repo._write() as cur:
            cur.execute(repo._sql("UPDATE certificates SET credential = ?, revoked_at = NULL "
                                  "WHERE id = ?"), (json.dumps(forged), cid))
    finally:
        repo.close()
    answer = httpx.get(f"{base}/verify/{cid}", headers={"Accept": "application/json"}).json()
    assert (answer["status"], answer["genuine"]) == ("tampered", False)


def test_verify_unknown_or_hostile_ids(server) -> None:
    base, _, _ = server
    for bad in ("not-a-uuid", str(uuid.uuid4()), "..%2F..%2Fetc%2Fpasswd", "%00", "x" * 300):
        check_unknown(base, bad)


def check_unknown(base: str, bad: str) -> None:
    r = httpx.get(f"{base}/verify/{bad}", headers={"Accept": "application/json"})
    assert r.status_code == 404  # a path that is no id never reaches the route at all
    assert r.json().get("status", "not_found") == "not_found" and not r.json().get("genuine")
    assert httpx.get(f"{base}/verify/{bad}").status_code == 404
    assert httpx.get(f"{base}/certificates/{bad}.pdf").status_code == 404


def test_completion_of_unknown_pack_or_learner_issues_nothing(server) -> None:
    base, _, _ = server
    token = admin_token(base)
    device = enrol_device(base, token, "f1", "tab-unknown")
    learner = make_profile("LT-8")
    unknown_pack = make_event(learner["id"], "tab-unknown", 1, type="course.completed",
                              pack="no-such-pack", ref={"course": "boundaries"})
    r = httpx.post(f"{base}/api/v1/sync/push", headers=device.headers,
                   json={"profiles": [learner], "events": [unknown_pack]})
    assert r.status_code == 200 and r.json()["stored"] == [unknown_pack["id"]]
    assert not [e for e in pull_all(base, device.headers)
                if e["type"] == "certificate.received" and e["learner"] == learner["id"]]
    # the server keeps serving syncs after it could not issue
    assert httpx.post(f"{base}/api/v1/sync/push", headers=device.headers,
                      json={"events": []}).status_code == 200


def stopped_server_with_unissued_completion(tmp_path: Path) -> tuple[ServerProcess, Enrolled, dict[str, Any]]:
    """A stopped server whose database holds a course.completed event that no hook saw
    (as after a crash between storing and issuing): (server, device, learner profile)."""
    from app.core.events import content_of
    from sync_server.db.repository import EventRow
    from tests.support.server import ServerProcess

    data = tmp_path / "srv"
    seed(data, facilities={"f1": "Vilnius"})
    server = ServerProcess(data)
    base = server.start()
    try:
        token = admin_token(base)
        upload_and_publish(base, token, ["f1"])
        device = enrol_device(base, token, "f1", "tab-1")
        learner = make_profile("LT-9", name="Ona")
        assert httpx.post(f"{base}/api/v1/sync/push", headers=device.headers,
                          json={"profiles": [learner]}).status_code == 200
        manifest = server_manifest(base, device.headers, "promote-sample", 1)
    finally:
        server.stop()
    work = study(manifest, learner["id"], "boundaries")
    repo = open_repo(data)
    try:
        repo.insert_events([EventRow(id=e["id"], learner_id=learner["id"], device_id="tab-1",
                                     facility_id="f1", type=e["type"], at=e["at"],
                                     content=content_of(e).decode(), received_at=e["at"],
                                     received_from="tab-1") for e in work])
    finally:
        repo.close()
    server.port = 0  # a fresh port: the old one may still be held by the stopped process
    return server, device, learner


def test_catch_up_at_start_with_public_base_url(tmp_path: Path) -> None:
    """A completion stored while nothing issued (a crash between store and issue) is
    issued when the server starts, with the configured public URL and organisation."""
    server, _, _ = stopped_server_with_unissued_completion(tmp_path)
    server.env = {"SHIFT_PUBLIC_BASE_URL": "https://learning.example.org/",
                  "SHIFT_ORG_NAME": "Kalėjimų departamentas"}
    base = server.start()
    try:
        listed = httpx.get(f"{base}/api/v1/admin/certificates",
                           headers=bearer(admin_token(base))).json()
        assert len(listed) == 1
        credential = httpx.get(f"{base}/certificates/{listed[0]['id']}.json").json()
        server_did = did_key(load_public_key(server.data_dir / "keys" / "server.key.pub"))
        assert credential["issuer"] == {"id": server_did, "type": ["Profile"],
                                        "name": "Kalėjimų departamentas"}
        assert credential["credentialStatus"]["statusListCredential"] == \
            "https://learning.example.org/status/1"
        assert credential["credentialSubject"]["achievement"]["id"].startswith(
            "https://learning.example.org/achievements/")
    finally:
        server.stop()


def test_completion_left_by_a_crash_is_issued_at_start_in_development_mode(tmp_path: Path) -> None:
    """A development server (SHIFT_DEV=1, no SHIFT_PUBLIC_BASE_URL) also catches up at
    start, with the address it listens on as its public URL (never a request's Host).

    (Before SHIFT_PUBLIC_BASE_URL became required outside development, a server without
    it waited for the first push to learn its URL from that request.)"""
    server, device, learner = stopped_server_with_unissued_completion(tmp_path)
    server.env = {"SHIFT_DEV": "1", "SHIFT_PUBLIC_BASE_URL": ""}
    base = server.start()
    try:
        token = admin_token(base)
        listed = httpx.get(f"{base}/api/v1/admin/certificates", headers=bearer(token)).json()
        assert [c["learner_id"] for c in listed] == [learner["id"]]
        credential = httpx.get(f"{base}/certificates/{listed[0]['id']}.json").json()
        assert credential["issuer"]["id"].startswith("did:key:")
        assert credential["credentialSubject"]["achievement"]["id"].startswith(
            f"{base}/achievements/")
        assert credential["credentialStatus"]["statusListCredential"].startswith(f"{base}/status/")
        received = [e for e in pull_all(base, device.headers) if e["type"] == "certificate.received"]
        assert len(received) == 1
    finally:
        server.stop()


def test_two_server_processes_issue_exactly_once(tmp_path: Path, database_url: str | None) -> None:  # noqa: F811
    """The same completion pushed at once through two server processes sharing one
    database (and a second tablet's completion of the same course) → one certificate."""
    import threading

    from tests.support.server import ServerProcess

    data = tmp_path / "srv"
    seed(data, database_url, facilities={"f1": "Vilnius"})
    one, two = ServerProcess(data, database_url), ServerProcess(data, database_url)
    base1, base2 = one.start(), two.start()
    try:
        token = admin_token(base1)
        upload_and_publish(base1, token, ["f1"])
        dev1 = enrol_device(base1, token, "f1", "tab-1")
        dev2 = enrol_device(base2, token, "f1", "tab-2")
        learners = [make_profile(f"P-{i}") for i in range(8)]
        assert httpx.post(f"{base1}/api/v1/sync/push", headers=dev1.headers,
                          json={"profiles": learners}).status_code == 200
        manifest = server_manifest(base1, dev1.headers, "promote-sample", 1)
        # each learner's work (ending in a completion) from tab-1, and a second
        # completion of the same course from tab-2
        done1 = [e for lr in learners for e in study(manifest, lr["id"], "boundaries")]
        done2 = [make_event(lr["id"], "tab-2", i + 1, type="course.completed", pack="promote-sample",
                            pack_version=1, ref={"course": "boundaries"}) for i, lr in enumerate(learners)]
        codes: list[int] = []

        def push(base: str, headers: dict, events: list) -> None:
            codes.append(httpx.post(f"{base}/api/v1/sync/push", headers=headers,
                                    json={"events": events}, timeout=60).status_code)

        threads = [threading.Thread(target=push, args=args) for args in (
            (base1, dev1.headers, done1 + done2), (base2, dev2.headers, done2 + done1),
            (base1, dev1.headers, done2), (base2, dev2.headers, done1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert codes == [200] * 4
        listed = httpx.get(f"{base2}/api/v1/admin/certificates", headers=bearer(token)).json()
        assert sorted(c["learner_id"] for c in listed) == sorted(lr["id"] for lr in learners)
        received = [e for e in pull_all(base1, dev1.headers) if e["type"] == "certificate.received"]
        assert len(received) == len(learners)
    finally:
        one.stop()
        two.stop()


def test_one_undeliverable_certificate_does_not_block_the_others(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sync_server.db.repository import CertificateRecord
    from sync_server.services.issuing import CertificateIssuer, IssuerConfig

    repo = open_repo(tmp_path / "srv")
    try:
        def record(cid: str, course: str, credential: dict) -> CertificateRecord:
            return CertificateRecord(cid, "L1", "p", 1, course, "f1", "en",
                                     "2026-01-01T00:00:00.000Z", "e", "k", credential)

        good = {"credentialSubject": {"achievement": {"name": "Boundaries"}}}
        assert repo.insert_certificate(record(str(uuid.uuid4()), "broken", {"no": "subject"}))
        ok_id = str(uuid.uuid4())
        assert repo.insert_certificate(record(ok_id, "fine", good))
        issuer = CertificateIssuer(repo, Ed25519PrivateKey.generate(), IssuerConfig())
        issuer.deliver_pending()
        assert [c.course_id for c in repo.undelivered_certificates()] == ["broken"]
        events = [json.loads(e.content) for e in repo.scan_events(0, 10)]
        assert [(e["type"], e["ref"]["certificate"]) for e in events] == [("certificate.received", ok_id)]
    finally:
        repo.close()
