"""Report building blocks of the console without a server (fast): the progress fold, rates,
the gap heat map, SVG charts, the learner CSV parser and the CSV export. Hostile input:
broken CSV files, formula injection, markup in names, events in any order / repeated."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_server.admin import charts
from sync_server.services.exports import progress_csv
from sync_server.services.learners_csv import MAX_ROWS, csv_safe, parse_learners_csv
from sync_server.services.stats import courses_of, fold_progress, gap_heat_map
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures

FACILITIES = {"vilnius", "iasi"}


@dataclass(frozen=True)
class L:
    id: str
    staff_number: str
    facility_id: str
    role: str
    display_name: str


MANIFEST = {
    "id": "p", "audience_roles": ["prison_officer", "psychologist"],
    "courses": [{"id": "c1", "title": {"en": "Course one"}, "roles": ["prison_officer"]},
                {"id": "c2", "title": {"en": "Course two"}}],
    "profiles": [{"id": "po", "title": {"en": "Officer"}, "scale": [{"level": 0}, {"level": 4}],
                  "duties": [{"id": "a", "title": {"en": "Duty A"}, "tasks": [
                      {"id": "a1", "expected": {"prison_officer": 3}},
                      {"id": "a2", "expected": {"prison_officer": 4, "psychologist": 1}}]}]}],
}
LEARNERS = [L("l1", "S1", "vilnius", "prison_officer", "Ann"), L("l2", "S2", "vilnius", "prison_officer", "Ben"),
            L("l3", "S3", "iasi", "psychologist", "Cy")]


def ev(i: int, learner: str, type: str, ref: dict, data: dict | None = None, at: str | None = None) -> dict:
    return {"id": f"e{i}", "learner": learner, "device": "d", "seq": i,
            "at": at or f"2026-01-01T10:00:{i:02d}.000Z", "type": type, "pack": "p",
            "ref": ref, "data": data or {}}


EVENTS = [
    ev(1, "l1", "card.viewed", {"course": "c1", "lesson": "x", "card": "0"}),
    ev(2, "l1", "card.viewed", {"course": "c1", "lesson": "x", "card": "1"}),
    ev(3, "l1", "quiz.submitted", {"course": "c1", "attempt": "a"}, {"score": 50, "passed": False}),
    ev(4, "l1", "quiz.submitted", {"course": "c1", "attempt": "b"}, {"score": 80, "passed": True}),
    ev(5, "l1", "course.completed", {"course": "c1"}),
    ev(6, "l2", "quiz.submitted", {"course": "c1", "attempt": "c"}, {"score": 30, "passed": False}),
    ev(7, "l1", "selfassessment.rated", {"profile": "po", "assessment": "s", "task": "a1"}, {"level": 1}),
    ev(8, "l1", "selfassessment.rated", {"profile": "po", "assessment": "s", "task": "a1"}, {"level": 2}),
    ev(9, "l1", "selfassessment.rated", {"profile": "po", "assessment": "s", "task": "a2"}, {"level": 4}),
    ev(10, "l3", "selfassessment.rated", {"profile": "po", "assessment": "t", "task": "a2"}, {"level": 0}),
    ev(11, "l3", "selfassessment.rated", {"profile": "po", "assessment": "t", "task": "a1"}, {"level": 0}),
    ev(12, "l1", "course.completed", {"course": "c1"}, at="2026-01-02T00:00:00.000Z"),
]


def test_fold_progress() -> None:
    p = fold_progress(EVENTS)[("l1", "p", "c1")]
    assert (p.cards_viewed, p.attempts, p.best_score, p.passed) == (2, 2, 80, True)
    assert p.completed_at == "2026-01-01T10:00:05.000Z"  # the earliest completion counts
    assert fold_progress(EVENTS)[("l2", "p", "c1")].completed_at is None


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(0, 5))
def test_fold_is_order_and_duplicate_independent(rnd: random.Random, dups: int) -> None:
    shuffled = EVENTS + [rnd.choice(EVENTS) for _ in range(dups)]
    rnd.shuffle(shuffled)
    expected = {k: (v.cards_viewed, v.attempts, v.best_score, v.passed, v.completed_at)
                for k, v in fold_progress(EVENTS).items()}
    got = {k: (v.cards_viewed, v.attempts, v.best_score, v.passed, v.completed_at)
           for k, v in fold_progress(shuffled).items()}
    assert got == expected
    assert gap_heat_map([MANIFEST], LEARNERS, shuffled, ["vilnius", "iasi"]).values == \
        gap_heat_map([MANIFEST], LEARNERS, EVENTS, ["vilnius", "iasi"]).values


def test_gap_heat_map() -> None:
    gap = gap_heat_map([MANIFEST], LEARNERS, EVENTS + [
        ev(20, "ghost", "selfassessment.rated", {"profile": "po", "assessment": "s", "task": "a1"}, {"level": 0}),
        ev(21, "l1", "selfassessment.rated", {"profile": "po", "assessment": "s", "task": "zz"}, {"level": 0}),
        ev(22, "l1", "selfassessment.rated", {"profile": "po", "assessment": "s", "task": "a1"}, {"level": "x"}),
    ], ["vilnius", "iasi"])
    assert gap.rows == ["Officer · Duty A"] and gap.max_gap == 4.0
    # l1 (officer): a1 3-2=1 (latest rating wins), a2 4-4=0 → mean 0.5; l3 (psychologist): only a2 1-0=1
    assert gap.values == {(0, 0): (0.5, 1), (0, 1): (1.0, 1)}


def test_gap_colour_scale() -> None:
    assert charts.gap_colour(None, 4) == "#eeeeee" and charts.gap_colour(0, 4) == "#ffffff"
    assert charts.gap_colour(4, 4) == "#b22222" and charts.gap_colour(-4, 4).startswith("#")


# ----------------------------------------------------------------------------- CSV in

def parse(text: str | bytes):
    return parse_learners_csv(text.encode() if isinstance(text, str) else text, facilities=FACILITIES)


def test_csv_good_rows_comma_and_semicolon_with_bom() -> None:
    rows, errors = parse("\ufeffstaff_number,name,facility,role,language\n"
                         "LT-1,Žydrūnė,vilnius,prison_officer,lt\n\n"
                         'RO-2,"Ștefan, Jr.",iasi,social_worker,\n')
    assert errors == []
    assert [(r.line, r.staff_number, r.name, r.language) for r in rows] == [
        (2, "LT-1", "Žydrūnė", "lt"), (4, "RO-2", "Ștefan, Jr.", "en")]
    rows, errors = parse("staff_no;display_name;facility_id;role\nA1;Ann;iasi;trainer\n")
    assert errors == [] and rows[0].facility_id == "iasi"


@pytest.mark.parametrize(("text", "expect"), [
    (b"", "empty file"),
    (b"\xff\xfe\x00x", "not UTF-8"),
    (b"a\x00b", "binary"),
    ("name,facility,role\nA,vilnius,trainer\n", "column missing"),
    ("staff_number,name,facility,role,salary\n", "unknown column"),
    ('staff_number,name,facility,role\n"S1,Ann,vilnius,trainer\n', "unreadable"),
    ("x" * (3 * 1024 * 1024), "larger than"),
])
def test_csv_file_level_errors(text: str | bytes, expect: str) -> None:
    rows, errors = parse(text)
    assert rows == [] and errors and expect in str(errors[0])


def test_csv_row_errors_name_line_and_field() -> None:
    rows, errors = parse("staff_number,name,facility,role,language\n"
                         "S1,Ann,vilnius,prison_officer,en\n"
                         "S2,Ben,mars,prison_officer,en\n"
                         "S3,Cy,vilnius,inmate,en\n"
                         "S 1,Dup,vilnius,trainer,en\n"
                         "S5,,vilnius,trainer,en\n"
                         "S6,Eve,vilnius,trainer,english\n"
                         "S7,Fay\tX,vilnius,trainer,en\n"
                         "$$$,Gus,vilnius,trainer,en\n"
                         "S9,Hal,vilnius\n"
                         f"S10,{'x' * 300},vilnius,trainer,en\n")
    assert [r.staff_number for r in rows] == ["S1"]
    got = {(e.line, e.field) for e in errors}
    assert got == {(3, "facility"), (4, "role"), (5, "staff_number"), (6, "name"),
                   (7, "language"), (8, "name"), (9, "staff_number"), (10, None), (11, "name")}
    assert "repeats line 2" in next(str(e) for e in errors if e.line == 5)


def test_csv_row_limit() -> None:
    body = "".join(f"S{i},N,vilnius,trainer\n" for i in range(MAX_ROWS + 5))
    rows, errors = parse("staff_number,name,facility,role\n" + body)
    assert len(rows) == MAX_ROWS and "split the file" in str(errors[-1])


# ----------------------------------------------------------------------------- CSV out

def test_progress_csv_is_injection_safe() -> None:
    learners = [L("l1", "=1+1", "vilnius", "prison_officer", "@SUM(A1)"),
                L("l2", "S2", "vilnius", "prison_officer", "Ben")]
    out = progress_csv(learners, courses_of([MANIFEST]), fold_progress(EVENTS),
                       {("l1", "p", "c1"): "cert-1"})
    assert out.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(out[1:])))
    first = rows[0]
    assert (first["staff_number"], first["name"]) == ("'=1+1", "'@SUM(A1)")
    assert (first["course_title"], first["best_score"], first["passed"], first["certificate"]) == \
        ("Course one", "80", "yes", "cert-1")
    assert [csv_safe(v) for v in ("-5", "+x", "-x", "\tx", None, 7)] == ["-5", "'+x", "'-x", "'\tx", "", "7"]


def test_dashboard_event_cache_tops_up_and_survives_a_move(tmp_path, database_url) -> None:  # noqa: F811
    """Queries.cached_events reads only new rows; a moved learner's events get new seqs
    and must replace, not duplicate, the cached copies."""
    from app.core.events import content_of
    from sync_server.db import open_repository
    from sync_server.db.repository import EventRow, Learner
    from sync_server.services.queries import DASHBOARD_TYPES, Queries
    from tests.support.server import make_event

    repo = open_repository(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        t0 = "2026-01-01T00:00:00.000Z"
        for fac in ("f1", "f2"):
            repo.create_facility(fac, fac, t0)
        repo.save_profile(Learner("L1", "S-1", "f1", "prison_officer", "en", "A", None, t0))

        def store(*events: dict) -> None:
            repo.insert_events([EventRow(e["id"], e["learner"], e["device"], "f1", e["type"],
                                         e["at"], content_of(e).decode(), t0, "tab")
                                for e in events])

        quiz = [make_event("L1", "tab", i, type="quiz.submitted", data={"score": 50})
                for i in (1, 2)]
        store(*quiz, make_event("L1", "tab", 3))                  # card.viewed: not folded
        queries = Queries(repo)
        assert [e["id"] for e in queries.cached_events()] == [e["id"] for e in quiz]
        done = make_event("L1", "tab", 4, type="course.completed", ref={"course": "c"})
        store(done)
        assert [e["id"] for e in queries.cached_events()] == [e["id"] for e in quiz] + [done["id"]]
        repo.move_learner("L1", "f2", "2026-01-02T00:00:00.000Z")
        ids = [e["id"] for e in queries.cached_events()]
        assert sorted(ids) == sorted(e["id"] for e in [*quiz, done]) and len(ids) == 3
        assert sorted(e["id"] for e in queries.report_events(DASHBOARD_TYPES)) == sorted(ids)
        assert len(queries.report_events()) == 4                  # with card.viewed
        assert len(list(queries.iter_events())) == 4
    finally:
        repo.close()
