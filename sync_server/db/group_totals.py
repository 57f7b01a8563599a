"""Per-group totals: what the dashboard's all-facility view reads, so its cost follows the
number of groups and courses, not the number of staff (issue 18; docs/admin-guide.md
"Report aggregates").

Two tables (schema version 14), kept by database triggers:

    group_learners   facility × role → active learners
    group_courses    facility × role × pack × course → active learners with any progress,
                     completed, passed only (quiz passed, course not completed), tried the
                     quiz, passed the quiz — the sums over `course_progress` rows that the
                     dashboard's status counts used to make on every request

Why triggers, not the ingest code: a learner's contribution moves whenever their row in
`course_progress` changes (ingest, erasure, retention, rebuild) *or* their row in
`learners` does (a move, a role change, a deactivation, a reactivation, an erasure, a
profile registered after its events). Triggers follow every one of these writers, and
any writer added later, in the same transaction. Each trigger adds or subtracts one row's
contribution, so the totals are exact integers.

PostgreSQL with several server processes: every transaction that fires these triggers
holds the learners' writer lock (LOCK_LEARNERS, db/locks.py) — the learner writers always
did; the ingest (after its event inserts: db/events.py), retention, rebuild and the gap
mapping's rewrite now do too. So no two
of them move totals at once: a move or role change cannot be counted in the wrong group
by an ingest running beside it, and two writers can never lock total rows in opposite
orders (a deadlock). SQLite has one writer at a time anyway.

A row whose counts fall to zero is deleted (a learner or a course row leaving); `regroup` recomputes both tables
from `learners` and `course_progress` (the v14 migration step, `rebuild-aggregates`, a
restore), and `rebuild-aggregates --check` says whether the kept totals equalled it.
"""

from __future__ import annotations

from typing import Any

from sync_server.db.triggers import (
    LEARNER_REGROUPS,
    Statement,
    postgres_function,
    postgres_trigger,
    sqlite_trigger,
)

_COURSE_KEY = "facility_id, role, pack_id, course_id"
_COUNTS = ("started", "completed", "passed_only", "tried", "passed")
#: one course_progress row's contribution to each count (`{r}`: the row's alias)
_CONTRIBUTION = ("1",
                 "CASE WHEN {r}.completed_at IS NULL THEN 0 ELSE 1 END",
                 "CASE WHEN {r}.completed_at IS NULL AND {r}.passed = 1 THEN 1 ELSE 0 END",
                 "CASE WHEN {r}.attempts > 0 THEN 1 ELSE 0 END",
                 "{r}.passed")

#: tables the triggers keep: a restore recomputes them instead of loading their rows
DERIVED_TABLES = frozenset({"group_learners", "group_courses"})

SCHEMA_TABLES = [
    """CREATE TABLE IF NOT EXISTS group_learners (
        facility_id TEXT NOT NULL, role TEXT NOT NULL, learners {bigint} NOT NULL,
        PRIMARY KEY (facility_id, role))""",
    f"""CREATE TABLE IF NOT EXISTS group_courses (
        facility_id TEXT NOT NULL, role TEXT NOT NULL, pack_id TEXT NOT NULL,
        course_id TEXT NOT NULL, {', '.join(f'{c} {{bigint}} NOT NULL' for c in _COUNTS)},
        PRIMARY KEY ({_COURSE_KEY}))""",
]


def _contribution(row: str, sign: int) -> str:
    return ", ".join(("-" if sign < 0 else "") + f"({e.format(r=row)})" for e in _CONTRIBUTION)


def _add_courses(select: str) -> str:
    """INSERT … SELECT of per-course contributions, summed into group_courses."""
    sets = ", ".join(f"{c} = group_courses.{c} + excluded.{c}" for c in _COUNTS)
    return (f"INSERT INTO group_courses ({_COURSE_KEY}, {', '.join(_COUNTS)}) {select} "
            f"ON CONFLICT ({_COURSE_KEY}) DO UPDATE SET {sets}")


def _add_learner(facility: str, role: str, sign: int, when: str) -> str:
    return ("INSERT INTO group_learners (facility_id, role, learners) "
            f"SELECT {facility}, {role}, {sign} WHERE {when} ON CONFLICT (facility_id, role) "
            "DO UPDATE SET learners = group_learners.learners + excluded.learners")


def _progress_row(row: str, sign: int) -> str:
    """One course_progress row (`NEW` / `OLD`) into its active learner's group."""
    return _add_courses(
        f"SELECT l.facility_id, l.role, {row}.pack_id, {row}.course_id, "
        f"{_contribution(row, sign)} FROM learners l "
        f"WHERE l.id = {row}.learner_id AND l.deactivated_at IS NULL")


def _learner_rows(row: str, sign: int) -> str:
    """Every course_progress row of one learner (`NEW` / `OLD`) into (or out of) the
    learner's group, when that learner row is active."""
    return _add_courses(
        f"SELECT {row}.facility_id, {row}.role, p.pack_id, p.course_id, "
        f"{_contribution('p', sign)} FROM course_progress p "
        f"WHERE p.learner_id = {row}.id AND {row}.deactivated_at IS NULL")


