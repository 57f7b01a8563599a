"""The server decides what an observation is worth (app/core/practice/rules.py via
sync_server/services/evidence.py), holds a course certificate until its observed tasks
are there, and issues a programme certificate exactly once (services/programmes.py,
programme_issuing.py). Real SQLite and PostgreSQL repositories, the push hook called as the push service
calls it (with the events a push newly stored)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.core.certificates import verify_credential
from app.core.events import content_of, validate_event
from app.core.packs import build_pack
from sync_server.app import create_app
from sync_server.db.repository import EventRow, Learner
from sync_server.services.certificate_audit import judge
from sync_server.services.issuing import CertificateIssuer, IssuerConfig, certificate_event
from sync_server.services.packs import ingest_pack_file
from sync_server.settings import Settings
from tests.support.learner_work import study
from tests.support.postgres import database_url  # noqa: F401 - fixture
from tests.support.practice_pack import PACK, PROGRAMME, make_pack_source

BASE = "https://learning.example.org"
T0 = "2026-01-05T10:00:00.000Z"
LINA = str(uuid.UUID(int=1))
MARIUS = str(uuid.UUID(int=2))      # mentor, facility f1
OTTO = str(uuid.UUID(int=3))        # mentor, facility f2
PETRA = str(uuid.UUID(int=4))       # prison officer, f1 (not a mentor)
TRAINER = str(uuid.UUID(int=5))     # trainer, f1


@pytest.fixture
def srv(tmp_path: Path, database_url: str | None) -> Any:  # noqa: F811 - the fixture
    """SQLite and PostgreSQL (tests/support/postgres.py), the same tests."""
    state = create_app(Settings(data_dir=tmp_path / "srv", public_base_url=BASE,
                                database_url=database_url)).state.shift
    pack = build_pack(make_pack_source(tmp_path / "src"), state.keyring.private_key,
                      tmp_path / "out")
    ingest_pack_file(state.repo, state.keyring, state.blobs, pack, "boss")
    for fid in ("f1", "f2"):
        state.repo.create_facility(fid, fid, T0)
    state.repo.publish(PACK, 1, ["f1"], [], "boss", T0)
    for lid, staff, fid, role in ((LINA, "L1", "f1", "prison_officer"),
                                  (MARIUS, "M1", "f1", "mentor"), (OTTO, "O1", "f2", "mentor"),
                                  (PETRA, "P1", "f1", "prison_officer"),
                                  (TRAINER, "T1", "f1", "trainer")):
        state.repo.save_profile(Learner(lid, staff, fid, role, "en", staff, None, T0))
    state.issuer = CertificateIssuer(state.repo, state.keyring.private_key,
                                     IssuerConfig(public_base_url=BASE))
    state.issuer.on_stored([])           # the first push of a process also catches up
    yield state
    state.repo.close()


SEQ = iter(range(10_000, 1_000_000))


def push(state: Any, events: list[dict[str, Any]], device: str = "tab") -> list[Any]:
    """Store events as the push service does, then run the push hook on them."""
    rows = []
    for e in events:
        validate_event(e)
        rows.append(EventRow(id=e["id"], learner_id=e["learner"], device_id=device,
                             facility_id="f1", type=e["type"], at=e["at"],
                             content=content_of(e).decode(), received_at=e["at"],
                             received_from=device))
    state.repo.insert_events(rows)
    return list(state.issuer.on_stored(events))


def observed(task: str, mentor: str, *, course: str = "c1", learner: str = LINA,
             checklist: tuple[str, ...] = ("a", "b"), day: str = "2026-03-02",
             version: int = 1) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "learner": learner, "device": "tab-b", "seq": next(SEQ),
            "at": "2026-03-02T12:00:00.000Z", "type": "practice.observed", "pack": PACK,
            "pack_version": version, "ref": {"course": course, "task": task, "mentor": mentor},
            "data": {"date": day, "checklist": list(checklist)}}


def manifest(state: Any) -> dict[str, Any]:
    return dict(json.loads(state.repo.get_pack_version(PACK, 1).manifest))


def passed(state: Any, course: str, learner: str = LINA) -> list[dict[str, Any]]:
    return study(manifest(state), learner, course, device="tab-a",
                 first_seq=next(SEQ))


def course_certs(state: Any, course: str = "c1") -> list[Any]:
    return [c for c in state.repo.list_certificates() if c.course_id == course]


def test_a_passed_course_waits_for_its_observed_tasks(srv: Any) -> None:
    assert push(srv, passed(srv, "c1")) == []
    assert course_certs(srv) == []
    assert push(srv, [observed("t1", MARIUS)]) == []          # one of two
    (cert,) = push(srv, [observed("t2", TRAINER)])            # a trainer counts too
    assert cert.course_id == "c1"
    assert verify_credential(cert.credential, [srv.keyring.private_key.public_key()]).genuine
    assert push(srv, [observed("t3", MARIUS)]) == []          # exactly once
    assert len(course_certs(srv)) == 1


def test_the_same_task_twice_is_one_task(srv: Any) -> None:
    push(srv, passed(srv, "c1"))
    push(srv, [observed("t1", MARIUS), observed("t1", TRAINER)])
    assert course_certs(srv) == []


def test_observations_first_then_the_course(srv: Any) -> None:
    """Parts may arrive in any order (another tablet synced first)."""
    push(srv, [observed("t1", MARIUS), observed("t3", MARIUS)])
    (cert,) = push(srv, passed(srv, "c1"))
    assert cert.course_id == "c1"


@pytest.mark.parametrize("name, event", [
    ("self", lambda: observed("t2", LINA)),
    ("learner-role colleague", lambda: observed("t2", PETRA)),
    ("mentor of another facility", lambda: observed("t2", OTTO)),
    ("unknown mentor", lambda: observed("t2", str(uuid.uuid4()))),
    ("task not in the pack", lambda: observed("t9", MARIUS)),
    ("task of another course", lambda: observed("u1", MARIUS)),
    ("checklist incomplete", lambda: observed("t2", MARIUS, checklist=("a",))),
    ("unknown checklist item only", lambda: observed("t2", MARIUS, checklist=("z", "y"))),
    ("date after the event", lambda: observed("t2", MARIUS, day="2026-03-05")),
    ("version never published", lambda: observed("t2", MARIUS, version=7)),
])
def test_a_worthless_observation_is_stored_but_counts_for_nothing(srv: Any, name: str,
                                                                  event: Any) -> None:
    push(srv, passed(srv, "c1") + [observed("t1", MARIUS)])
    forged = event()
    assert push(srv, [forged]) == [], name
    assert course_certs(srv) == []
    stored = {json.loads(e.content)["id"] for e in srv.repo.learner_events(LINA)}
    assert forged["id"] in stored                         # kept as pushed: the server decides
    checks = {c.event: c.reason for c in srv.issuer.evidence.observations(
        srv.repo.get_learner(LINA), PACK)}
    assert checks[forged["id"]] is not None


def test_a_mentor_moved_to_another_facility_no_longer_counts(srv: Any) -> None:
    push(srv, passed(srv, "c1") + [observed("t1", MARIUS)])
    srv.repo.move_learner(TRAINER, "f2", "2026-01-06T10:00:00.000Z")
    push(srv, [observed("t2", TRAINER)])
    assert course_certs(srv) == []


def assessment(learner: str = LINA, rated: tuple[str, ...] = ("p1", "p2")
               ) -> list[dict[str, Any]]:
    aid = str(uuid.uuid4())

    def ev(etype: str, ref: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "learner": learner, "device": "tab-b",
                "seq": next(SEQ), "at": "2026-03-03T09:00:00.000Z", "type": etype,
                "pack": PACK, "pack_version": 1, "ref": {"profile": "officer",
                                                         "assessment": aid, **ref},
                "data": data}
    return ([ev("selfassessment.started", {}, {"role": "prison_officer"})]
            + [ev("selfassessment.rated", {"task": t, "duty": "d"}, {"level": 2})
               for t in rated]
            + [ev("selfassessment.completed", {}, {})])


def programme_certs(state: Any) -> list[Any]:
    return [c for c in state.repo.list_certificates() if c.course_id == f"programme:{PROGRAMME}"]


def test_the_programme_certificate_is_issued_once_when_its_last_part_arrives(srv: Any) -> None:
    push(srv, passed(srv, "c1") + [observed("t1", MARIUS), observed("t2", MARIUS)])
    push(srv, passed(srv, "c2"))
    assert {c.course_id for c in srv.repo.list_certificates()} == {"c1", "c2"}
    assert programme_certs(srv) == []                          # self-assessment missing
    push(srv, assessment(rated=("p1",)))                       # not every task rated
    assert programme_certs(srv) == []
    issued = push(srv, assessment())
    (prog,) = programme_certs(srv)
    assert [c.id for c in issued] == [prog.id]
    achievement = prog.credential["credentialSubject"]["achievement"]
    assert achievement["id"] == f"{BASE}/achievements/{PACK}/programmes/{PROGRAMME}"
    assert achievement["achievementType"] == "LearningProgram"
    assert "Course c1" in achievement["criteria"]["narrative"]
    assert verify_credential(prog.credential, [srv.keyring.private_key.public_key()]).genuine
    assert prog.credential["credentialStatus"]["statusListCredential"] == f"{BASE}/status/1"
    # delivered as a certificate.received naming the programme
    event = certificate_event(prog)
    assert event["ref"] == {"certificate": prog.id, "programme": PROGRAMME}
    delivered = [json.loads(e.content) for e in srv.repo.learner_events(LINA)
                 if json.loads(e.content)["type"] == "certificate.received"]
    assert content_of(event) in {content_of(e) for e in delivered}
    # more parts, repeats, a restart's catch-up: still one
    push(srv, assessment() + [observed("t3", MARIUS)] + passed(srv, "c2"))
    srv.issuer._caught_up = False
    srv.issuer.repo.advance_scan_cursor("completed", 0)
    srv.issuer.catch_up()
    assert len(programme_certs(srv)) == 1
    # the audit judges it again and keeps it
    findings = {f.certificate.id: f.code for f in judge(srv.repo)}
    assert findings[prog.id] == "verified"


def test_the_programme_waits_for_its_observed_tasks(srv: Any) -> None:
    """c1's own two observations are also the programme's two: one more course is not
    enough without them."""
    push(srv, passed(srv, "c2") + assessment())
    push(srv, passed(srv, "c1") + [observed("t1", MARIUS)])
    assert programme_certs(srv) == [] and course_certs(srv) == []
    push(srv, [observed("t1", OTTO)])                          # worthless: another facility
    assert programme_certs(srv) == []
    push(srv, [observed("t2", MARIUS)])
    assert len(course_certs(srv)) == 1 and len(programme_certs(srv)) == 1


def test_a_revoked_course_certificate_does_not_complete_a_programme(srv: Any) -> None:
    push(srv, passed(srv, "c1") + [observed("t1", MARIUS), observed("t2", MARIUS)])
    (c1,) = course_certs(srv)
    srv.repo.revoke_certificate(c1.id, by="boss", reason="issued in error",
                                now="2026-03-03T00:00:00.000Z")
    push(srv, passed(srv, "c2") + assessment())
    assert programme_certs(srv) == []


def test_a_programme_not_published_to_the_learner_is_not_issued(srv: Any) -> None:
    """A learner of f2 (the pack is published only to f1) gets nothing, whatever they push."""
    other = str(uuid.UUID(int=9))
    srv.repo.save_profile(Learner(other, "X1", "f2", "prison_officer", "en", "X", None, T0))
    push(srv, passed(srv, "c1", other) + passed(srv, "c2", other) + assessment(other)
         + [observed("t1", OTTO, learner=other), observed("t2", OTTO, learner=other)])
    assert srv.repo.list_certificates() == []


def test_a_programme_certificate_comes_back_after_a_restore(srv: Any) -> None:
    """A tablet offers the delivery back (docs/sync-protocol.md §4.5): the server stores the
    programme certificate again under its own id; a tampered one is not taken."""
    push(srv, passed(srv, "c1") + [observed("t1", MARIUS), observed("t2", MARIUS)])
    push(srv, passed(srv, "c2") + assessment())
    (prog,) = programme_certs(srv)
    event = certificate_event(prog)
    with srv.repo._write() as cur:           # as if restored from a backup before it
        cur.execute(srv.repo._sql("DELETE FROM certificates WHERE id = ?"), (prog.id,))
    forged = json.loads(json.dumps(event))
    forged["ref"]["programme"] = "another"
    assert srv.issuer.recover(forged) is None
    assert srv.issuer.is_own_event(event)
    back = srv.issuer.recover(event)
    assert back is not None and back.id == prog.id and back.course_id == prog.course_id
    assert programme_certs(srv)[0].credential == prog.credential
