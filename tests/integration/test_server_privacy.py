"""Issue 15 on the server, against SQLite and PostgreSQL alike (real databases, the
service layer the API, console and CLI call): the audit log, erasure, the access export,
retention."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.core.clock import now_iso
from sync_server.db import open_repository
from sync_server.db.erasure import old_events_per_learner
from sync_server.db.repository import (
    AuditQuery,
    CertificateRecord,
    Device,
    Repository,
)
from sync_server.errors import AlreadyExistsError, NotFoundError, ServerError
from sync_server.services import (
    access_export,
    admin_auth,
    audit,
    certificates,
    devices,
    erasure,
    learners,
    retention,
)
from sync_server.services import summary as summary_service
from sync_server.services import sync as sync_service
from sync_server.services.queries import Queries
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures
from tests.support.server import make_event, make_profile

T0 = "2026-01-01T00:00:00.000Z"


@pytest.fixture
def repo(tmp_path: Path, database_url: str | None) -> Repository:  # noqa: F811
    r = open_repository(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    r.create_facility("f1", "Facility one", T0)
    r.create_facility("f2", "Facility two", T0)
    yield r
    r.close()


def device(repo: Repository, fac: str = "f1") -> Device:
    dev_id = f"dev-{uuid.uuid4().hex[:8]}"
    devices.create_enrol_code(repo=repo, facility_id=fac, ttl_s=600, by="boss")
    repo.create_enrol_code("h-" + dev_id, fac, "2999-01-01T00:00:00.000Z", "boss", T0)
    return repo.enrol_device("h-" + dev_id, dev_id, "tablet", "tok-" + dev_id, T0)


def learner_with_events(repo: Repository, dev: Device, name: str, n: int = 3,
                        at: str = "2026-01-01T09:00:00.000Z") -> tuple[str, list[str]]:
    profile = make_profile(name=name)
    events = [make_event(profile["id"], dev.id, i + 1, at=at) for i in range(n)]
    events.append(make_event(profile["id"], dev.id, n + 1, at=at, type="quiz.submitted",
                             ref={"course": "boundaries", "attempt": str(uuid.uuid4())},
                             data={"score": 80.0, "passed": True}))
    result = sync_service.push(repo, dev, events, [profile])
    assert len(result.stored) == n + 1, result.rejected
    return profile["id"], [e["id"] for e in events]


def certificate_for(repo: Repository, learner_id: str, name: str, index: int = 7) -> str:
    cid = str(uuid.uuid4())
    assert repo.insert_certificate(CertificateRecord(
        id=cid, learner_id=learner_id, pack_id="promote-core", pack_version=1,
        course_id="boundaries", facility_id="f1", language="en", issued_at=T0,
        source_event="e", key_id="k", credential={"credentialSubject": {"name": name}},
        status_list=1, status_index=index))
    return cid


def entries(repo: Repository, **kw: Any) -> list[Any]:
    return repo.audit_entries(AuditQuery(**kw))


# ------------------------------------------------------------------ audit log
def test_every_admin_action_is_audited_with_who_what_and_target(repo: Repository) -> None:
    admin_auth.create_admin(repo=repo, name="boss", password="correct horse battery")
    assert admin_auth.login(repo=repo, name="boss", password="correct horse battery",
                            session_ttl_s=60, address="10.0.0.1") is not None
    assert admin_auth.login(repo=repo, name="boss", password="wrong password!!",
                            session_ttl_s=60, address="10.0.0.1") is None
    made = learners.create_learner(repo=repo, staff_number="S-1", display_name="Rasa",
                                   role="prison_officer", language="en", facility_id="f1",
                                   setup_ttl_s=60, by="boss")
    lid = made.learner.id
    learners.reset_pin(repo=repo, learner_id=lid, setup_ttl_s=60, by="boss")
    learners.move_learner(repo=repo, learner_id=lid, facility_id="f2", by="boss")
    code = devices.create_enrol_code(repo=repo, facility_id="f1", ttl_s=60, by="boss")
    dev = device(repo)
    devices.revoke_device(repo=repo, device_id=dev.id, by="boss")
    cid = certificate_for(repo, lid, "Rasa")
    certificates.revoke_certificate(repo=repo, certificate_id=cid, by="boss", reason="error")
    access_export.export_zip(repo=repo, learner_id=lid, by="boss")
    erasure.erase_learner(repo=repo, learner_id=lid, by="boss")

    rows = entries(repo)
    got = [(e.actor, e.action, e.target) for e in reversed(rows)]
    assert ("server", "admin.create", "boss") in got
    assert ("boss", "admin.login", "") in got
    assert ("boss", "admin.login_failed", "") in got
    for action, target in (("learner.create", lid), ("learner.pin_reset", lid),
                           ("learner.move", lid), ("enrol_code.create", "f1"),
                           ("device.revoke", dev.id), ("certificate.revoke", cid),
                           ("learner.export", lid), ("learner.erase", lid)):
        assert ("boss", action, target) in got, action
    failed = next(e for e in rows if e.action == "admin.login_failed")
    assert failed.outcome == "refused" and failed.detail["address"] == "10.0.0.1"
    # no secret, no name, no staff number anywhere in the log
    text = json.dumps([e.__dict__ for e in rows])
    for secret in ("correct horse", "wrong password", code.code, made.setup.code, "Rasa",
                   "S-1"):
        assert secret not in text
    move = next(e for e in rows if e.action == "learner.move")
    assert move.detail == {"from": "f1", "to": "f2"} and move.learner_id == lid


def test_the_audit_log_cannot_be_updated(repo: Repository) -> None:
    repo.record_audit(audit.entry("boss", "facility.create", target="f9"))
    with pytest.raises(Exception, match="append-only"), \
            repo._write() as cur:  # type: ignore[attr-defined]
        cur.execute("UPDATE audit_log SET actor = 'someone else'")
    assert entries(repo)[0].actor == "boss"


def test_an_action_that_fails_leaves_no_audit_entry(repo: Repository) -> None:
    a = learners.create_learner(repo=repo, staff_number="S-1", display_name="A",
                                role="prison_officer", language="en", facility_id="f1",
                                setup_ttl_s=60, by="boss")
    learners.create_learner(repo=repo, staff_number="S-1", display_name="B",
                            role="prison_officer", language="en", facility_id="f2",
                            setup_ttl_s=60, by="boss")
    before = len(entries(repo))
    with pytest.raises(AlreadyExistsError):   # rolled back: the move and its entry
        learners.move_learner(repo=repo, learner_id=a.learner.id, facility_id="f2", by="boss")
    with pytest.raises(NotFoundError):
        devices.revoke_device(repo=repo, device_id="nope", by="boss")
    with pytest.raises(AlreadyExistsError):   # staff number taken: no learner, no entry
        learners.create_learner(repo=repo, staff_number="s-1", display_name="C",
                                role="prison_officer", language="en", facility_id="f1",
                                setup_ttl_s=60, by="boss")
    assert len(entries(repo)) == before
    assert repo.get_learner(a.learner.id).facility_id == "f1"


def test_filters_and_csv_export(repo: Repository) -> None:
    old = audit.entry("alice", "facility.create", target="x", at="2025-03-01T10:00:00.000Z")
    repo.record_audit(old)
    repo.record_audit(audit.entry("=cmd|' /C calc'!A0", "pack.publish", target="p@1",
                                  at="2026-02-01T10:00:00.000Z"))
    lid = str(uuid.uuid4())
    repo.record_audit(audit.entry("bob", "learner.pin_reset", target=lid, learner_id=lid,
                                  at="2026-02-02T10:00:00.000Z"))
    assert [e.actor for e in audit.entries(repo=repo, filters=audit.query(actor="alice"))] == ["alice"]
    assert [e.action for e in audit.entries(repo=repo, filters=audit.query(
        learner_id=lid))] == ["learner.pin_reset"]
    feb = audit.entries(repo=repo, filters=audit.query(date_from="2026-02-01",
                                                       date_to="2026-02-01"))
    assert [e.action for e in feb] == ["pack.publish"]          # `to` is inclusive
    assert len(audit.entries(repo=repo, filters=audit.query(action="pack.publish"))) == 1
    for bad in ({"date_from": "2026-13-01"}, {"date_to": "yesterday"},
                {"action": "drop table"}, {"actor": "x" * 201}, {"actor": "a\x00b"},
                {"learner_id": "\u202e"}):
        with pytest.raises(ServerError):
            audit.query(**bad)
    text = audit.csv_text(repo=repo, filters=audit.query(date_from="2026-01-01"), by="carol")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == audit.CSV_HEADER
    # the export lists its own making first (recorded before the rows are read)
    assert [r[3] for r in rows[1:]] == ["export.audit", "learner.pin_reset", "pack.publish"]
    assert any(r[2].startswith("'=cmd") for r in rows[1:])        # no formula runs
    assert entries(repo)[0].action == "export.audit" and entries(repo)[0].actor == "carol"


# ------------------------------------------------------------------ erasure
def test_erasure_deletes_revokes_and_tombstones(repo: Repository) -> None:
    dev = device(repo)
    lid, ids = learner_with_events(repo, dev, "Erika")
    other, other_ids = learner_with_events(repo, dev, "Otto")
    cid = certificate_for(repo, lid, "Erika")
    cache = Queries(repo)
    assert {e["learner"] for e in cache.cached_events(("card.viewed",))} == {lid, other}
    mark = repo.deletion_mark()
    done = erasure.erase_learner(repo=repo, learner_id=lid, by="boss")   # no `queries`:
    assert {e["learner"] for e in cache.cached_events(("card.viewed",))} == {other}
    assert (done.events, done.certificates) == (len(ids), 1)
    assert repo.get_learner(lid) is None and repo.learner_events(lid) == []
    assert len(repo.learner_events(other)) == len(other_ids)        # nobody else touched
    record = repo.get_certificate(cid)
    assert record.revoked and record.credential == {}
    assert record.status_list == 1 and 7 in repo.revoked_status_indexes(1)
    answer = certificates.check(repo=repo, trusted=None, certificate_id=cid)  # type: ignore[arg-type]
    assert answer["status"] == "revoked" and answer["credential"] is None
    assert "Erika" not in json.dumps(answer)
    assert [t.learner_id for t in repo.tombstones_after(0, 10)] == [lid]
    assert repo.deletion_mark() == mark + 1        # other processes' caches refill
    # the report aggregates forget the learner in the same transaction (issue 18 tables)
    assert lid not in {r.learner_id for r in repo.progress_rows()}
    assert repo.rebuild_aggregates(keep=False).matched
    summary = repo.course_summaries()
    assert sum(s.events for s in summary) == len(ids)
    assert sum(s.quiz_passes for s in summary) == 1
    assert all(s.facility_id == "f1" and s.year == "2026" for s in summary)

    # erasing twice, unknown and malformed ids change nothing
    with pytest.raises(NotFoundError, match="erased already"):
        erasure.erase_learner(repo=repo, learner_id=lid, by="boss")
    with pytest.raises(NotFoundError):
        erasure.erase_learner(repo=repo, learner_id=str(uuid.uuid4()), by="boss")
    for bad in ("../etc", "'; DROP TABLE learners; --", lid.upper(), ""):
        with pytest.raises(ServerError):
            erasure.erase_learner(repo=repo, learner_id=bad, by="boss")
    assert len(repo.tombstones_after(0, 10)) == 1
    assert sum(s.events for s in repo.course_summaries()) == len(ids)


def test_an_erased_learner_cannot_come_back_by_push(repo: Repository) -> None:
    dev = device(repo)
    lid, _ = learner_with_events(repo, dev, "Erika")
    erasure.erase_learner(repo=repo, learner_id=lid, by="boss")
    late = [make_event(lid, dev.id, 50 + i) for i in range(3)]
    profile = make_profile(name="Erika", learner_id=lid, updated_at=now_iso())
    result = sync_service.push(repo, dev, late, [profile])
    assert result.profiles[0].status == "rejected" and result.profiles[0].reason == "erased"
    assert {r["reason"] for r in result.rejected} == {"erased"} and not result.stored
    assert repo.get_learner(lid) is None and repo.learner_events(lid) == []
    # even straight at the store (a push checked just before the erasure committed)
    from sync_server.db.repository import EventRow
    status = repo.insert_events([EventRow(late[0]["id"], lid, dev.id, "f1", "card.viewed",
                                          T0, "{}", T0, dev.id)])
    assert status == {late[0]["id"]: "erased"}
    # a forged "tombstone" or any unknown field in a push is refused by the API model;
    # the pull carries the real one to every facility
    body = json.loads(sync_service.pull_body(repo, device(repo, "f2"), 0, 0, 10, 0))
    assert body["tombstones"] == [{"learner": lid, "erased_at": body["tombstones"][0]["erased_at"]}]
    again = json.loads(sync_service.pull_body(repo, dev, 0, 0, 10, body["tombstones_cursor"]))
    assert again["tombstones"] == [] and again["tombstones_cursor"] == body["tombstones_cursor"]


# ------------------------------------------------------------------ access export
def test_the_export_holds_exactly_that_learners_data(repo: Repository) -> None:
    dev = device(repo)
    other_dev = device(repo)
    lid, ids = learner_with_events(repo, dev, "<b>Ana</b> & co")
    oid, other_ids = learner_with_events(repo, other_dev, "Bruno")
    certificate_for(repo, lid, "<b>Ana</b> & co")
    certificate_for(repo, oid, "Bruno", index=8)
    learners.reset_pin(repo=repo, learner_id=oid, setup_ttl_s=60, by="boss")
    learners.reset_pin(repo=repo, learner_id=lid, setup_ttl_s=60, by="boss")
    data = access_export.export_zip(repo=repo, learner_id=lid, by="boss")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["record.html", "record.json"]
        record = json.loads(zf.read("record.json"))
        html = zf.read("record.html").decode()
    assert record["learner"]["id"] == lid and "pin_verifier" not in json.dumps(record)
    assert sorted(e["id"] for e in record["events"]) == sorted(ids)
    assert [d["id"] for d in record["devices"]] == [dev.id]
    assert len(record["certificates"]) == 1
    assert {a["learner_id"] for a in record["audit"]} == {lid}
    assert {a["action"] for a in record["audit"]} >= {"learner.pin_reset", "learner.export"}
    whole = json.dumps(record) + html
    for foreign in [oid, other_dev.id, "Bruno", *other_ids]:
        assert foreign not in whole
    assert "<b>Ana</b>" not in html and "&lt;b&gt;Ana&lt;/b&gt; &amp; co" in html
    for bad in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises((NotFoundError, ServerError)):
            access_export.export_zip(repo=repo, learner_id=bad, by="boss")


# ------------------------------------------------------------------ retention
def test_retention_folds_old_events_and_drops_old_audit_entries(repo: Repository) -> None:
    dev = device(repo)
    old_l, old_ids = learner_with_events(repo, dev, "Old", at="2020-06-01T09:00:00.000Z")
    new_l, new_ids = learner_with_events(repo, dev, "New", at="2026-06-01T09:00:00.000Z")
    repo.record_audit(audit.entry("boss", "facility.create", target="x",
                                  at="2020-01-01T00:00:00.000Z"))
    now = datetime(2027, 1, 1, tzinfo=UTC)
    result = retention.run_retention(repo=repo, now=now, events_years=6, audit_years=6,
                                     by="server")
    assert result.events_deleted == len(old_ids) and result.audit_deleted == 1
    assert repo.learner_events(old_l) == [] and len(repo.learner_events(new_l)) == len(new_ids)
    assert repo.get_learner(old_l) is not None          # the profile is not an event
    assert repo.rebuild_aggregates(keep=False).matched   # aggregates follow the deletion
    rows = repo.course_summaries()
    assert [(r.year, r.events, r.quiz_passes) for r in rows] == [("2020", len(old_ids), 1)]
    actions = [e.action for e in entries(repo)]
    assert actions[:2] == ["retention.audit", "retention.events"]
    assert "facility.create" not in [e.action for e in entries(repo) if e.target == "x"]
    # again: nothing more to do; 0 turns a rule off
    again = retention.run_retention(repo=repo, now=now, events_years=6, audit_years=0,
                                    by="server")
    assert (again.events_deleted, again.audit_deleted, again.audit_cutoff) == (0, 0, None)
    assert [e.action for e in entries(repo)][:2] == ["retention.audit", "retention.events"]
    # a command-line run is recorded even when it removed nothing
    retention.run_retention(repo=repo, now=now, events_years=6, audit_years=6, by="cli:ops")
    assert [(e.actor, e.detail.get("deleted")) for e in entries(repo)][:2] == \
        [("cli:ops", 0), ("cli:ops", 0)]


def test_retention_in_batches_takes_exactly_the_events_past_the_period(
        repo: Repository) -> None:
    """Several batches, events sharing an `at` across a batch's edge, old events pushed
    after new ones: each old one folded into the summary and deleted once, every newer
    one kept; a run with nothing left to do removes nothing."""
    dev = device(repo)
    people = {}
    for name, at, n in [("New", "2026-06-01T09:00:00.000Z", 4),
                        ("Tied", "2021-03-01T09:00:00.000Z", 7),       # one `at`, 8 events
                        ("Older", "2020-02-01T09:00:00.000Z", 2),
                        ("Edge", "2022-12-31T23:59:59.999Z", 1)]:
        people[name] = learner_with_events(repo, dev, name, n=n, at=at)
    cutoff = "2023-01-01T00:00:00.000Z"
    gone = repo.fold_events_before(cutoff, fold=summary_service.fold, batch=3)
    assert gone == 8 + 3 + 2
    for name in ("Tied", "Older", "Edge"):
        assert repo.learner_events(people[name][0]) == []
    assert len(repo.learner_events(people["New"][0])) == 5
    rows = {(r.year, r.events, r.quiz_passes) for r in repo.course_summaries()}
    assert rows == {("2020", 3, 1), ("2021", 8, 1), ("2022", 2, 1)}
    assert repo.rebuild_aggregates(keep=False).matched
    assert repo.fold_events_before(cutoff, fold=summary_service.fold, batch=3) == 0


def _retention_entries(repo: Repository) -> list[int]:
    return sorted(e.detail["deleted"] for e in entries(repo) if e.action == "retention.events")


def test_a_run_stopped_between_groups_leaves_each_deletion_audited(repo: Repository) -> None:
    """Each transaction that deletes events writes its own audit entry: a run stopped after
    its first group (a restart, a full disk: here the fold fails) has that group's
    deletions committed and audited, and the other learner untouched."""
    dev = device(repo)
    first, second = sorted(learner_with_events(repo, dev, name, n=3,
                                               at="2020-06-01T09:00:00.000Z")[0]
                           for name in ("Ana", "Bruno"))
    cutoff = "2023-01-01T00:00:00.000Z"
    calls: list[int] = []

    def fold(gone: list[tuple[str, str]]) -> list[Any]:
        calls.append(len(gone))
        if len(calls) == 2:
            raise OSError("disk full")
        return summary_service.fold(gone)

    with pytest.raises(OSError, match="disk full"):
        repo.fold_events_before(cutoff, fold=fold, batch=1, audit=lambda n: audit.entry(
            "server", "retention.events", target=cutoff, deleted=n))
    assert repo.learner_events(first) == [] and len(repo.learner_events(second)) == 4
    assert _retention_entries(repo) == [4]
    assert repo.rebuild_aggregates(keep=False).matched
    # the next run takes the rest, audited likewise
    assert repo.fold_events_before(cutoff, fold=summary_service.fold, audit=lambda n: audit.entry(
        "server", "retention.events", target=cutoff, deleted=n)) == 4
    assert _retention_entries(repo) == [4, 4]
    assert [(r.events, r.quiz_passes) for r in repo.course_summaries()] == [(8, 2)]


def test_learners_who_keep_long_histories_make_smaller_retention_groups(
        repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    """A group's learners' events in all (what the recompute reads under the write lock)
    stay within RETENTION_READ: three learners with 2 old and 7 kept events each, 10 at a
    time, make three transactions (one audit entry each); by default, one."""
    from sync_server.db import erasure
    dev = device(repo)
    people = []
    for name in ("Ana", "Bruno", "Carla"):
        lid, _ = learner_with_events(repo, dev, name, n=1, at="2020-06-01T09:00:00.000Z")
        kept = [make_event(lid, dev.id, 10 + i, at="2026-06-01T09:00:00.000Z") for i in range(7)]
        assert len(sync_service.push(repo, dev, kept).stored) == 7
        people.append(lid)
    cutoff = "2023-01-01T00:00:00.000Z"
    monkeypatch.setattr(erasure, "RETENTION_READ", 10)
    assert repo.fold_events_before(cutoff, fold=summary_service.fold, audit=lambda n: audit.entry(
        "server", "retention.events", target=cutoff, deleted=n)) == 6
    assert _retention_entries(repo) == [2, 2, 2]
    assert all(len(repo.learner_events(lid)) == 7 for lid in people)
    assert repo.rebuild_aggregates(keep=False).matched
    # the same database again, with the default bound: one transaction for all three
    for i, lid in enumerate(people):
        old = [make_event(lid, dev.id, 30 + i, at="2021-06-01T09:00:00.000Z")]
        assert len(sync_service.push(repo, dev, old).stored) == 1
    monkeypatch.setattr(erasure, "RETENTION_READ", 40_000)
    assert repo.fold_events_before(cutoff, fold=summary_service.fold, audit=lambda n: audit.entry(
        "server", "retention.events", target=cutoff, deleted=n)) == 3
    assert _retention_entries(repo) == [2, 2, 2, 3]


def test_a_day_with_nothing_past_the_period_reads_through_the_index(tmp_path: Path) -> None:
    """SQLite's plan for retention's first look: the index events_at (schema 16), not a
    scan of every event under the write lock."""
    import sqlite3
    repo = open_repository(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    repo.close()
    conn = sqlite3.connect(tmp_path / "db.sqlite3")
    plan = " ".join(str(row[-1]) for row in conn.execute(
        "EXPLAIN QUERY PLAN " + old_events_per_learner("sqlite"), ("2021-01-01",)))
    conn.close()
    assert "SEARCH events USING INDEX events_at" in plan, plan


def test_the_schedule_runs_once_per_interval_of_the_injected_clock() -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    runs: list[datetime] = []
    schedule = retention.RetentionSchedule(runs.append, lambda: clock[0])
    assert schedule.tick() and runs == [clock[0]]
    clock[0] += timedelta(hours=23)
    assert not schedule.tick() and len(runs) == 1
    clock[0] += timedelta(hours=1)
    assert schedule.tick() and len(runs) == 2

    def boom(now: datetime) -> None:
        raise RuntimeError("disk full")

    failing = retention.RetentionSchedule(boom, lambda: clock[0])
    assert failing.tick()                       # logged, not raised; retried next interval
    assert not failing.tick()


def test_years_before_handles_29_february() -> None:
    assert retention.years_before(datetime(2028, 2, 29, tzinfo=UTC), 1) == \
        datetime(2027, 2, 28, tzinfo=UTC)


def test_every_audited_action_in_the_code_is_a_known_action() -> None:
    """An action name missing from audit.ACTIONS makes its admin action fail (500 in the
    console): every literal the services pass to audit.entry / audit.record is known."""
    import ast

    root = Path(__file__).resolve().parents[2] / "sync_server"
    used: dict[str, str] = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit"
                    and node.func.attr in ("entry", "record")):
                index = 1 if node.func.attr == "entry" else 2
                if len(node.args) > index and isinstance(node.args[index], ast.Constant):
                    used[str(node.args[index].value)] = f"{path.name}:{node.lineno}"
    assert len(used) >= 20, used              # the scan sees the services' calls
    unknown = {a: where for a, where in used.items() if a not in audit.ACTIONS}
    assert not unknown, unknown


def test_console_upkeep_actions_are_audited(repo: Repository) -> None:
    """Issue 21's new admin actions leave their audit entry like the others."""
    from sync_server.services import facilities, learners

    dev = device(repo)
    lid, _ = learner_with_events(repo, dev, "Dana")
    facilities.rename_facility(repo=repo, facility_id="f1", name="Vilnius House", by="boss")
    learners.deactivate_learner(repo=repo, learner_id=lid, by="boss")
    learners.reactivate_learner(repo=repo, learner_id=lid, setup_ttl_s=600, by="boss")
    actions = {(e.action, e.actor) for e in entries(repo)}
    for action in ("facility.rename", "learner.deactivate", "learner.reactivate",
                   "learner.pin_reset"):
        assert (action, "boss") in actions, action
