"""Per-group totals (sync_server/db/group_totals.py) on SQLite and PostgreSQL: kept by
triggers, they always equal the dashboard's old query over every learner — whatever
happens to the learners between pushes (moved, a new role, deactivated, reactivated,
erased, registered after their events arrived) and after retention deletes old events."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_server.db import open_repository
from sync_server.db.repository import Learner, Repository
from tests.support.postgres import database_url, postgres_url  # noqa: F401 - fixtures
from tests.unit.test_server_aggregates import STEP, T0, make_events, rows_of

ROLES = ("prison_officer", "psychologist")
FACILITIES = ("f1", "f2", "f3")

# what the dashboard asked the database on every request before the totals were kept
OLD_STATUS_COUNTS = (
    "SELECT l.facility_id, l.role, p.pack_id, p.course_id, COUNT(*), "
    "SUM(CASE WHEN p.completed_at IS NULL THEN 0 ELSE 1 END), "
    "SUM(CASE WHEN p.completed_at IS NULL AND p.passed = 1 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN p.attempts > 0 THEN 1 ELSE 0 END), SUM(p.passed) "
    "FROM course_progress p JOIN learners l ON l.id = p.learner_id "
    "WHERE l.deactivated_at IS NULL GROUP BY l.facility_id, l.role, p.pack_id, p.course_id")
OLD_GROUPS = ("SELECT facility_id, role, COUNT(*) FROM learners WHERE deactivated_at IS NULL "
              "GROUP BY facility_id, role")


@pytest.fixture
def repo(tmp_path: Path, database_url: str | None) -> Repository:  # noqa: F811
    r = open_repository(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    for fac in FACILITIES:
        r.create_facility(fac, fac.upper(), T0)
    yield r
    r.close()


def old_answers(repo: Repository) -> tuple[set[tuple[Any, ...]], dict[tuple[str, str], int]]:
    counts = {(f, r, p, c, *(int(v) for v in rest))
              for f, r, p, c, *rest in repo._all(OLD_STATUS_COUNTS, ())}  # type: ignore[attr-defined]
    groups = {(f, r): int(n) for f, r, n in repo._all(OLD_GROUPS, ())}  # type: ignore[attr-defined]
    return counts, groups


def assert_totals_equal_the_old_query(repo: Repository, *, rebuild: bool = True) -> None:
    counts, groups = old_answers(repo)
    assert {(c.facility_id, c.role, c.pack_id, c.course_id, c.started, c.completed,
             c.passed_only, c.tried, c.passed) for c in repo.status_counts()} == counts
    assert repo.learner_groups() == groups
    for fac in FACILITIES:
        for role in ("", *ROLES):
            assert repo.learner_groups(fac, role) == {
                k: n for k, n in groups.items() if k[0] == fac and (not role or k[1] == role)}
            assert {(c.facility_id, c.role, c.course_id, c.started) for c in
                    repo.status_counts(fac, role)} == {
                (f, r, c, n) for f, r, _, c, n, *_ in counts
                if f == fac and (not role or r == role)}
        assert repo.tiles(fac).learners == sum(n for k, n in groups.items() if k[0] == fac)
    assert repo.tiles().learners == sum(groups.values())
    zeros = repo._all("SELECT COUNT(*) FROM group_courses WHERE started = 0 UNION ALL "  # type: ignore[attr-defined]
                      "SELECT COUNT(*) FROM group_learners WHERE learners = 0", ())
    assert [int(n) for (n,) in zeros] == [0, 0]                   # a group that empties goes
    if rebuild:      # the stored aggregates, group totals included, equal a full recompute
        assert repo.rebuild_aggregates(keep=False).matched


#: what happens to one of four learners between pushes (learner_op applies it)
LEARNER_OPS = st.one_of(
    st.tuples(st.just("move"), st.integers(0, 3), st.sampled_from(FACILITIES)),
    st.tuples(st.just("role"), st.integers(0, 3), st.sampled_from(ROLES)),
    st.tuples(st.just("deactivate"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("erase"), st.integers(0, 3), st.just(None)),
    st.tuples(st.just("register"), st.integers(0, 3), st.just(None)),
)

OP = st.one_of(
    st.tuples(st.just("events"), st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["d1", "d2"]),
                                                    st.integers(1, 4), STEP),
                                          min_size=1, max_size=12)),
    LEARNER_OPS,
    st.tuples(st.just("retention"), st.integers(1, 5), st.just(None)),
)


def learner_op(repo: Repository, learners: list[Learner], erased: set[int], kind: str,
               who: int, arg: Any, stamp: Iterator[str]) -> None:
    """Apply one of LEARNER_OPS to learner `who` (nothing for an erased learner, or for
    one not registered yet unless the op registers them); `learners` follows."""
    if who in erased:
        return
    learner = learners[who]
    known = repo.get_learner(learner.id) is not None
    if kind == "register" and not known:
        repo.save_profile(learner)
    elif kind == "move" and known:
        repo.move_learner(learner.id, arg, next(stamp))
        learners[who] = replace(learner, facility_id=arg)
    elif kind == "role" and known:
        learners[who] = replace(learner, role=arg, updated_at=next(stamp))
        assert repo.save_profile(learners[who]).status in ("updated", "unchanged")
    elif kind == "deactivate" and known:
        repo.set_deactivated(learner.id, next(stamp) if arg else None)
    elif kind == "erase" and known:
        repo.erase_learner(learner.id, next(stamp), fold=lambda gone: [])
        erased.add(who)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(OP, min_size=1, max_size=14), seed=st.integers(0, 2**32 - 1))
def test_group_totals_equal_the_old_query_after_any_history(repo: Repository, ops: list[Any],
                                                            seed: int) -> None:
    """Four learners (the last two register only when an op says so: their events may
    come first); the same database for every example, so earlier examples' rows count."""
    rnd = random.Random(seed)
    stamp = iter(f"2026-03-01T00:{m:02d}:{s:02d}.000Z" for m in range(60) for s in range(60))
    learners = [Learner(str(uuid.uuid4()), f"S-{uuid.uuid4().hex[:8]}", rnd.choice(FACILITIES),
                        rnd.choice(ROLES), "en", f"L{i}", None, next(stamp)) for i in range(4)]
    for learner in learners[:2]:
        repo.save_profile(learner)
    erased: set[int] = set()
    for op in ops:
        kind, who, arg = op if len(op) == 3 else (*op, None)
        if kind == "events":
            steps = [s for s in who if s[0] not in erased]
            if steps:
                events = make_events(learners, steps)
                repo.insert_events(rows_of(events, {lr.id: lr for lr in learners},
                                           parsed=rnd.random() < 0.5))
            continue
        if kind == "retention":
            repo.fold_events_before(f"2026-02-01T0{who}:00:00.000Z", fold=lambda gone: [])
            continue
        learner_op(repo, learners, erased, kind, who, arg, stamp)
    assert_totals_equal_the_old_query(repo)


