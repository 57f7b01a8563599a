"""After a restore, a tablet offers back the `certificate.received` events of certificates
issued after the backup; the server stores such a certificate again under its own id —
only when it is exactly what this server issued (sync_server/services/issuing.py recover).
Real SQLite repositories; the tablets' side is tests/unit/test_sync_recovery.py."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.core.events import content_of, validate_event
from app.core.packs import build_pack, generate_keypair
from sync_server.app import create_app
from sync_server.db.repository import EventRow, Learner
from sync_server.services.issuing import CertificateIssuer, IssuerConfig, certificate_event
from sync_server.services.packs import ingest_pack_file
from sync_server.settings import Settings
from tests.support.learner_work import study
from tests.support.server import ROOT

BASE = "https://learning.example.org"
T0 = "2026-01-05T10:00:00.000Z"
RASA = "0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11"
JONAS = "1c6b4f8f-8f1f-4d3b-8e66-6e2c1b8d0f22"


def server(tmp: Path, name: str, key_from: Any = None) -> Any:
    """A server with the sample pack, facility f1 and two learners; `key_from` reuses
    another server's signing key (a restored server keeps its key)."""
    data = tmp / name
    if key_from is not None:
        (data / "keys").mkdir(parents=True)
        (data / "keys" / "server.key").write_bytes(
            (key_from.settings.key_dir / "server.key").read_bytes())
    state = create_app(Settings(data_dir=data, public_base_url=BASE)).state.shift
    pack = build_pack(ROOT / "content_packs" / "promote-sample", state.keyring.private_key,
                      tmp / f"{name}.pack")
    ingest_pack_file(state.repo, state.keyring, state.blobs, pack, "boss")
    state.repo.create_facility("f1", "Vilnius", T0)
    state.repo.publish("promote-sample", 1, ["f1"], [], "boss", T0)
    for lid, staff in ((RASA, "LT-1"), (JONAS, "LT-2")):
        state.repo.save_profile(Learner(lid, staff, "f1", "prison_officer", "lt", "Rasa", None, T0))
    return state


def completion(repo: Any, learner: str = RASA) -> dict[str, Any]:
    """Store a passed attempt of the course (as the learning engine makes it) and return
    its course.completed (the server issues only for work it can re-score)."""
    manifest = json.loads(repo.get_pack_version("promote-sample", 1).manifest)
    work = [validate_event(e) for e in study(manifest, learner, "boundaries", device="tab")]
    repo.insert_events([EventRow(
        id=e["id"], learner_id=learner, device_id="tab", facility_id="f1", type=e["type"],
        at=e["at"], content=content_of(e).decode(), received_at=e["at"], received_from="tab")
        for e in work])
    return next(e for e in work if e["type"] == "course.completed")


@pytest.fixture
def issued(tmp_path: Path) -> Any:
    """The original server issued a certificate; the restored one (same key, the backup
    from before) does not have it."""
    original = server(tmp_path, "original")
    record = CertificateIssuer(original.repo, original.keyring.private_key,
                               IssuerConfig(public_base_url=BASE)).issue_for(completion(original.repo), BASE)
    assert record is not None
    restored = server(tmp_path, "restored", key_from=original)
    issuer = CertificateIssuer(restored.repo, restored.keyring.private_key,
                               IssuerConfig(public_base_url=BASE))
    yield record, certificate_event(record), issuer, restored.repo
    original.repo.close()
    restored.repo.close()


def test_the_offered_certificate_comes_back_under_its_own_id(issued: Any) -> None:
    record, event, issuer, repo = issued
    back = issuer.recover(copy.deepcopy(event))
    assert back is not None and back.id == record.id
    stored = repo.get_certificate(record.id)
    assert stored.credential == record.credential
    same = ("learner_id", "pack_id", "pack_version", "course_id", "facility_id", "language",
            "issued_at", "key_id")
    assert all(getattr(stored, f) == getattr(record, f) for f in same)
    assert stored.source_event == event["id"] and stored.delivered_at is not None
    assert issuer.recover(copy.deepcopy(event)) is None          # known now: nothing to do
    assert repo.count_certificates() == 1


def test_the_push_hook_recovers_before_it_issues(issued: Any) -> None:
    """Certificates come first in a re-offer: the completion after it issues nothing new."""
    record, event, issuer, repo = issued
    assert issuer.on_stored([copy.deepcopy(event), completion(repo)]) == []
    assert [c.id for c in repo.list_certificates()] == [record.id]


def _other_key(event: dict[str, Any], issuer: CertificateIssuer, repo: Any) -> None:
    private, _ = generate_keypair()
    forged = CertificateIssuer(repo, private, IssuerConfig(public_base_url=BASE))
    record = forged.issue_for(completion(repo, JONAS), BASE)
    event.clear()
    event.update(certificate_event(record))
    with repo._write() as cur:   # issue_for stored it; the restored server must not have it
        cur.execute("DELETE FROM certificates WHERE id = ?", (record.id,))


