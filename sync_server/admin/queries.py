"""Read-mostly SQL the console needs beyond the Repository interface (reports, exports,
moving a learner). Same portable SQL on SQLite and PostgreSQL, run on the repository's
pool through the SqlRepository helpers (``_read``, ``_write``, ``_sql``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sync_server.db.sql import LOCK_LEARNERS
from sync_server.errors import NotFoundError

REPORT_TYPES = ("card.viewed", "quiz.submitted", "course.completed", "selfassessment.rated")


class Queries:
    def __init__(self, repo: Any) -> None:
        self.repo = repo

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