def _learner(row: str, sign: int) -> list[str]:
    out = [_add_learner(f"{row}.facility_id", f"{row}.role", sign,
                        f"{row}.deactivated_at IS NULL"),
           _learner_rows(row, sign)]
    if sign < 0:          # a group's rows that fell to zero go
        out += [f"DELETE FROM group_learners WHERE facility_id = {row}.facility_id "
                f"AND role = {row}.role AND learners = 0",
                f"DELETE FROM group_courses WHERE facility_id = {row}.facility_id "
                f"AND role = {row}.role AND started = 0"]
    return out


def _prune_course(row: str) -> str:
    """After a course_progress row went: its group × course row, if it fell to zero."""
    return ("DELETE FROM group_courses WHERE started = 0 AND "
            f"pack_id = {row}.pack_id AND course_id = {row}.course_id AND "
            f"facility_id = (SELECT facility_id FROM learners WHERE id = {row}.learner_id) AND "
            f"role = (SELECT role FROM learners WHERE id = {row}.learner_id)")


def _sqlite_triggers() -> list[Statement]:
    return [
        sqlite_trigger("group_progress_in", "INSERT ON course_progress", [_progress_row("NEW", 1)]),
        sqlite_trigger("group_progress_change", "UPDATE ON course_progress",
                       [_progress_row("OLD", -1), _progress_row("NEW", 1)]),
        sqlite_trigger("group_progress_out", "DELETE ON course_progress",
                       [_progress_row("OLD", -1), _prune_course("OLD")]),
        sqlite_trigger("group_learner_in", "INSERT ON learners", _learner("NEW", 1)),
        sqlite_trigger("group_learner_out", "DELETE ON learners", _learner("OLD", -1)),
        sqlite_trigger("group_learner_change",
                       "UPDATE OF facility_id, role, deactivated_at ON learners",
                       _learner("OLD", -1) + _learner("NEW", 1), LEARNER_REGROUPS),
    ]


def _postgres_triggers() -> list[Statement]:
    return [
        postgres_function("group_progress_follow", {
            "UPDATE DELETE": [_progress_row("OLD", -1)],
            "DELETE": [_prune_course("OLD")],
            "INSERT UPDATE": [_progress_row("NEW", 1)]}),
        postgres_function("group_learner_follow", {
            "UPDATE DELETE": _learner("OLD", -1),
            "INSERT UPDATE": _learner("NEW", 1)}),
        *postgres_trigger("group_progress_follow", "course_progress",
                          "INSERT OR UPDATE OR DELETE", "group_progress_follow"),
        *postgres_trigger("group_learner_in_out", "learners", "INSERT OR DELETE",
                          "group_learner_follow"),
        *postgres_trigger("group_learner_change", "learners",
                          "UPDATE OF facility_id, role, deactivated_at", "group_learner_follow",
                          LEARNER_REGROUPS),
    ]


#: schema version 14's statements (db/schema.py)
SCHEMA: list[str | tuple[str, str]] = [*SCHEMA_TABLES, *_sqlite_triggers(), *_postgres_triggers()]


def regroup(cur: Any) -> None:
    """Recompute both tables from `learners` and `course_progress` (inside the caller's
    write transaction)."""
    cur.execute("DELETE FROM group_learners")
    cur.execute("DELETE FROM group_courses")
    cur.execute("INSERT INTO group_learners (facility_id, role, learners) "
                "SELECT facility_id, role, COUNT(*) FROM learners "
                "WHERE deactivated_at IS NULL GROUP BY facility_id, role")
    sums = ", ".join(f"SUM({e.format(r='p')})" for e in _CONTRIBUTION)
    cur.execute(f"INSERT INTO group_courses ({_COURSE_KEY}, {', '.join(_COUNTS)}) "
                f"SELECT l.facility_id, l.role, p.pack_id, p.course_id, {sums} "
                "FROM course_progress p JOIN learners l ON l.id = p.learner_id "
                "WHERE l.deactivated_at IS NULL "
                "GROUP BY l.facility_id, l.role, p.pack_id, p.course_id")


def group_filter(facility: str, role: str) -> tuple[str, tuple[str, ...]]:
    """` AND …` of the dashboard's facility / role filter on a per-group totals table
    ("" = every facility / role)."""
    where, params = "", []
    for column, value in (("facility_id", facility), ("role", role)):
        if value:
            where += f" AND {column} = ?"
            params.append(value)
    return where, tuple(params)


#: what `aggregates.snapshot` compares (rows with counts of zero left out)
SNAPSHOT_TABLES = {
    "group_learners": "facility_id, role, learners FROM group_learners WHERE learners <> 0 "
                      "ORDER BY facility_id, role",
    "group_courses": f"{_COURSE_KEY}, {', '.join(_COUNTS)} FROM group_courses "
                     f"WHERE {' OR '.join(f'{c} <> 0' for c in _COUNTS)} ORDER BY {_COURSE_KEY}",
}
