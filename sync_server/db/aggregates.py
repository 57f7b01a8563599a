"""Report aggregates: what the dashboard and the progress CSV read instead of the events.

Three tables (schema version 7), kept by the ingest in the same transaction as the
events it stores (`apply_events`, called by EventSql.insert_events under LOCK_EVENTS and
LOCK_LEARNERS, so every writer of these tables is serialised and a read-merge-write is
safe; LOCK_LEARNERS for the per-group totals their triggers move, db/group_totals.py):

    course_progress  learner × pack × course: cards viewed, attempts, best score,
                     passed, completed_at, last_at (db/aggregate_fold.py)
    course_sets      the same key: the sets of cards and attempts behind the counts
    self_ratings     learner × profile × task: the latest self-assessment level
    event_totals     facility → number of stored events (moved with a learner)

Only rows an insert newly stored are applied, and every merge is a set union, maximum or
minimum, so duplicates change nothing and order does not matter. `rebuild` recomputes
all three from the events (the v7 migration step and `python -m sync_server
rebuild-aggregates`); tests check that the incremental tables always equal it.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from sync_server.db.aggregate_fold import (
    AGGREGATE_TYPES,
    Contribution,
    CourseAgg,
    CourseKey,
    Rating,
    fold,
    parsed,
)
from sync_server.db.base import SqlBase, in_lists, placeholders
from sync_server.db.gap_totals import META_KEY as GAP_MAPPING_KEY
from sync_server.db.gap_totals import SNAPSHOT_TABLES as GAP_TABLES
from sync_server.db.gap_totals import regap, replace_mapping, rounded
from sync_server.db.group_totals import SNAPSHOT_TABLES as GROUP_TABLES
from sync_server.db.group_totals import group_filter, regroup
from sync_server.db.locks import LOCK_EVENTS, LOCK_LEARNERS
from sync_server.db.triggers import TOTALS_SOURCES, triggers_off

LEARNER_BATCH = 200      # learners per query when loading or rebuilding
STREAM_ROWS = 2000       # rows per fetch of a streamed report
UPSERT_ROWS = 200        # rows per aggregate upsert statement (≤ 1,800 parameters)

_COURSE_COLS = "cards_viewed, attempts, best_score, passed, completed_at, last_at"


#: learner, facility, role, profile, task, level
RatingRow = tuple[Any, ...]


@dataclass(frozen=True)
class LatestRating:
    learner_id: str
    profile_id: str
    task_id: str
    level: int


class ProgressRow(NamedTuple):
    """One line of the progress report: a learner × course with any progress (a tuple:
    the report streams tens of thousands of them)."""
    staff_number: str
    display_name: str
    facility_id: str
    role: str
    pack_id: str
    course_id: str
    cards_viewed: int
    attempts: int
    best_score: str | None
    passed: int               # 1 when any attempt passed, else 0
    completed_at: str | None
    certificate_id: str | None
    learner_id: str


@dataclass(frozen=True)
class RebuildCounts:
    courses: int
    ratings: int
    events: int


@dataclass(frozen=True)
class Rebuilt:
    counts: RebuildCounts
    matched: bool          # the stored aggregates equalled the recompute


#: every aggregate row, table by table, in key order (tests and `--check` compare these)
Snapshot = dict[str, list[tuple[Any, ...]]]
_TABLES = {
    "course_progress": f"learner_id, pack_id, course_id, {_COURSE_COLS}",
    "course_sets": "learner_id, pack_id, course_id, cards, attempt_ids",
    "self_ratings": "learner_id, profile_id, task_id, level, at, device, seq, event_id",
    "event_totals": "facility_id, events",
}


class _Undo(Exception):
    """Raised inside a write transaction to roll a `--check` rebuild back."""


class AggregateStore(Protocol):
    def learner_groups(self, facility: str = "", role: str = "") -> dict[tuple[str, str], int]:
        """(facility, role) → number of learners ("" filters = all)."""
        ...

    def latest_ratings(self, facility: str = "", role: str = "") -> list[LatestRating]:
        """The latest self-assessment level of every task each learner rated."""
        ...

    def rating_rows(self, facility: str = "", role: str = "") -> list[RatingRow]:
        """(learner, facility, role, profile, task, level) of every latest rating — plain
        tuples: the gap map reads one per learner × task."""
        ...

    def progress_rows(self) -> Iterator[ProgressRow]:
        """Every learner × course with progress, ordered by staff number, pack, course,
        fetched a few thousand rows at a time (a server-side cursor on PostgreSQL)."""
        ...

    def completed_courses(self, keys: Iterable[CourseKey]) -> set[CourseKey]:
        """The (learner, pack, course) keys among `keys` with a stored `course.completed`
        (`completed_at` set): the certificate issuer judges only those (a quiz submitted
        before any completion cannot issue), without folding the learner's history."""
        ...

    def rebuild_aggregates(self, *, keep: bool = True) -> Rebuilt:
        """Recompute every aggregate from the stored events (one transaction; rolled back
        when not `keep`) and say whether the stored ones were equal."""
        ...

    def aggregate_snapshot(self) -> Snapshot:
        """Every aggregate row (for checks and tests; size follows learners, not events)."""
        ...

    def gap_mapping_key(self) -> str | None:
        """The key of the self-assessment mapping the gap totals follow (None: none yet)."""
        ...

    def replace_gap_mapping(self, rows: list[tuple[str, str, str, str, str, int]],
                            key: str) -> bool:
        """Store a new mapping, (facility, role, profile, task, duty, expected level) rows,
        under `key` and recompute the gap totals — unless `key` is stored already."""
        ...


