"""Certificates the server can stand behind (issue 13), on a real server, SQLite and
PostgreSQL:

* attack row 1 — a bare ``course.completed``, claimed scores without answers, wrong
  answers claimed as a pass, a shrunk draw, work on a pack never published to the
  learner's facility or role: no certificate, and nothing else changes (the work is
  stored, no ``certificate.received``, no status list entry, the refusal is logged with
  its reason). An honest learner gets one, with the server's score and received time;
* the credential is standards-true: checked here with an independent JCS (``rfc8785``)
  and ``cryptography`` — not the project's code —, issuer = the proof key's controller
  (did:key), issuer / achievement / status list ids resolve to JSON, no empty arrays, no
  staff number (no brute-forceable hash);
* revocation: Bitstring Status List bit, ``/verify``, a tablet after its sync, the CLI,
  and the audit command (dry run by default, ``--apply`` revokes).
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sync_server.db.repository import CertificateRecord
from tests.integration.test_admin_certificates import pull_all, upload_and_publish
from tests.support.learner_work import server_manifest, study
from tests.support.postgres import (  # noqa: F401 - database_url: parametrised fixture
    BACKENDS,
    url_for_backend,
)
from tests.support.server import (
    ROOT,
    admin_token,
    bearer,
    enrol_device,
    make_event,
    make_profile,
    open_repo,
    running_server,
    seed,
)

PACK = "promote-sample"
COURSE = "boundaries"


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[dict[str, Any]]:
    """promote-sample v1 published to f1 (every role) and to f2 for reintegration
    specialists only; f3 has no publication."""
    url = url_for_backend(request.param)
    data = tmp_path_factory.mktemp("trust") / "srv"
    seed(data, url, facilities={"f1": "Vilnius", "f2": "Iasi", "f3": "Kaunas"})
    with running_server(data, url) as base:
        token = admin_token(base)
        upload_and_publish(base, token, ["f1"])
        r = httpx.post(f"{base}/api/v1/admin/packs/{PACK}/publish", headers=bearer(token),
                       json={"version": 1, "facilities": ["f2"],
                             "roles": ["reintegration_specialist"]})
        assert r.status_code == 201, r.text
        devices = {f: enrol_device(base, token, f, f"tab-{f}-{request.param}")
                   for f in ("f1", "f2", "f3")}
        manifest = server_manifest(base, devices["f1"].headers, PACK, 1)
        yield {"base": base, "data": data, "url": url, "token": token, "devices": devices,
               "manifest": manifest}


def push(srv: dict[str, Any], facility: str, events: list[dict[str, Any]],
         profiles: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    r = httpx.post(f"{srv['base']}/api/v1/sync/push", headers=srv["devices"][facility].headers,
                   json={"profiles": list(profiles), "events": events}, timeout=60)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    assert answer["stored"] == [e["id"] for e in events], answer   # the work is kept
    return answer


def certificates_of(srv: dict[str, Any], learner: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{srv['base']}/api/v1/admin/certificates",
                       headers=bearer(srv["token"])).json()
    return [c for c in listed if c["learner_id"] == learner]


def received_by(srv: dict[str, Any], facility: str, learner: str) -> list[dict[str, Any]]:
    return [e for e in pull_all(srv["base"], srv["devices"][facility].headers)
            if e["type"] == "certificate.received" and e["learner"] == learner]


def server_log(srv: dict[str, Any]) -> str:
    return (Path(srv["data"]) / "server.log").read_text(errors="replace")


def certified(srv: dict[str, Any], facility: str, learner: str) -> dict[str, Any]:
    (event,) = received_by(srv, facility, learner)
    return dict(event["data"]["credential"])


# --------------------------------------------------------------------- attack row 1
def test_claims_without_verifiable_work_issue_nothing(srv: dict[str, Any]) -> None:
    manifest = srv["manifest"]
    cases: dict[str, tuple[str, str, list[dict[str, Any]]]] = {}

    def case(name: str, facility: str, make: Any, role: str = "prison_officer") -> None:
        profile = make_profile(name=f"Case {name}", role=role)
        cases[name] = (facility, profile["id"], [])
        events = make(profile["id"])
        push(srv, facility, events, [profile])
        cases[name][2].extend(events)

    def bare(learner: str) -> list[dict[str, Any]]:
        return [make_event(learner, "tab-x", 1, type="course.completed", pack=PACK,
                           pack_version=1, ref={"course": COURSE}, data={"score": 100})]

    def claimed(learner: str) -> list[dict[str, Any]]:
        honest = study(manifest, learner, COURSE)
        claims = [e for e in honest if e["type"] not in ("answer.given", "quiz.started")]
        return claims                                     # "passed 100", no answers

    def lied(learner: str) -> list[dict[str, Any]]:
        work = study(manifest, learner, COURSE, answers="wrong")
        sub = next(e for e in work if e["type"] == "quiz.submitted")
        sub["data"].update(score=100, passed=True)
        done = make_event(learner, "tab-1", 999, type="course.completed", pack=PACK,
                          pack_version=1, ref={"course": COURSE}, data={"score": 100},
                          at="2026-03-02T09:00:00.000Z")
        return [*work, done]

    def shrunk(learner: str) -> list[dict[str, Any]]:
        work = study(manifest, learner, COURSE)
        started = next(e for e in work if e["type"] == "quiz.started")
        first = started["data"]["questions"][:1]
        started["data"]["questions"] = first
        keep = set(first) | {p["id"] for q in manifest["courses"][0]["quiz"]["questions"]
                             if q["id"] in first for p in q.get("parts", [])}
        return [e for e in work if e["type"] != "answer.given" or e["ref"]["question"] in keep]

    def unpublished_version(learner: str) -> list[dict[str, Any]]:
        work = study(manifest, learner, COURSE)
        for e in work:
            e["pack_version"] = 7                          # never uploaded
        return work

    def honest(learner: str) -> list[dict[str, Any]]:
        return study(manifest, learner, COURSE)

    case("bare", "f1", bare)
    case("claimed", "f1", claimed)
    case("lied", "f1", lied)
    case("shrunk", "f1", shrunk)
    case("version", "f1", unpublished_version)
    case("facility", "f3", honest)                         # never published to f3
    case("role", "f2", honest)                             # f2: only for another role
    repo = open_repo(srv["data"], srv["url"])
    try:
        lists_before = repo.max_status_list()
    finally:
        repo.close()

    for name, (facility, learner, events) in cases.items():
        assert certificates_of(srv, learner) == [], name
        assert received_by(srv, facility, learner) == [], name
        stored = [e for e in pull_all(srv["base"], srv["devices"][facility].headers)
                  if e["learner"] == learner]
        assert sorted(e["id"] for e in stored) == sorted(e["id"] for e in events), name
    log = server_log(srv)
    for learner_id, code in ((cases["bare"][1], "lessons_incomplete"),
                             (cases["claimed"][1], "no_passed_attempt"),
                             (cases["lied"][1], "no_passed_attempt"),
                             (cases["shrunk"][1], "no_passed_attempt"),
                             (cases["version"][1], "not_published"),
                             (cases["facility"][1], "not_published"),
                             (cases["role"][1], "not_published")):
        assert any(learner_id in line and code in line for line in log.splitlines()), code
    repo = open_repo(srv["data"], srv["url"])
    try:
        assert repo.max_status_list() == lists_before
    finally:
        repo.close()

    # the same work by a learner of the role the publication names is certified
    case("right role", "f2", honest, role="reintegration_specialist")
    assert len(certificates_of(srv, cases["right role"][1])) == 1


def test_honest_work_gets_the_servers_score_and_time(srv: dict[str, Any]) -> None:
    profile = make_profile(name="Rasa Petrauskienė")
    work = study(srv["manifest"], profile["id"], COURSE, answers="half")
    submitted = next(e for e in work if e["type"] == "quiz.submitted")
    server_score = submitted["data"]["score"]
    submitted["data"]["score"] = 100                       # the device claims more
    work[-1]["data"]["score"] = 100
    answer = push(srv, "f1", work, [profile])
    credential = certified(srv, "f1", profile["id"])
    achievement_id = credential["credentialSubject"]["achievement"]["id"]
    assert credential["credentialSubject"]["result"] == [
        {"type": ["Result"], "value": f"{server_score:.2f}".rstrip("0").rstrip("."),
         "resultDescription": f"{achievement_id}#quiz-score"}]
    assert credential["awardedDate"] == answer["received_at"]
    assert credential["awardedDate"] != work[-1]["at"]      # not the device's clock
    (listed,) = certificates_of(srv, profile["id"])
    repo = open_repo(srv["data"], srv["url"])
    try:
        record = repo.get_certificate(listed["id"])
        assert record.source_event == work[-1]["id"]
    finally:
        repo.close()


# --------------------------------------------------------------------- standards
def _b58decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number = 0
    for ch in text:
        number = number * 58 + alphabet.index(ch)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


def independent_verify(document: dict[str, Any]) -> bytes:
    """W3C eddsa-jcs-2022 verification with rfc8785 + cryptography only; returns the raw
    public key named by the proof (raises on a bad proof)."""
    proof = dict(document["proof"])
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof.get("@context", document["@context"]) == document["@context"]
    signature = _b58decode(proof.pop("proofValue")[1:])
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    hash_data = (hashlib.sha256(rfc8785.dumps(proof)).digest()
                 + hashlib.sha256(rfc8785.dumps(unsecured)).digest())
    did, _, fragment = proof["verificationMethod"].partition("#")
    assert did.startswith("did:key:z") and fragment == did.removeprefix("did:key:")
    multicodec = _b58decode(did.removeprefix("did:key:z"))
    assert multicodec[:2] == b"\xed\x01" and len(multicodec) == 34
    Ed25519PublicKey.from_public_bytes(multicodec[2:]).verify(signature, hash_data)
    issuer = document["issuer"]
    assert (issuer["id"] if isinstance(issuer, dict) else issuer) == did, \
        "issuer must be the controller of the verification method"
    return multicodec[2:]


def no_empty_arrays(value: Any, where: str = "$") -> None:
    if isinstance(value, list):
        assert value, f"{where}: empty array"
        for i, item in enumerate(value):
            no_empty_arrays(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            no_empty_arrays(item, f"{where}.{key}")


def test_the_credential_is_standards_true(srv: dict[str, Any]) -> None:
    base = srv["base"]
    profile = make_profile("LT-4242", name="Ona Kazlauskienė")
    push(srv, "f1", study(srv["manifest"], profile["id"], COURSE), [profile])
    credential = certified(srv, "f1", profile["id"])

    server_pub = serialization.load_pem_public_key(
        (Path(srv["data"]) / "keys" / "server.key.pub").read_bytes())
    raw = server_pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert independent_verify(credential) == raw
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["result"][0]["value"] = "99"
    with pytest.raises(InvalidSignature):
        independent_verify(tampered)

    no_empty_arrays(credential)
    text = json.dumps(credential)
    assert "LT-4242" not in text and "salt" not in text and "sha256$" not in text
    assert [i["identityType"] for i in credential["credentialSubject"]["identifier"]] == ["name"]
    assert credential["credentialSubject"]["id"] == f"urn:uuid:{profile['id']}"

    # every id resolves to JSON on this server
    issuer = httpx.get(f"{base}/issuer")
    assert issuer.status_code == 200 and issuer.json()["id"] == credential["issuer"]["id"]
    assert issuer.json()["type"] == ["Profile"]
    achievement = credential["credentialSubject"]["achievement"]
    doc = httpx.get(achievement["id"])
    assert doc.status_code == 200 and doc.headers["content-type"].startswith("application/ld+json")
    # the learner's language is the pack's default: the very same Achievement
    assert {k: v for k, v in doc.json().items() if k != "@context"} == achievement
    status = credential["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
    listed = httpx.get(status["statusListCredential"])
    assert listed.status_code == 200
    independent_verify(listed.json())
    for document in (issuer.json(), doc.json(), listed.json()):
        no_empty_arrays(document)
    for missing in (f"{base}/achievements/{PACK}/no-such-course",
                    f"{base}/achievements/no-such-pack/{COURSE}", f"{base}/status/9999"):
        r = httpx.get(missing)
        assert r.status_code == 404 and r.json()["detail"], missing


def revoked_bits(list_credential: dict[str, Any]) -> set[int]:
    """Decoded without the project's code: multibase 'u' + base64url, GZIP, MSB first."""
    encoded = list_credential["credentialSubject"]["encodedList"]
    assert encoded[0] == "u"
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(bits) >= 16 * 1024
    return {i for i in range(len(bits) * 8) if bits[i // 8] & (0x80 >> (i % 8))}


# --------------------------------------------------------------------- revocation
def test_revocation_reaches_the_status_list_verify_and_a_tablet(
        srv: dict[str, Any], tmp_path: Path) -> None:
    from app.ui.main import open_device

    base = srv["base"]
    keep, revoke = make_profile(name="Kept"), make_profile(name="Revoked")
    for p in (keep, revoke):
        push(srv, "f1", study(srv["manifest"], p["id"], COURSE), [p])
    kept_cred, gone_cred = (certified(srv, "f1", p["id"]) for p in (keep, revoke))
    kept_id, gone_id = (c["id"].removeprefix("urn:uuid:") for c in (kept_cred, gone_cred))
    list_url = gone_cred["credentialStatus"]["statusListCredential"]
    gone_index = int(gone_cred["credentialStatus"]["statusListIndex"])
    kept_index = int(kept_cred["credentialStatus"]["statusListIndex"])
    assert gone_index not in revoked_bits(httpx.get(list_url).json())

    tablet = open_device(tmp_path / "tablet")
    try:
        tablet.set_setting("server_url", base)
        code = httpx.post(f"{base}/api/v1/admin/enrol-codes", headers=bearer(srv["token"]),
                          json={"facility_id": "f1"}).json()["code"]
        tablet.sync_now(enrol_code=code)

        def shown(cred: dict[str, Any], learner: str) -> str:
            return str(tablet.certificates.check(cred, learner=learner,
                                                certificate_id=cred["id"]).shown)
        assert shown(gone_cred, revoke["id"]) == shown(kept_cred, keep["id"]) == "verified"
        assert shown(gone_cred, keep["id"]) == "unverified"      # not hers

        r = httpx.post(f"{base}/api/v1/admin/certificates/{gone_id}/revoke",
                       headers=bearer(srv["token"]), json={"reason": "issued in error"})
        assert r.status_code == 204
        bits = revoked_bits(httpx.get(list_url).json())
        assert gone_index in bits and kept_index not in bits
        answer = httpx.get(f"{base}/verify/{gone_id}", headers={"Accept": "application/json"})
        assert (answer.json()["status"], answer.json()["revoked"]) == ("revoked", True)
        kept = httpx.get(f"{base}/verify/{kept_id}", headers={"Accept": "application/json"})
        assert kept.json()["status"] == "genuine"
        assert shown(gone_cred, revoke["id"]) == "verified"      # not synced yet
        tablet.sync_now()
        assert shown(gone_cred, revoke["id"]) == "revoked"
        assert shown(kept_cred, keep["id"]) == "verified"
    finally:
        tablet.close()                  # stops the sync client's loop first


def cli(srv: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "sync_server", "certificate", *args, "--data-dir",
           str(srv["data"])]
    if srv["url"]:
        cmd += ["--database-url", srv["url"]]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_revokes_once(srv: dict[str, Any]) -> None:
    profile = make_profile(name="CLI")
    push(srv, "f1", study(srv["manifest"], profile["id"], COURSE), [profile])
    (listed,) = certificates_of(srv, profile["id"])
    done = cli(srv, "revoke", listed["id"], "--reason", "left the service")
    assert done.returncode == 0, done.stderr
    again = cli(srv, "revoke", listed["id"], "--reason", "twice")
    assert again.returncode == 1 and "already revoked" in again.stderr
    (after,) = certificates_of(srv, profile["id"])
    assert after["revoke_reason"] == "left the service"          # the first reason stays
    assert cli(srv, "revoke", "not-a-uuid", "--reason", "x").returncode == 1
    assert listed["id"] in cli(srv, "list").stdout


def test_audit_finds_certificates_the_old_rule_issued(srv: dict[str, Any]) -> None:
    """A certificate an older server issued for a bare completion is listed by the dry
    run (nothing changes) and revoked by --apply; an honest one is kept."""
    legacy, honest = make_profile(name="Legacy"), make_profile(name="Honest")
    bare = make_event(legacy["id"], "tab-1", 1, type="course.completed", pack=PACK,
                      pack_version=1, ref={"course": COURSE}, data={"score": 95})
    push(srv, "f1", [bare], [legacy])
    push(srv, "f1", study(srv["manifest"], honest["id"], COURSE), [honest])
    legacy_id = str(uuid.uuid4())
    repo = open_repo(srv["data"], srv["url"])
    try:       # what the old rule stored (no status entry: issued before schema 3)
        assert repo.insert_certificate(CertificateRecord(
            legacy_id, legacy["id"], PACK, 1, COURSE, "f1", "en", "2026-01-01T00:00:00.000Z",
            bare["id"], "k", {"credentialSubject": {
                "result": [{"type": ["Result"], "value": "95"}],
                "achievement": {"name": "Professional boundaries"}}}))
    finally:
        repo.close()

    dry = cli(srv, "audit")
    assert dry.returncode == 0, dry.stderr
    flagged = [line for line in dry.stdout.splitlines() if line.startswith("UNVERIFIED")]
    assert any(legacy_id in line and "lessons_incomplete" in line for line in flagged), dry.stdout
    (honest_cert,) = certificates_of(srv, honest["id"])
    assert not any(honest_cert["id"] in line for line in flagged)
    assert "Dry run: nothing changed" in dry.stdout
    assert [c["revoked_at"] for c in certificates_of(srv, legacy["id"])] == [None]

    applied = cli(srv, "audit", "--apply")
    assert applied.returncode == 0, applied.stderr
    (gone,) = certificates_of(srv, legacy["id"])
    assert gone["revoke_reason"] == "not verified by the server: lessons_incomplete"
    assert certificates_of(srv, honest["id"])[0]["revoked_at"] is None
    verify = httpx.get(f"{srv['base']}/verify/{legacy_id}", headers={"Accept": "application/json"})
    assert verify.json()["revoked"] is True
    assert "0 certificate(s) revoked" in cli(srv, "audit", "--apply").stdout
