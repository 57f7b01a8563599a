"""Erasure tombstones and the anonymous per-course summary (docs/privacy.md).

`erase_learner` does a learner's erasure in **one** write transaction (events and
learners serialised, LOCK_EVENTS + LOCK_LEARNERS, so no push can slip a row in between):
their events are folded into `course_summary` (counts only, no identifier) by the
caller's `fold` and deleted; their certificates are revoked and their signed credential
(which holds the name) is replaced by `{}` — the row stays so the revocation status list
keeps its bit and /verify can say "revoked" without personal data; their profile is
deleted; a tombstone (`erasures`, learner id + time) is added, whose `seq` is the
tombstone pull cursor; and the audit entry is written with it.

A tombstone is what stops the learner coming back: a pushed profile or event of an
erased learner is refused (db/learners.py `save_profile`, db/events.py `insert_events`
check it inside their own transactions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sync_server.db.aggregates import forget_events
from sync_server.db.audit import AuditEntry, insert_audit
from sync_server.db.base import SqlBase, in_lists, placeholders
from sync_server.db.learners import keep_last_rev
from sync_server.db.locks import LOCK_EVENTS, LOCK_LEARNERS
from sync_server.errors import NotFoundError

ERASED_REASON = "the learner's record was erased"
#: learners per retention transaction (db/aggregates.py reads theirs in one query)
RETENTION_GROUP = 200
#: events (kept and old) of a retention transaction's learners: their report rows are
#: recomputed from every event they keep (≈ 8 µs each), under the write lock
RETENTION_READ = 40_000


@dataclass(frozen=True)
class SummaryRow:
    """Counts of one course in one facility and year; no learner, no event id."""

    pack_id: str
    course_id: str
    facility_id: str
    year: str
    events: int = 0
    quiz_attempts: int = 0
    quiz_passes: int = 0
    completions: int = 0


@dataclass(frozen=True)
class Tombstone:
    seq: int
    learner_id: str
    erased_at: str


@dataclass(frozen=True)
class ErasureCounts:
    events: int
    certificates: int


#: (facility_id, event content JSON) of the events going → the summary rows to add
Fold = Callable[[list[tuple[str, str]]], list[SummaryRow]]
#: how many rows an action removed → its audit entry (None: nothing to record)
AuditFor = Callable[[int], AuditEntry | None]


class ErasureStore(Protocol):
    def erase_learner(self, learner_id: str, now: str, *, fold: Fold,
                      audit: AuditEntry | None = None) -> ErasureCounts:
        """Erase one learner (module docstring). NotFoundError for an unknown learner
        (also one erased already: see `erased_among`)."""
        ...

    def erased_among(self, learner_ids: list[str]) -> set[str]:
        """Which of these learners were erased."""
        ...

    def tombstones_after(self, after_seq: int, limit: int) -> list[Tombstone]:
        """Tombstones after the cursor, in seq order (every facility: a tombstone names
        only an id, and a learner may have moved between facilities)."""
        ...

    def course_summaries(self) -> list[SummaryRow]: ...

    def deletion_mark(self) -> int:
        """A number that grows whenever events are deleted (erasure, retention), so a
        cache of events in any server process can tell that it must be dropped."""
        ...

    def fold_events_before(self, cutoff: str, *, fold: Fold, batch: int = 5000,
                           audit: AuditFor | None = None) -> int:
        """Retention: fold events whose `at` is before `cutoff` into the summary and delete
        them, a group of learners per transaction (about `batch` of those events; each
        transaction atomic); returns how many went. Each transaction that deletes events
        writes its own audit entry, `audit(n)` of its n; a run that wrote none asks
        `audit(0)` once."""
        ...


def add_summary(cur: Any, dialect: str, rows: list[SummaryRow]) -> None:
    """Add counts to `course_summary` in the caller's transaction."""
    merged: dict[tuple[str, str, str, str], list[int]] = {}
    for r in rows:
        acc = merged.setdefault((r.pack_id, r.course_id, r.facility_id, r.year), [0, 0, 0, 0])
        for i, n in enumerate((r.events, r.quiz_attempts, r.quiz_passes, r.completions)):
            acc[i] += n
    if not merged:
        return
    cur.executemany(placeholders(dialect, (
        "INSERT INTO course_summary (pack_id, course_id, facility_id, year, events, "
        "quiz_attempts, quiz_passes, completions) VALUES (?,?,?,?,?,?,?,?) "
        "ON CONFLICT (pack_id, course_id, facility_id, year) DO UPDATE SET "
        "events = course_summary.events + excluded.events, "
        "quiz_attempts = course_summary.quiz_attempts + excluded.quiz_attempts, "
        "quiz_passes = course_summary.quiz_passes + excluded.quiz_passes, "
        "completions = course_summary.completions + excluded.completions")),
        [(*key, *counts) for key, counts in sorted(merged.items())])