TAMPERED = {
    "signed by another key": _other_key,
    "another learner": lambda e, i, r: e.update(learner=JONAS),
    "another course": lambda e, i, r: e["ref"].update(course="other-course"),
    "changed credential": lambda e, i, r: e["data"]["credential"].update(name="Forged"),
    "changed title": lambda e, i, r: e["data"].update(title="Forged"),
    "changed time": lambda e, i, r: e.update(at="2026-02-01T00:00:00.000Z"),
    "changed id": lambda e, i, r: e.update(id=str(uuid.uuid4())),
    "ref not the credential": lambda e, i, r: e["ref"].update(certificate=str(uuid.uuid4())),
    "no credential": lambda e, i, r: e["data"].pop("credential"),
    "credential not an object": lambda e, i, r: e["data"].update(credential="x"),
    "unknown learner": lambda e, i, r: e.update(learner=str(uuid.uuid4())),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_anything_else_is_not_recovered(case: str, issued: Any) -> None:
    _record, event, issuer, repo = issued
    event = copy.deepcopy(event)
    TAMPERED[case](event, issuer, repo)
    assert issuer.recover(event) is None
    assert repo.count_certificates() == 0


def test_an_erasure_while_a_course_is_judged_leaves_no_certificate(tmp_path: Path) -> None:
    """The issuer reads the learner, judges the course (reading their history), then
    stores the certificate — whose credential names them. An erasure that commits
    between the judgement and the insert is found by the insert (it waits for the
    erasure's lock and sees its tombstone): not issued, nothing naming them is kept."""
    from sync_server.services import erasure
    from sync_server.services.issuing import NotIssued
    state = server(tmp_path, "one")
    event = completion(state.repo)
    issuer = CertificateIssuer(state.repo, state.keyring.private_key,
                               IssuerConfig(public_base_url=BASE))
    judge = issuer.evidence.verdict

    def judged_then_erased(*args: Any) -> Any:
        found = judge(*args)
        assert found.verdict.ok
        erasure.erase_learner(repo=state.repo, learner_id=RASA, by="boss")
        return found
    issuer.evidence.verdict = judged_then_erased            # type: ignore[method-assign]
    with pytest.raises(NotIssued) as refused:
        issuer.issue_for(event, BASE)
    assert refused.value.reason == "erased"
    assert state.repo.list_certificates(learner_id=RASA) == []
    issuer.evidence.verdict = judge                         # type: ignore[method-assign]
    assert issuer._issue_all([event], BASE) == []           # the push hook: logged, no crash
    state.repo.close()


def test_a_certificate_offered_back_for_a_learner_erased_meanwhile_is_not_kept(
        issued: Any) -> None:
    record, event, issuer, repo = issued
    from sync_server.services import erasure
    real = issuer._recovered_record

    def checked_then_erased(offered: dict[str, Any]) -> Any:
        found = real(offered)
        assert found is not None
        erasure.erase_learner(repo=repo, learner_id=RASA, by="boss")
        return found
    issuer._recovered_record = checked_then_erased          # type: ignore[method-assign]
    assert issuer.recover(event) is None
    assert repo.list_certificates(learner_id=RASA) == []


def test_a_certificate_is_delivered_to_the_facility_its_learner_is_in_now(
        tmp_path: Path) -> None:
    """Issued in f1, delivered after the learner moved to f2 — once moved before the
    delivery looked, once between its look-up and its insert (found under the insert's
    lock, looked up again): the event is where the learner's tablets pull now."""
    state = server(tmp_path, "one")
    repo = state.repo
    repo.create_facility("f2", "Kaunas", T0)
    issuer = CertificateIssuer(repo, state.keyring.private_key,
                               IssuerConfig(public_base_url=BASE))
    first = issuer.issue_for(completion(repo, RASA), BASE)
    second = issuer.issue_for(completion(repo, JONAS), BASE)
    assert first is not None and second is not None
    repo.move_learner(RASA, "f2", T0)
    issuer.deliver(first)
    real = repo.get_learner

    def looked_up_then_moved(learner_id: str) -> Any:
        found = real(learner_id)
        if learner_id == JONAS and found.facility_id == "f1":
            repo.move_learner(JONAS, "f2", T0)
        return found
    repo.get_learner = looked_up_then_moved                 # type: ignore[method-assign]
    issuer.deliver(second)
    delivered = {json.loads(e.content)["id"] for e in repo.events_after("f2", 0, 1000)}
    assert {certificate_event(first)["id"], certificate_event(second)["id"]} <= delivered
    assert not {certificate_event(first)["id"], certificate_event(second)["id"]} & {
        json.loads(e.content)["id"] for e in repo.events_after("f1", 0, 1000)}
    assert all(c.delivered_at for c in repo.list_certificates(facility_id="f1"))
    repo.close()
