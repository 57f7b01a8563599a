"""Read-mostly SQL the console needs beyond the Repository interface (reports, exports,
moving a learner). Same portable SQL on SQLite and PostgreSQL, run on the repository's
pool through the SqlRepository helpers (``_read``, ``_write``, ``_sql``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from sync_server.db.sql import LOCK_LEARNERS
from sync_server.errors import NotFoundError

REPORT_TYPES = ("card.viewed", "quiz.submitted", "course.completed", "selfassessment.rated")
#: What the dashboard folds (card.viewed, the bulk of all events, only goes into exports).
DASHBOARD_TYPES = ("quiz.submitted", "course.completed", "selfassessment.rated")


class Queries:
    def __init__(self, repo: Any) -> None:
        self.repo = repo
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, ...], tuple[int, list[dict[str, Any]]]] = {}

    def cached_events(self, types: tuple[str, ...] = DASHBOARD_TYPES) -> list[dict[str, Any]]:
        """Events of ``types``, kept in memory and topped up with the rows stored since the
        last call (events are immutable and their seq only grows, so nothing else changes).
        Makes a dashboard reload cost only the new events."""
        marks = ",".join("?" for _ in types)
        with self._lock:
            cursor, events = self._cache.get(types, (0, []))
            rows = self._all(f"SELECT seq, content FROM events WHERE seq > ? AND type IN ({marks}) "
                             "ORDER BY seq", (cursor, *types))
            if rows:
                events = events + [json.loads(c) for _, c in rows]
                cursor = int(rows[-1][0])
                self._cache[types] = (cursor, events)
            return events

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.repo._read() as cur:
            cur.execute(self.repo._sql(sql), params)
            return list(cur.fetchall())

    def report_events(self, types: tuple[str, ...] = REPORT_TYPES) -> list[dict[str, Any]]:
        """Events of the types the dashboard folds over (parsed)."""
        marks = ",".join("?" for _ in types)
        return [json.loads(c) for (c,) in self._all(
            f"SELECT content FROM events WHERE type IN ({marks}) ORDER BY seq", types)]

    def events_after(self, after_seq: int, limit: int = 1000) -> list[tuple[int, dict[str, Any]]]:
        """Every stored event after a cursor (all facilities), for exports."""
        return [(int(s), json.loads(c)) for s, c in self._all(
            "SELECT seq, content FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit))]

    def iter_events(self, page: int = 1000) -> Iterator[tuple[int, dict[str, Any]]]:
        cursor = 0
        while True:
            rows = self.events_after(cursor, page)
            if not rows:
                return
            yield from rows
            cursor = rows[-1][0]

    def move_learner(self, learner_id: str, facility_id: str, now: str) -> None:
        """Move a learner to another facility. Their profile gets a new revision, so the
        new facility's tablets pull it; their past events stay where they were stored."""
        if self.repo.get_facility(facility_id) is None:
            raise NotFoundError(f"facility {facility_id!r} does not exist")
        with self.repo._write(LOCK_LEARNERS) as cur:
            cur.execute(self.repo._sql("SELECT COALESCE(MAX(rev), 0) + 1 FROM learners"))
            rev = cur.fetchone()[0]
            cur.execute(self.repo._sql(
                "UPDATE learners SET facility_id = ?, updated_at = ?, rev = ? WHERE id = ?"),
                (facility_id, now, rev, learner_id))
            if cur.rowcount != 1:
                raise NotFoundError(f"learner {learner_id!r} does not exist")