# ----- writing (on the cursor of the caller's write transaction) ------------------------

def apply_events(cur: Any, dialect: str, totals: Counter[str],
                 events: Iterable[dict[str, Any]]) -> None:
    """Add newly stored events: `totals` counts them per facility, `events` are those of
    AGGREGATE_TYPES (parsed)."""
    sql = _Sql(cur, dialect)
    new = fold(events)
    same = _Unchanged()             # rows the batch leaves as they are: not written again
    if new.courses or new.ratings:
        learners = sorted(new.learners)
        for key, agg in sql.load_courses(learners, set(new.courses)).items():
            before, sizes = agg.columns(), (len(agg.cards), len(agg.attempts))
            agg.merge(new.courses[key])             # unions: equal sizes = equal sets
            new.courses[key] = agg
            if (len(agg.cards), len(agg.attempts)) == sizes:
                same.sets.add(key)
                if agg.columns() == before:
                    same.courses.add(key)
        for key, rating in sql.load_ratings(learners, set(new.ratings)).items():
            if rating.order >= new.ratings[key].order:
                new.ratings[key] = rating
                same.ratings.add(key)
    with sql.pipeline():            # the writes need no answer: one round trip
        if totals:
            cur.executemany(sql.q(
                "INSERT INTO event_totals (facility_id, events) VALUES (?, ?) ON CONFLICT "
                "(facility_id) DO UPDATE SET events = event_totals.events + excluded.events"),
                sorted(totals.items()))
        sql.upsert(new, same)


def move_totals(cur: Any, dialect: str, learner_id: str, facility_id: str) -> None:
    """Before a learner's events move to `facility_id`: carry their count along."""
    sql = _Sql(cur, dialect)
    cur.execute(sql.q("SELECT facility_id, COUNT(*) FROM events WHERE learner_id = ? "
                      "GROUP BY facility_id"), (learner_id,))
    moved = {fac: int(n) for fac, n in cur.fetchall() if fac != facility_id}
    if not moved:
        return
    cur.executemany(sql.q("UPDATE event_totals SET events = events - ? WHERE facility_id = ?"),
                    [(n, fac) for fac, n in sorted(moved.items())])
    apply_events(cur, dialect, Counter({facility_id: sum(moved.values())}), ())


