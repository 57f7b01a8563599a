"""Report aggregates (sync_server/db/aggregates.py) on SQLite and PostgreSQL: kept at
ingest they always equal a full recompute from the events — over random streams from two
devices, with duplicates, any order and any chunking — and equal the dashboard's own
fold of the events (services/stats.py), which reports used before the aggregates."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.events import content_of
from sync_server.db import open_repository
from sync_server.db.aggregate_fold import fold
from sync_server.db.migrate import apply_schema
from sync_server.db.repository import EventRow, Learner, Repository
from sync_server.services import stats
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures

T0 = "2026-01-01T00:00:00.000Z"
RECEIVED = "2026-03-01T00:00:00.000Z"
PACK = "pk"


@pytest.fixture
def repo(tmp_path: Path, database_url: str | None) -> Repository:  # noqa: F811
    r = open_repository(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    r.create_facility("f1", "Facility one", T0)
    r.create_facility("f2", "Facility two", T0)
    yield r
    r.close()


def add_learners(repo: Repository, n: int) -> list[Learner]:
    out = []
    for i in range(n):
        lid = str(uuid.uuid4())
        learner = Learner(lid, f"S-{lid[:8]}", "f1" if i % 2 else "f2", "prison_officer", "en",
                          f"L{i}", None, T0)
        repo.save_profile(learner)
        out.append(learner)
    return out


# one step a learner takes on a tablet: (type, ref, data); `at` is drawn from few values,
# so order keys tie on `at` and the device / seq decide
STEP = st.one_of(
    st.tuples(st.just("card.viewed"), st.fixed_dictionaries({
        "course": st.sampled_from(["c1", "c2"]), "lesson": st.sampled_from(["l1", "l2"]),
        "card": st.sampled_from(["0", "1", "2"])}), st.just({})),
    st.tuples(st.just("quiz.submitted"), st.fixed_dictionaries({
        "course": st.sampled_from(["c1", "c2"]), "attempt": st.sampled_from(["a1", "a2", "a3"])}),
        st.fixed_dictionaries({"score": st.one_of(st.integers(0, 100),
                                                  st.integers(0, 99).map(lambda n: n + 0.5)),
                               "passed": st.booleans()})),
    st.tuples(st.just("course.completed"), st.fixed_dictionaries({
        "course": st.sampled_from(["c1", "c2"])}), st.just({})),
    st.tuples(st.just("selfassessment.rated"), st.fixed_dictionaries({
        "profile": st.just("po"), "assessment": st.just("s1"),
        "task": st.sampled_from(["t1", "t2", "t3"])}),
        st.fixed_dictionaries({"level": st.integers(0, 4)})),
    st.tuples(st.just("answer.given"), st.fixed_dictionaries({
        "course": st.just("c1"), "attempt": st.just("a1"), "question": st.just("q1")}),
        st.just({"choice": ["a"], "score": 1.0, "correct": True, "type": "single"})),
)
STREAM = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["d1", "d2"]),
                            st.integers(1, 4), STEP), min_size=1, max_size=40)


def make_events(learners: list[Learner], steps: list[Any]) -> list[dict[str, Any]]:
    seqs = {"d1": 0, "d2": 0}
    out = []
    for who, device, hour, (etype, ref, data) in steps:
        seqs[device] += 1
        out.append({"id": str(uuid.uuid4()), "learner": learners[who].id, "device": device,
                    "seq": seqs[device], "at": f"2026-02-01T0{hour}:00:00.000Z", "type": etype,
                    "pack": PACK, "pack_version": 1, "ref": ref, "data": data})
    return out


def rows_of(events: list[dict[str, Any]], by_id: dict[str, Learner], parsed: bool) -> list[EventRow]:
    return [EventRow(e["id"], e["learner"], e["device"], by_id[e["learner"]].facility_id,
                     e["type"], e["at"], content_of(e).decode(), RECEIVED, e["device"],
                     event=e if parsed else None) for e in events]


def expected_against_fold(repo: Repository, learners: list[Learner],
                          events: list[dict[str, Any]]) -> None:
    """The aggregate rows of these learners equal the dashboard fold of their events."""
    mine = {lr.id for lr in learners}
    by_staff = {lr.staff_number: lr.id for lr in learners}
    progress = stats.fold_progress(events)
    rows = {(by_staff[r.staff_number], r.pack_id, r.course_id): r
            for r in repo.progress_rows() if r.staff_number in by_staff}
    assert set(rows) == set(progress)
    for key, p in progress.items():
        r = rows[key]
        assert (r.cards_viewed, r.attempts, r.passed, r.completed_at) == (
            p.cards_viewed, p.attempts, p.passed, p.completed_at)
        assert r.best_score == (None if p.best_score is None else str(p.best_score))
    latest = {(r.learner_id, r.profile_id, r.task_id): r.level
              for r in repo.latest_ratings() if r.learner_id in mine}
    assert latest == stats.latest_levels(events)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=STREAM, seed=st.integers(0, 2**32 - 1))
def test_incremental_aggregates_equal_a_full_recompute(repo: Repository, steps: list[Any],
                                                       seed: int) -> None:
    """Two devices, duplicates (within and across chunks), any order, any chunking; the
    same database for every example (new learners each time), so earlier examples' rows
    are part of every recompute."""
    rnd = random.Random(seed)
    learners = add_learners(repo, 3)
    by_id = {lr.id: lr for lr in learners}
    events = make_events(learners, steps)
    sent = events + [rnd.choice(events) for _ in range(rnd.randrange(len(events) + 1))]
    rnd.shuffle(sent)
    before = repo.count_events().total
    while sent:
        n = rnd.randrange(1, 12)
        chunk, sent = sent[:n], sent[n:]
        repo.insert_events(rows_of(chunk, by_id, parsed=rnd.random() < 0.5))
    assert repo.count_events().total == before + len(events)      # each once
    check = repo.rebuild_aggregates(keep=False)
    assert check.matched, "incremental aggregates differ from a recompute"
    expected_against_fold(repo, learners, events)
    # what the certificate issuer asks before it folds a learner's history
    keys = [(lr.id, PACK, c) for lr in learners for c in ("c1", "c2")] + [(learners[0].id, "x", "c1")]
    assert repo.completed_courses(keys) == {
        (e["learner"], e["pack"], e["ref"]["course"]) for e in events
        if e["type"] == "course.completed"}


def test_a_duplicate_changes_nothing_and_a_conflict_is_not_counted(repo: Repository) -> None:
    learners = add_learners(repo, 1)
    by_id = {lr.id: lr for lr in learners}
    events = make_events(learners, [(0, "d1", 1, ("quiz.submitted", {"course": "c1", "attempt": "a"},
                                                  {"score": 80, "passed": True}))])
    repo.insert_events(rows_of(events, by_id, parsed=True))
    snap = repo.aggregate_snapshot()
    assert repo.insert_events(rows_of(events, by_id, parsed=False)) == {events[0]["id"]: "duplicate"}
    forged = dict(events[0], data={"score": 100, "passed": True})
    assert repo.insert_events(rows_of([forged], by_id, parsed=True)) == {events[0]["id"]: "conflict"}
    assert repo.aggregate_snapshot() == snap
    (row,) = [r for r in repo.progress_rows()]
    assert (row.best_score, row.attempts, row.passed) == ("80", 1, True)


def test_moving_a_learner_moves_their_event_count(repo: Repository) -> None:
    learners = add_learners(repo, 2)           # one in f2, one in f1
    by_id = {lr.id: lr for lr in learners}
    events = make_events(learners, [(i % 2, "d1", 1, ("card.viewed", {
        "course": "c1", "lesson": "l1", "card": str(i)}, {})) for i in range(5)])
    repo.insert_events(rows_of(events, by_id, parsed=True))
    assert repo.count_events().by_facility == {"f1": 2, "f2": 3}
    repo.move_learner(learners[0].id, "f1", T0)
    assert repo.count_events().by_facility == {"f1": 5}
    assert repo.rebuild_aggregates(keep=False).matched


def test_the_dashboard_counts_active_learners_only(repo: Repository) -> None:
    """A deactivated leaver is not "still to train" (issue 21): the dashboard's learner
    groups and progress counts leave them out; reactivating brings them back."""
    learners = add_learners(repo, 4)           # two in f1, two in f2
    by_id = {lr.id: lr for lr in learners}
    events = make_events(learners, [(i, "d1", 1, ("card.viewed", {
        "course": "c1", "lesson": "l1", "card": "0"}, {})) for i in range(4)])
    repo.insert_events(rows_of(events, by_id, parsed=True))
    before = repo.learner_groups()
    assert sum(before.values()) == 4
    repo.set_deactivated(learners[1].id, T0)
    after = repo.learner_groups()
    assert sum(after.values()) == 3 and after[("f1", "prison_officer")] == 1
    assert learners[1].id not in {r.learner_id for r in repo.latest_ratings()}
    assert len(list(repo.progress_rows())) == 4     # the CSV still lists what happened
    repo.set_deactivated(learners[1].id, None)
    assert repo.learner_groups() == before


def test_rebuild_repairs_aggregates_changed_by_hand(repo: Repository, tmp_path: Path) -> None:
    learners = add_learners(repo, 1)
    events = make_events(learners, [(0, "d2", 2, ("course.completed", {"course": "c2"}, {}))])
    repo.insert_events(rows_of(events, {learners[0].id: learners[0]}, parsed=True))
    good = repo.aggregate_snapshot()
    with repo._write() as cur:  # type: ignore[attr-defined]  # a repair by hand gone wrong
        cur.execute("UPDATE course_progress SET completed_at = NULL")
        cur.execute("DELETE FROM event_totals")
    assert repo.rebuild_aggregates(keep=False).matched is False
    assert repo.aggregate_snapshot() != good                      # --check changed nothing
    result = repo.rebuild_aggregates()
    assert not result.matched and result.counts.events == 1 and result.counts.courses == 1
    assert repo.aggregate_snapshot() == good
    assert repo.rebuild_aggregates().matched


def test_hostile_stored_content_never_fails_an_insert(repo: Repository) -> None:
    """The store takes any text (content is validated by the push); aggregates skip what
    they cannot read rather than fail the insert."""
    learners = add_learners(repo, 1)
    lid = learners[0].id
    odd = ["not json", "[1, 2]", json.dumps({"type": "quiz.submitted", "learner": lid,
                                             "ref": "x", "data": []}),
           json.dumps({"type": "selfassessment.rated", "learner": lid,
                       "ref": {"profile": "p", "task": "t"}, "data": {"level": True}}),
           json.dumps({"type": "quiz.submitted", "learner": lid, "ref": {"course": "c"},
                       "data": {"score": "99", "passed": "yes"}})]
    rows = [EventRow(str(uuid.uuid4()), lid, "d1", "f2", t, T0, c, RECEIVED, "d1")
            for t, c in zip(["card.viewed", "quiz.submitted", "quiz.submitted",
                             "selfassessment.rated", "quiz.submitted"], odd, strict=True)]
    assert set(repo.insert_events(rows).values()) == {"stored"}
    (row,) = list(repo.progress_rows())
    assert (row.course_id, row.attempts, row.best_score, row.passed) == ("c", 1, None, False)
    assert repo.latest_ratings() == []
    assert repo.rebuild_aggregates(keep=False).matched


def test_migration_to_v7_fills_the_aggregates_of_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    cur = conn.cursor()
    cur.execute("BEGIN")
    cur.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    apply_schema(cur, "sqlite", current=0, target=6)
    cur.execute("INSERT INTO facilities VALUES ('f1', 'One', ?)", (T0,))
    learner = Learner(str(uuid.uuid4()), "S-1", "f1", "prison_officer", "en", "A", None, T0)
    cur.execute("INSERT INTO learners (id, staff_number, staff_key, facility_id, role, language, "
                "display_name, updated_at, rev) VALUES (?, 'S-1', 's-1', 'f1', "
                "'prison_officer', 'en', 'A', ?, 1)", (learner.id, T0))
    events = make_events([learner], [
        (0, "d1", 1, ("card.viewed", {"course": "c1", "lesson": "l1", "card": "0"}, {})),
        (0, "d2", 2, ("quiz.submitted", {"course": "c1", "attempt": "a1"},
                      {"score": 92.5, "passed": True})),
        (0, "d1", 3, ("selfassessment.rated", {"profile": "po", "assessment": "s", "task": "t1"},
                      {"level": 3}))])
    for r in rows_of(events, {learner.id: learner}, parsed=False):
        cur.execute("INSERT INTO events (id, learner_id, device_id, facility_id, type, at, "
                    "content, received_at, received_from) VALUES (?,?,?,?,?,?,?,?,?)",
                    (r.id, r.learner_id, r.device_id, r.facility_id, r.type, r.at, r.content,
                     r.received_at, r.received_from))
    cur.execute("COMMIT")
    conn.close()
    repo = open_repository(f"sqlite:///{path}")
    try:
        assert repo.count_events().total == 3
        (row,) = list(repo.progress_rows())
        assert (row.cards_viewed, row.attempts, row.best_score, row.passed) == (1, 1, "92.5", True)
        assert [(r.task_id, r.level) for r in repo.latest_ratings()] == [("t1", 3)]
        assert repo.rebuild_aggregates(keep=False).matched
    finally:
        repo.close()


def test_fold_is_order_free_on_equal_best_scores() -> None:
    """85 and 85.0 are the same score: the shorter spelling wins whatever comes first."""
    a = {"type": "quiz.submitted", "learner": "L", "pack": "p", "at": T0, "id": "1",
         "ref": {"course": "c", "attempt": "x"}, "data": {"score": 85.0, "passed": False}}
    b = dict(a, id="2", data={"score": 85, "passed": False})
    assert fold([a, b]).courses == fold([b, a]).courses
    assert fold([a, b]).courses[("L", "p", "c")].best_score == "85"


def test_streamed_csv_equals_writing_every_cell_with_the_csv_module() -> None:
    """progress_csv_lines writes a learner's cells once per learner and numbers as they
    are: the bytes equal a plain csv.writer over every cell made formula-safe, also for
    hostile names (formula, comma, quotes, new lines) and across piece boundaries.
    (Issue 21 added the status, last activity and active columns and the rows of
    courses not started, which have no counts.)"""
    import csv
    import io

    from sync_server.db.repository import ReportRow
    from sync_server.services.exports import PROGRESS_COLUMNS, progress_csv_lines, status_of
    from sync_server.services.learners_csv import csv_safe

    names = ["=HYPERLINK(\"x\")", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "-5", "+x",
             "@SUM(1)", "Jūratė", "\tTab"]
    rows = [ReportRow(f"S{i // 3}", names[(i // 3) % len(names)], "f1", "prison_officer",
                      "pk", f"c{i % 3}" if i % 5 else "=c", None if i % 7 == 6 else 3,
                      None if i % 7 == 6 else i % 4,
                      None if i % 2 or i % 7 == 6 else str(50 + i / 2),
                      None if i % 7 == 6 else i % 2, None if i % 3 or i % 7 == 6 else T0,
                      None if i % 4 or i % 7 == 6 else str(uuid.uuid4()), f"L{i // 3}",
                      None if i % 7 == 6 else T0, T0 if (i // 3) % 4 == 1 else None)
            for i in range(40)]
    courses = [stats.CourseInfo("pk", "c1", "=cmd|' /C calc'!A0", ()),
               stats.CourseInfo("pk", "c2", "Title, with comma", ())]
    streamed = "".join(progress_csv_lines(rows, courses, batch=7))
    titles = {(c.pack_id, c.course_id): c.title for c in courses}
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PROGRESS_COLUMNS)
    for r in rows:
        writer.writerow([csv_safe(v) for v in (
            r.staff_number, r.display_name, r.facility_id, r.role, r.pack_id, r.course_id,
            titles.get((r.pack_id, r.course_id), r.course_id), r.cards_viewed or 0,
            r.attempts or 0,
            r.best_score or "", "yes" if r.passed else "no", r.completed_at or "",
            r.certificate_id or "", status_of(r), r.last_at or "",
            "no" if r.deactivated_at else "yes")])
    assert streamed == out.getvalue()
    statuses = {status_of(r) for r in rows}
    assert statuses == {"not started", "in progress", "passed", "completed"}, statuses


GAP_MANIFEST = {"id": PACK, "profiles": [{"id": "po", "title": {"en": "Officer"},
                                          "scale": [{"level": 4}], "duties": [
    {"id": "d1", "title": {"en": "One"}, "tasks": [
        {"id": "t1", "expected": {"prison_officer": 3, "psychologist": 2}},
        {"id": "t2", "expected": {"prison_officer": 4}}]},
    {"id": "d2", "title": {"en": "Two"}, "tasks": [
        {"id": "t3", "expected": {"psychologist": 1, "prison_officer": 2}}]}]}]}


@pytest.mark.parametrize("facility, role", [("", ""), ("f1", ""), ("", "psychologist")])
def test_gap_means_from_the_aggregates_equal_the_fold_of_the_events(repo: Repository, facility: str,
                                                       role: str) -> None:
    rnd = random.Random(5)
    learners = []
    for i in range(12):
        lid = str(uuid.uuid4())
        learners.append(Learner(lid, f"G-{i}", "f1" if i % 2 else "f2",
                                "psychologist" if i % 3 == 0 else "prison_officer", "en",
                                f"L{i}", None, T0))
        repo.save_profile(learners[-1])
    steps = [(rnd.randrange(12), rnd.choice(["d1", "d2"]), rnd.randrange(1, 5),
              ("selfassessment.rated", {"profile": "po", "assessment": "s",
                                        "task": rnd.choice(["t1", "t2", "t3", "t9"])},
               {"level": rnd.randrange(5)})) for _ in range(80)]
    events = make_events(learners, steps)
    repo.insert_events(rows_of(events, {lr.id: lr for lr in learners}, parsed=True))
    chosen = [lr for lr in learners
              if (not facility or lr.facility_id == facility) and (not role or lr.role == role)]
    facs = [f for f in ("f1", "f2") if not facility or f == facility]
    model = stats.gap_model([GAP_MANIFEST])
    got = stats.gap_from_means(model, stats.gap_means(model, repo.rating_rows(facility, role)),
                               facs)
    want = stats.gap_heat_map([GAP_MANIFEST], chosen, events, facs)
    assert got.rows == want.rows and got.max_gap == want.max_gap and want.values
    assert got.values.keys() == want.values.keys()
    for key, (mean, n) in want.values.items():
        assert got.values[key] == (pytest.approx(mean), n)
