"""The progress CSV with the learners who have not started (issue 21 item 6), its
facility and date filters and their checks, on SQLite and PostgreSQL: a "not started" row
per active learner × course published to the learner's facility and role (newest active
publication, course roles), none for a leaver or a withdrawn pack; a date range keeps the
rows dated in it; the filters are in the audit entry and the file name."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.core.events import content_of
from sync_server.db import open_repository
from sync_server.db.repository import AuditQuery, EventRow, Learner, PackVersion, Repository
from sync_server.services import progress_report, reports
from sync_server.services.progress_report import ExportFilter, ExportFilterError
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures

T0 = "2026-01-01T00:00:00.000Z"


def manifest(pack: str, version: int, courses: list[dict[str, Any]],
             audience: list[str] | None = None) -> PackVersion:
    body = {"id": pack, "version": version, "audience_roles": audience or [],
            "courses": courses}
    return PackVersion(pack, version, json.dumps(body).encode(), b"{}",
                       json.dumps({"en": pack}), 0, T0, "t")


@pytest.fixture
def repo(tmp_path: Path, database_url: str | None) -> Repository:  # noqa: F811
    r = open_repository(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    r.create_facility("f1", "Vilnius", T0)
    r.create_facility("f2", "Kaunas", T0)
    # pk: c1 for everybody, c2 for psychologists only; published to f1 (every role)
    r.add_pack_version(manifest("pk", 1, [
        {"id": "c1", "title": {"en": "=Boundaries"}},
        {"id": "c2", "title": {"en": "Interviews"}, "roles": ["psychologist"]}]))
    r.publish("pk", 1, ["f1"], [], "t", T0)
    # ok: published to f2 for prison officers only
    r.add_pack_version(manifest("ok", 1, [{"id": "d1", "title": {"en": "De-escalation"}}]))
    r.publish("ok", 1, ["f2"], ["prison_officer"], "t", T0)
    yield r
    r.close()


def learner(repo: Repository, staff: str, name: str, facility: str, role: str) -> Learner:
    one = Learner(str(uuid.uuid4()), staff, facility, role, "en", name, None, T0)
    repo.save_profile(one)
    return one


def event(who: Learner, etype: str, ref: dict[str, Any], data: dict[str, Any], at: str,
          seq: int) -> EventRow:
    e = {"id": str(uuid.uuid4()), "learner": who.id, "device": "d1", "seq": seq, "at": at,
         "type": etype, "pack": "pk", "pack_version": 1, "ref": ref, "data": data}
    return EventRow(e["id"], who.id, "d1", who.facility_id, etype, at, content_of(e).decode(),
                    at, "d1", event=e)


@pytest.fixture
def people(repo: Repository) -> dict[str, Learner]:
    out = {
        "ann": learner(repo, "A1", "Ann", "f1", "prison_officer"),     # completed c1
        "ben": learner(repo, "B2", "=Ben", "f1", "prison_officer"),    # nothing yet
        "cid": learner(repo, "C3", "Cid", "f1", "psychologist"),       # nothing yet
        "dan": learner(repo, "D4", "Dan", "f2", "prison_officer"),     # nothing yet
        "eve": learner(repo, "E5", "Eve", "f2", "psychologist"),       # nothing published
        "fay": learner(repo, "F6", "Fay", "f1", "prison_officer"),     # a leaver, in progress
    }
    ann, fay = out["ann"], out["fay"]
    repo.insert_events([
        event(ann, "card.viewed", {"course": "c1", "lesson": "l1", "card": "0"}, {},
              "2026-02-01T10:00:00.000Z", 1),
        event(ann, "quiz.submitted", {"course": "c1", "attempt": "a"},
              {"score": 90, "passed": True}, "2026-02-02T10:00:00.000Z", 2),
        event(ann, "course.completed", {"course": "c1"}, {}, "2026-02-02T10:00:01.000Z", 3),
        event(fay, "card.viewed", {"course": "c1", "lesson": "l1", "card": "0"}, {},
              "2026-03-05T23:59:59.999Z", 4),
    ])
    repo.set_deactivated(fay.id, T0)
    return out


def report(repo: Repository, chosen: ExportFilter | None = None, by: str = "boss"
           ) -> list[dict[str, str]]:
    text = "".join(reports.progress_export(repo=repo, by=by, chosen=chosen))
    assert text.startswith("\ufeffstaff_number,")
    return list(csv.DictReader(io.StringIO(text[1:])))


def keyed(rows: list[dict[str, str]]) -> set[tuple[str, str, str, str]]:
    return {(r["staff_number"], r["pack"] + "/" + r["course"], r["status"], r["active"])
            for r in rows}


def test_not_started_rows_follow_the_publication(repo: Repository,
                                                 people: dict[str, Learner]) -> None:
    rows = report(repo)
    assert keyed(rows) == {
        ("A1", "pk/c1", "completed", "yes"),
        ("B2", "pk/c1", "not started", "yes"),
        ("C3", "pk/c1", "not started", "yes"), ("C3", "pk/c2", "not started", "yes"),
        ("D4", "ok/d1", "not started", "yes"),
        ("F6", "pk/c1", "in progress", "no"),          # the leaver: what they did, no more
    }
    # learner order, then pack and course; a not-started row has no counts and no dates
    assert [r["staff_number"] for r in rows] == ["A1", "B2", "C3", "C3", "D4", "F6"]
    ben = next(r for r in rows if r["staff_number"] == "B2")
    assert ben["name"] == "'=Ben", "a formula-like name is neutralised"
    assert ben["course_title"] == "'=Boundaries"
    assert (ben["cards_viewed"], ben["quiz_attempts"], ben["best_score"], ben["passed"],
            ben["completed_at"], ben["last_activity"]) == ("0", "0", "", "no", "", "")
    ann = next(r for r in rows if r["staff_number"] == "A1")
    assert (ann["passed"], ann["best_score"], ann["completed_at"], ann["last_activity"]) == (
        "yes", "90", "2026-02-02T10:00:01.000Z", "2026-02-02T10:00:01.000Z")


def test_newest_version_withdrawal_and_reactivation(repo: Repository,
                                                    people: dict[str, Learner]) -> None:
    repo.add_pack_version(manifest("pk", 2, [{"id": "c1", "title": {"en": "Boundaries 2"}},
                                             {"id": "c3", "title": {"en": "New"}}]))
    repo.publish("pk", 2, ["f1"], ["prison_officer"], "t", T0)
    got = keyed(report(repo))
    # officers of f1 get v2's courses (c3 new); the psychologist still has v1 (c1, c2)
    assert ("B2", "pk/c3", "not started", "yes") in got
    assert ("A1", "pk/c3", "not started", "yes") in got
    assert ("C3", "pk/c2", "not started", "yes") in got and ("C3", "pk/c3", "not started",
                                                             "yes") not in got
    repo.withdraw_publications("pk", "t", T0)
    got = keyed(report(repo))
    assert {k for k in got if k[2] == "not started"} == {("D4", "ok/d1", "not started", "yes")}
    assert ("A1", "pk/c1", "completed", "yes") in got, "progress of a withdrawn pack stays"
    repo.set_deactivated(people["fay"].id, None)
    repo.publish("pk", 1, ["f1"], [], "t", T0)
    assert ("F6", "pk/c1", "in progress", "yes") in keyed(report(repo))


def test_facility_and_date_filters(repo: Repository, people: dict[str, Learner]) -> None:
    f2 = progress_report.parse_filter(repo=repo, facility="f2")
    assert keyed(report(repo, f2)) == {("D4", "ok/d1", "not started", "yes")}
    march = progress_report.parse_filter(repo=repo, date_from="2026-03-05",
                                         date_to="2026-03-05")
    assert keyed(report(repo, march)) == {("F6", "pk/c1", "in progress", "no")}, \
        "the last millisecond of the last day is in; dated reports have no not-started rows"
    done = progress_report.parse_filter(repo=repo, basis="completed", date_from="2026-01-01")
    assert keyed(report(repo, done)) == {("A1", "pk/c1", "completed", "yes")}
    feb_f1 = progress_report.parse_filter(repo=repo, facility="f1", date_to="2026-02-28")
    assert keyed(report(repo, feb_f1)) == {("A1", "pk/c1", "completed", "yes")}
    none = progress_report.parse_filter(repo=repo, facility="f2", date_from="2026-01-01")
    assert report(repo, none) == []
    assert feb_f1.label() == "facility-f1_activity-start-to-2026-02-28"
    assert done.label() == "completed-2026-01-01-to-now"
    assert ExportFilter().label() == ""
    assert ExportFilter(facility='a"b;c\r\nd').label() == "facility-a_b_c__d"


@pytest.mark.parametrize("fields, reason, field", [
    ({"date_from": "2026-13-01"}, "bad_date", "from"),
    ({"date_from": "31/03/2026"}, "bad_date", "from"),
    ({"date_to": "2026-02-30"}, "bad_date", "to"),
    ({"date_to": "2026-02-3"}, "bad_date", "to"),
    ({"date_to": "0202-02-03"}, "date_range", "to"),
    ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_order", "to"),
    ({"date_from": "x" * 10_000}, "bad_date", "from"),
    ({"date_from": "2026-01-01' OR 1=1 --"}, "bad_date", "from"),
    ({"facility": "nowhere"}, "unknown_facility", "facility"),
    ({"facility": "f1' OR '1'='1"}, "unknown_facility", "facility"),
    ({"basis": "received"}, "bad_basis", "dates"),
])
def test_bad_filters_are_refused_by_code(repo: Repository, fields: dict[str, str],
                                         reason: str, field: str) -> None:
    with pytest.raises(ExportFilterError) as caught:
        progress_report.parse_filter(repo=repo, **fields)
    assert (caught.value.reason, caught.value.field) == (reason, field)
    assert field in str(caught.value) and len(str(caught.value)) < 200


def test_every_export_is_audited_with_its_filters(repo: Repository,
                                                  people: dict[str, Learner]) -> None:
    report(repo, progress_report.parse_filter(repo=repo, facility="f1", basis="completed",
                                              date_from="2026-02-01", date_to="2026-02-28"))
    report(repo)
    entries = repo.audit_entries(AuditQuery(action="export.progress"))
    details = sorted((e.actor, e.target, json.dumps(e.detail, sort_keys=True)) for e in entries)
    assert details == [
        ("boss", "", "{}"),
        ("boss", "f1", json.dumps({"dates": "completed", "facility": "f1",
                                   "from": "2026-02-01", "to": "2026-02-28"},
                                  sort_keys=True))]


def test_events_filter_of_the_xapi_export(repo: Repository,
                                          people: dict[str, Learner]) -> None:
    keep = progress_report.event_filter(repo, progress_report.parse_filter(
        repo=repo, facility="f1", date_from="2026-02-02", date_to="2026-02-02"))
    ann, dan = people["ann"], people["dan"]
    assert keep({"learner": ann.id, "at": "2026-02-02T23:59:59.999Z"})
    assert not keep({"learner": ann.id, "at": "2026-02-03T00:00:00.000Z"})
    assert not keep({"learner": ann.id, "at": "2026-02-01T23:59:59.999Z"})
    assert not keep({"learner": dan.id, "at": "2026-02-02T10:00:00.000Z"})
    assert not keep({"at": "2026-02-02T10:00:00.000Z"})