def forget_events(cur: Any, dialect: str, learners: list[str],
                  removed: Counter[str]) -> None:
    """After events were deleted (erasure, retention: db/erasure.py), in the same
    transaction: take them out of the facility totals (`removed`: deleted events per
    facility) and recompute the learners' rows from the events they still have (none
    after an erasure) — so the aggregates stay what `rebuild` would make."""
    sql = _Sql(cur, dialect)
    if removed:
        cur.executemany(sql.q("UPDATE event_totals SET events = events - ? "
                              "WHERE facility_id = ?"),
                        [(n, fac) for fac, n in sorted(removed.items())])
    types = ",".join("?" * len(AGGREGATE_TYPES))
    unique = sorted(set(learners))
    for part, marks in in_lists(unique, LEARNER_BATCH):
        for table in ("course_progress", "course_sets", "self_ratings"):
            cur.execute(sql.q(f"DELETE FROM {table} WHERE learner_id IN ({marks})"), part)
        cur.execute(sql.q(f"SELECT content FROM events WHERE learner_id IN ({marks}) "
                          f"AND type IN ({types})"), (*part, *AGGREGATE_TYPES))
        sql.upsert(fold(parsed(content) for (content,) in cur.fetchall()))


def rebuild(cur: Any, dialect: str) -> RebuildCounts:
    """Recompute the aggregates from the events (inside the caller's write transaction),
    a batch of learners at a time so memory follows the batch, not the history."""
    sql = _Sql(cur, dialect)
    for table in ("course_progress", "course_sets", "self_ratings", "event_totals"):
        cur.execute(f"DELETE FROM {table}")
    cur.execute("INSERT INTO event_totals (facility_id, events) "
                "SELECT facility_id, COUNT(*) FROM events GROUP BY facility_id")
    cur.execute("SELECT DISTINCT learner_id FROM events ORDER BY learner_id")
    learners = [str(r[0]) for r in cur.fetchall()]
    types = ",".join("?" * len(AGGREGATE_TYPES))
    courses = ratings = 0
    for part, marks in in_lists(learners, LEARNER_BATCH):
        cur.execute(sql.q(f"SELECT content FROM events WHERE learner_id IN ({marks}) "
                          f"AND type IN ({types})"), (*part, *AGGREGATE_TYPES))
        new = fold(parsed(content) for (content,) in cur.fetchall())
        sql.upsert(new)
        courses += len(new.courses)
        ratings += len(new.ratings)
    cur.execute("SELECT COALESCE(SUM(events), 0) FROM event_totals")
    return RebuildCounts(courses, ratings, int(cur.fetchone()[0]))


@dataclass
class _Unchanged:
    """Keys whose stored row a batch does not change (apply_events skips their upsert)."""
    courses: set[CourseKey] = field(default_factory=set)
    sets: set[CourseKey] = field(default_factory=set)
    ratings: set[CourseKey] = field(default_factory=set)