def old_events_per_learner(dialect: str) -> str:
    """(learner, how many) of the events before a cutoff, through the index events_at.
    SQLite without statistics would rather scan every event in learner order (to group
    without sorting) than read the few before the cutoff: INDEXED BY says which."""
    source = "events INDEXED BY events_at" if dialect == "sqlite" else "events"
    return (f"SELECT learner_id, COUNT(*) FROM {source} WHERE at < ? "
            "GROUP BY learner_id ORDER BY learner_id")


def _mark_deletion(cur: Any, dialect: str) -> None:
    cur.execute(placeholders(dialect, (
        "INSERT INTO server_meta (name, value) VALUES ('deletions', '1') "
        "ON CONFLICT (name) DO UPDATE SET value = "
        "CAST(CAST(server_meta.value AS INTEGER) + 1 AS TEXT)")))


class ErasureSql(SqlBase):
    def deletion_mark(self) -> int:
        row = self._one("SELECT value FROM server_meta WHERE name = 'deletions'")
        return int(row[0]) if row else 0

    def erase_learner(self, learner_id: str, now: str, *, fold: Fold,
                      audit: AuditEntry | None = None) -> ErasureCounts:
        with self._write(LOCK_EVENTS, LOCK_LEARNERS) as cur:
            cur.execute(self._sql("SELECT 1 FROM learners WHERE id = ?"), (learner_id,))
            if cur.fetchone() is None:
                raise NotFoundError(f"learner {learner_id!r} does not exist")
            cur.execute(self._sql("SELECT facility_id, content FROM events WHERE "
                                  "learner_id = ?"), (learner_id,))
            gone = [(str(f), str(c)) for f, c in cur.fetchall()]
            add_summary(cur, self.dialect, fold(gone))
            cur.execute(self._sql("DELETE FROM events WHERE learner_id = ?"), (learner_id,))
            forget_events(cur, self.dialect, [learner_id], Counter(f for f, _ in gone))
            _mark_deletion(cur, self.dialect)
            cur.execute(self._sql(
                "UPDATE certificates SET revoked_at = COALESCE(revoked_at, ?), "
                "revoked_by = COALESCE(revoked_by, ?), revoke_reason = ?, credential = '{}', "
                "delivered_at = COALESCE(delivered_at, ?) WHERE learner_id = ?"),
                (now, audit.actor if audit else "erasure", ERASED_REASON, now, learner_id))
            certificates = int(cur.rowcount)
            keep_last_rev(cur, self.dialect)           # (a revision is never given twice)
            cur.execute(self._sql("DELETE FROM learners WHERE id = ?"), (learner_id,))
            cur.execute(self._sql("INSERT INTO erasures (learner_id, erased_at) VALUES (?, ?)"),
                        (learner_id, now))
            if audit is not None:
                insert_audit(cur, self.dialect, audit)
        return ErasureCounts(len(gone), certificates)

    def erased_among(self, learner_ids: list[str]) -> set[str]:
        found: set[str] = set()
        unique = sorted(set(learner_ids))
        for part, marks in in_lists(unique):
            found.update(r[0] for r in self._all(
                f"SELECT learner_id FROM erasures WHERE learner_id IN ({marks})", part))
        return found

    def tombstones_after(self, after_seq: int, limit: int) -> list[Tombstone]:
        return [Tombstone(int(s), lid, at) for s, lid, at in self._all(
            "SELECT seq, learner_id, erased_at FROM erasures WHERE seq > ? ORDER BY seq "
            "LIMIT ?", (after_seq, limit))]

    def course_summaries(self) -> list[SummaryRow]:
        return [SummaryRow(p, c, f, y, int(e), int(a), int(s), int(n))
                for p, c, f, y, e, a, s, n in self._all(
                    "SELECT pack_id, course_id, facility_id, year, events, quiz_attempts, "
                    "quiz_passes, completions FROM course_summary "
                    "ORDER BY pack_id, course_id, facility_id, year")]

    def fold_events_before(self, cutoff: str, *, fold: Fold, batch: int = 5000,
                           audit: AuditFor | None = None) -> int:
        """A group of learners per transaction (`_learner_groups`): each transaction
        deletes those learners' events past the period and recomputes their report rows
        once (forget_events reads every event they keep). In `seq` batches a learner's
        rows were recomputed in every batch that held one of their events, and a batch
        held thousands of learners: a day's worth of 1M events (10,000 of 5,000
        learners) held the write lock 3.8 s per batch of 5,000.

        Each transaction that deletes events records its own audit entry (`audit(n)`, n
        its deletions): a run stopped between two groups — a restart, a full disk —
        leaves every deletion it committed audited. A run that recorded nothing asks
        `audit(0)` once at the end (a command-line run is recorded even then)."""
        total = 0
        recorded = False
        for group in self._learner_groups(cutoff, batch):
            with self._write(LOCK_EVENTS, LOCK_LEARNERS) as cur:     # (group_totals.py)
                gone = self._fold_learners(cur, cutoff, group, fold)
                entry = audit(gone) if audit is not None and gone else None
                if entry is not None:
                    insert_audit(cur, self.dialect, entry)
                    recorded = True
            total += gone
        entry = audit(0) if audit is not None and not recorded else None
        if entry is not None:
            with self._write() as cur:
                insert_audit(cur, self.dialect, entry)
        return total

    def _learner_groups(self, cutoff: str, batch: int) -> list[list[str]]:
        """The learners with events before `cutoff`, in groups of at most RETENTION_GROUP
        learners, about `batch` of those events and about RETENTION_READ events in all
        (what the recompute reads: learners who keep long histories make smaller groups,
        so a transaction holds the write lock ≈ 0.3 s whatever the histories' length; a
        learner over either bound is a group of their own). Read through the index
        events_at (schema 16) and events_learner, without the write lock: most days
        nothing is past the period and no event is read (it used to be every event,
        under the lock: 1M events, 136–180 ms of pushes waiting every day). An event
        made that old and pushed meanwhile goes the next day."""
        old = [(str(lid), int(n)) for lid, n in
               self._all(old_events_per_learner(self.dialect), (cutoff,))]
        every = self._events_per_learner([lid for lid, _ in old])
        groups: list[list[str]] = []
        size = read = 0
        for learner_id, count in old:
            weight = max(every.get(learner_id, 0), count)
            if (not groups or len(groups[-1]) >= RETENTION_GROUP or size + count > batch
                    or read + weight > RETENTION_READ):
                groups.append([])
                size = read = 0
            groups[-1].append(learner_id)
            size += count
            read += weight
        return groups

    def _events_per_learner(self, learners: list[str]) -> dict[str, int]:
        """How many events each of `learners` has (the index events_learner alone)."""
        counts: dict[str, int] = {}
        for part, marks in in_lists(learners):
            counts.update((str(lid), int(n)) for lid, n in self._all(
                f"SELECT learner_id, COUNT(*) FROM events WHERE learner_id IN ({marks}) "
                "GROUP BY learner_id", part))
        return counts

    def _fold_learners(self, cur: Any, cutoff: str, learners: list[str], fold: Fold) -> int:
        """Fold and delete these learners' events before `cutoff` (in the caller's write
        transaction); their report rows are recomputed from what they keep."""
        marks = ",".join("?" * len(learners))
        cur.execute(self._sql(f"SELECT facility_id, content, learner_id FROM events WHERE "
                              f"learner_id IN ({marks}) AND at < ?"), (*learners, cutoff))
        rows = cur.fetchall()
        if not rows:                   # erased or aged meanwhile
            return 0
        add_summary(cur, self.dialect, fold([(str(f), str(c)) for f, c, _ in rows]))
        cur.execute(self._sql(f"DELETE FROM events WHERE learner_id IN ({marks}) AND at < ?"),
                    (*learners, cutoff))
        deleted = int(cur.rowcount)
        forget_events(cur, self.dialect, sorted({str(r[2]) for r in rows}),
                      Counter(str(r[0]) for r in rows))
        _mark_deletion(cur, self.dialect)
        return deleted