def test_a_hand_edited_total_is_found_and_repaired(repo: Repository) -> None:
    learner = Learner(str(uuid.uuid4()), "S-1", "f1", "prison_officer", "en", "A", None, T0)
    repo.save_profile(learner)
    events = make_events([learner], [(0, "d1", 1, ("course.completed", {"course": "c1"}, {}))])
    repo.insert_events(rows_of(events, {learner.id: learner}, parsed=True))
    with repo._write() as cur:  # type: ignore[attr-defined]
        cur.execute("UPDATE group_courses SET completed = 7")
        cur.execute("DELETE FROM group_learners")
    assert repo.rebuild_aggregates(keep=False).matched is False
    assert repo.learner_groups() == {}                            # --check changed nothing
    assert repo.rebuild_aggregates().matched is False
    assert repo.learner_groups() == {("f1", "prison_officer"): 1}
    (count,) = repo.status_counts()
    assert (count.started, count.completed) == (1, 1)
    assert_totals_equal_the_old_query(repo)
    # the rebuild turned the triggers off for its bulk work, and on again
    repo.set_deactivated(learner.id, T0)
    assert repo.learner_groups() == {} and repo.status_counts() == []


def test_the_totals_follow_groups_and_courses_not_staff(repo: Repository) -> None:
    """200 learners of one group with progress in the same course: one row each."""
    learners = [Learner(str(uuid.uuid4()), f"S-{i}", "f2", "psychologist", "en", f"L{i}",
                        None, T0) for i in range(200)]
    for learner in learners:
        repo.save_profile(learner)
    events = make_events(learners, [(i, "d1", 1, ("card.viewed", {
        "course": "c1", "lesson": "l1", "card": "0"}, {})) for i in range(200)])
    repo.insert_events(rows_of(events, {lr.id: lr for lr in learners}, parsed=True))
    rows = repo._all("SELECT COUNT(*) FROM group_courses", ())  # type: ignore[attr-defined]
    assert rows[0][0] == 1
    assert repo.learner_groups() == {("f2", "psychologist"): 200}
    assert_totals_equal_the_old_query(repo)