class _Sql:
    """The statements of apply_events / rebuild on one cursor."""

    def __init__(self, cur: Any, dialect: str) -> None:
        self.cur = cur
        self.dialect = dialect

    def q(self, sql: str) -> str:
        return placeholders(self.dialect, sql)

    def pipeline(self) -> AbstractContextManager[Any]:
        """PostgreSQL: statements sent together and their results read at the end
        (psycopg's pipeline mode: one round trip instead of one per statement, while the
        ingest holds the write lock); SQLite runs in-process, nothing to save."""
        if self.dialect == "sqlite":
            return contextlib.nullcontext()
        return self.cur.connection.pipeline()  # type: ignore[no-any-return]

    def _by_learners(self, select: str, learners: list[str],
                     column: str = "learner_id") -> Iterator[tuple[Any, ...]]:
        for part, marks in in_lists(learners, LEARNER_BATCH):
            self.cur.execute(self.q(f"{select} WHERE {column} IN ({marks})"), part)
            yield from self.cur.fetchall()

    def load_courses(self, learners: list[str], keys: set[CourseKey]) -> dict[CourseKey, CourseAgg]:
        found = {}
        for lid, pack, course, cards, attempts, best, passed, done, last in self._by_learners(
                "SELECT p.learner_id, p.pack_id, p.course_id, s.cards, s.attempt_ids, "
                "p.best_score, p.passed, p.completed_at, p.last_at FROM course_progress p "
                "JOIN course_sets s ON s.learner_id = p.learner_id AND s.pack_id = p.pack_id "
                "AND s.course_id = p.course_id", learners, "p.learner_id"):
            if (lid, pack, course) in keys:
                found[(lid, pack, course)] = CourseAgg.from_columns(cards, attempts, best, passed,
                                                                    done, last)
        return found

    def load_ratings(self, learners: list[str], keys: set[CourseKey]) -> dict[CourseKey, Rating]:
        found = {}
        for lid, profile, task, level, at, device, seq, eid in self._by_learners(
                "SELECT learner_id, profile_id, task_id, level, at, device, seq, event_id "
                "FROM self_ratings", learners):
            if (lid, profile, task) in keys:
                found[(lid, profile, task)] = Rating((at, device, int(seq), eid), int(level))
        return found

    def upsert(self, new: Contribution, same: _Unchanged | None = None) -> None:
        same = same or _Unchanged()
        courses = sorted((k, v) for k, v in new.courses.items() if k not in same.courses)
        sets = sorted((k, v) for k, v in new.courses.items() if k not in same.sets)
        ratings = sorted((k, v) for k, v in new.ratings.items() if k not in same.ratings)
        cols = _COURSE_COLS.split(", ")
        self._upsert("course_progress", ["learner_id", "pack_id", "course_id", *cols],
                     "learner_id, pack_id, course_id",
                     [(*key, *agg.columns()) for key, agg in courses])
        self._upsert("course_sets", ["learner_id", "pack_id", "course_id", "cards", "attempt_ids"],
                     "learner_id, pack_id, course_id",
                     [(*key, *agg.set_columns()) for key, agg in sets])
        self._upsert("self_ratings", ["learner_id", "profile_id", "task_id", "level", "at",
                                      "device", "seq", "event_id"],
                     "learner_id, profile_id, task_id",
                     [(*key, r.level, *r.order) for key, r in ratings])

    def _upsert(self, table: str, columns: list[str], key: str,
                rows: list[tuple[Any, ...]]) -> None:
        """INSERT … ON CONFLICT (key) DO UPDATE of `rows` (unique keys), UPSERT_ROWS rows
        per statement: one SQLite step or PostgreSQL round trip instead of one per row,
        each of which gives the GIL up and must win it back while the ingest holds the
        write lock."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key.split(", "))
        one = "(" + ",".join("?" * len(columns)) + ")"
        for start in range(0, len(rows), UPSERT_ROWS):
            part = rows[start:start + UPSERT_ROWS]
            self.cur.execute(self.q(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {','.join([one] * len(part))} "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates}"),
                [value for row in part for value in row])


# ----- reading ------------------------------------------------------------------------

def _filters(facility: str, role: str) -> tuple[str, tuple[str, ...]]:
    """The dashboard's learners: active ones (a deactivated leaver is not "still to
    train", issue 21) of the facility and role asked for."""
    where, params = ["l.deactivated_at IS NULL"], []
    if facility:
        where.append("l.facility_id = ?")
        params.append(facility)
    if role:
        where.append("l.role = ?")
        params.append(role)
    return " WHERE " + " AND ".join(where), tuple(params)


class AggregateSql(SqlBase):
    def learner_groups(self, facility: str = "", role: str = "") -> dict[tuple[str, str], int]:
        # the per-group totals the triggers keep (db/group_totals.py)
        where, params = group_filter(facility, role)
        return {(f, r): int(n) for f, r, n in self._all(
            f"SELECT facility_id, role, learners FROM group_learners WHERE learners <> 0{where}",
            params)}

    def latest_ratings(self, facility: str = "", role: str = "") -> list[LatestRating]:
        where, params = _filters(facility, role)
        return [LatestRating(lid, p, t, int(v)) for lid, p, t, v in self._all(
            "SELECT s.learner_id, s.profile_id, s.task_id, s.level FROM self_ratings s "
            f"JOIN learners l ON l.id = s.learner_id{where}", params)]

    def rating_rows(self, facility: str = "", role: str = "") -> list[RatingRow]:
        where, params = _filters(facility, role)
        return self._all("SELECT s.learner_id, l.facility_id, l.role, s.profile_id, s.task_id, "
                         f"s.level FROM self_ratings s JOIN learners l ON l.id = s.learner_id"
                         f"{where}", params)

    def progress_rows(self) -> Iterator[ProgressRow]:
        # code-point order of the text, as Python sorts it (PostgreSQL's default
        # collation would follow the locale)
        c = ' COLLATE "C"' if self.dialect == "postgresql" else ""
        sql = ("SELECT l.staff_number, l.display_name, l.facility_id, l.role, p.pack_id, "
               "p.course_id, p.cards_viewed, p.attempts, p.best_score, p.passed, "
               "p.completed_at, c.id, p.learner_id FROM course_progress p "
               "JOIN learners l ON l.id = p.learner_id "
               "LEFT JOIN certificates c ON c.learner_id = p.learner_id "
               "AND c.pack_id = p.pack_id AND c.course_id = p.course_id "
               f"ORDER BY l.staff_number{c}, p.pack_id{c}, p.course_id{c}, p.learner_id")
        make = ProgressRow._make
        for r in self._stream(sql, (), STREAM_ROWS):
            yield make(r)

    def completed_courses(self, keys: Iterable[CourseKey]) -> set[CourseKey]:
        wanted = set(keys)
        learners = sorted({k[0] for k in wanted})
        found: set[CourseKey] = set()
        for part, marks in in_lists(learners, LEARNER_BATCH):
            for row in self._all("SELECT learner_id, pack_id, course_id FROM course_progress "
                                 f"WHERE completed_at IS NOT NULL AND learner_id IN ({marks})",
                                 part):
                key = (str(row[0]), str(row[1]), str(row[2]))
                if key in wanted:
                    found.add(key)
        return found

    def rebuild_aggregates(self, *, keep: bool = True) -> Rebuilt:
        try:
            with self._write(LOCK_EVENTS, LOCK_LEARNERS) as cur:     # (group_totals.py)
                before = snapshot(cur)
                # row by row the totals' triggers would redo what regroup / regap do
                with triggers_off(cur, self.dialect, TOTALS_SOURCES):
                    counts = rebuild(cur, self.dialect)
                regroup(cur)
                regap(cur, self.dialect)
                result = Rebuilt(counts, snapshot(cur) == before)
                if not keep:
                    raise _Undo
        except _Undo:
            pass
        return result

    def aggregate_snapshot(self) -> Snapshot:
        with self._read() as cur:
            return snapshot(cur)

    def gap_mapping_key(self) -> str | None:
        row = self._one("SELECT value FROM server_meta WHERE name = ?", (GAP_MAPPING_KEY,))
        return str(row[0]) if row else None

    def replace_gap_mapping(self, rows: list[tuple[str, str, str, str, str, int]],
                            key: str) -> bool:
        # LOCK_LEARNERS too: a learner's move or new role remakes their gap rows, which
        # the recompute replaces (the same order of locks as every other writer)
        with self._write(LOCK_EVENTS, LOCK_LEARNERS) as cur:
            return replace_mapping(cur, self.dialect, rows, key)


def snapshot(cur: Any) -> Snapshot:
    out: Snapshot = {}
    for table, cols in _TABLES.items():
        keys = ", ".join(c for c in cols.split(", ")[:3] if c != "events")
        cur.execute(f"SELECT {cols} FROM {table} ORDER BY {keys}")
        out[table] = [tuple(int(v) if isinstance(v, int) else v for v in row)
                      for row in cur.fetchall()]
    if out["event_totals"]:
        out["event_totals"] = [r for r in out["event_totals"] if r[1] != 0]
    for table, select in {**GROUP_TABLES, **GAP_TABLES}.items():
        cur.execute(f"SELECT {select}")
        out[table] = [rounded(tuple(int(v) if isinstance(v, int) else v for v in row))
                      for row in cur.fetchall()]
    return out