def test_a_restored_backup_has_the_same_totals(tmp_path: Path,
                                               database_url: str | None) -> None:  # noqa: F811
    """A restore loads `learners` and `course_progress` (the triggers fire) and recomputes
    the totals instead of loading their saved rows, which would count everyone twice."""
    from sync_server.backup import create_backup, restore_backup
    from sync_server.settings import Settings
    from tests.unit.test_server_backup import dump, empty_target, fill

    settings = Settings(data_dir=tmp_path / "src", database_url=database_url)
    fill(settings, tmp_path)
    repo = open_repository(settings.effective_database_url)
    try:
        learners = [Learner(str(uuid.uuid4()), f"S-{i}", "f2", ROLES[i % 2], "en", f"L{i}",
                            None, T0) for i in range(3)]
        for learner in learners:
            repo.save_profile(learner)
        events = make_events(learners, [
            (0, "d1", 1, ("course.completed", {"course": "c1"}, {})),
            (1, "d1", 2, ("quiz.submitted", {"course": "c1", "attempt": "a"},
                          {"score": 90, "passed": True})),
            (2, "d2", 3, ("card.viewed", {"course": "c2", "lesson": "l", "card": "1"}, {}))])
        repo.insert_events(rows_of(events, {lr.id: lr for lr in learners}, parsed=True))
        repo.set_deactivated(learners[2].id, T0)
    finally:
        repo.close()
    create_backup(settings, tmp_path / "backup.zip")
    target = empty_target(tmp_path, settings)
    restore_backup(target, tmp_path / "backup.zip")
    before, after = dump(settings), dump(target)
    # the deactivated learner counts nowhere; the fill's learner is a group of its own
    assert len(before["group_courses"]) == 2 and len(before["group_learners"]) == 3
    for table in ("group_courses", "group_learners", "course_progress", "learners"):
        assert after[table] == before[table], table
    restored = open_repository(target.effective_database_url)
    try:
        assert restored.rebuild_aggregates(keep=False).matched
    finally:
        restored.close()


def test_migration_to_v14_fills_the_totals_of_an_existing_database(tmp_path: Path) -> None:
    import sqlite3

    from sync_server.db.migrate import apply_schema

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    cur = conn.cursor()
    cur.execute("BEGIN")
    cur.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    apply_schema(cur, "sqlite", current=0, target=13)
    cur.execute("INSERT INTO facilities VALUES ('f1', 'One', ?)", (T0,))
    for i, (role, gone) in enumerate([("prison_officer", None), ("prison_officer", None),
                                      ("psychologist", None), ("psychologist", T0)]):
        cur.execute("INSERT INTO learners (id, staff_number, staff_key, facility_id, role, "
                    "language, display_name, updated_at, rev, deactivated_at) "
                    "VALUES (?, ?, ?, 'f1', ?, 'en', 'A', ?, ?, ?)",
                    (f"l{i}", f"S-{i}", f"s-{i}", role, T0, i + 1, gone))
        cur.execute("INSERT INTO course_progress VALUES (?, 'pk', 'c1', 3, 1, '80', 1, ?, ?)",
                    (f"l{i}", T0 if i == 0 else None, T0))
    cur.execute("COMMIT")
    conn.close()
    repo = open_repository(f"sqlite:///{path}")
    try:
        assert repo.learner_groups() == {("f1", "prison_officer"): 2, ("f1", "psychologist"): 1}
        assert sorted((c.role, c.started, c.completed, c.passed_only) for c in
                      repo.status_counts()) == [("prison_officer", 2, 1, 1),
                                                ("psychologist", 1, 0, 1)]
        assert_totals_equal_the_old_query(repo, rebuild=False)   # rows made without events
    finally:
        repo.close()


@pytest.mark.postgres
def test_pushes_beside_bulk_learner_changes_on_postgresql(tmp_path: Path,
                                                          postgres_url: str) -> None:  # noqa: F811
    """Two server processes' worth of writers at once: one thread pushes progress and
    ratings, another deactivates and reactivates learners in bulk, in descending id order
    (the push's learners ascend). Every trigger-fired write holds the learners' writer
    lock, so neither deadlocks nor counts a learner in the wrong state; the totals then
    equal the old query."""
    import threading

    from sync_server.db.learners_bulk import PinSetupChange

    repo = open_repository(postgres_url, pool_size=4)
    try:
        for fac in FACILITIES:
            repo.create_facility(fac, fac.upper(), T0)
        people = [Learner(str(uuid.uuid4()), f"S-{i}", FACILITIES[i % 3], ROLES[i % 2], "en",
                          f"L{i}", None, T0) for i in range(12)]
        for learner in people:
            repo.save_profile(learner)
        by_id = {lr.id: lr for lr in people}
        rnd = random.Random(7)
        pushes = [make_events(people, [
            (rnd.randrange(12), "d1", 1 + k % 4, ("card.viewed", {
                "course": f"c{rnd.randrange(4)}", "lesson": "l", "card": str(rnd.randrange(9))},
                {})) for _ in range(40)]) for k in range(25)]
        failures: list[BaseException] = []

        def push() -> None:
            try:
                for events in pushes:
                    repo.insert_events(rows_of(events, by_id, parsed=True))
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                failures.append(exc)

        def churn() -> None:
            ids = sorted((lr.id for lr in people), reverse=True)[:8]
            try:
                for k in range(25):
                    repo.deactivate_learners(ids, f"2026-03-01T00:00:{k:02d}.000Z", audits=[])
                    repo.reactivate_learners(
                        [PinSetupChange(i, f"v{k}", "2027-01-01T00:00:00.000Z") for i in ids],
                        audits=[])
            except BaseException as exc:  # noqa: BLE001
                failures.append(exc)

        threads = [threading.Thread(target=push), threading.Thread(target=churn)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert_totals_equal_the_old_query(repo)
    finally:
        repo.close()
