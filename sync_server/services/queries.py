"""Event reads the console needs (reports, exports), on the Repository's public
`scan_events`, so SQLite and PostgreSQL behave the same."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from sync_server.db.repository import Repository

REPORT_TYPES = ("card.viewed", "quiz.submitted", "course.completed", "selfassessment.rated")
#: What the dashboard folds (card.viewed, the bulk of all events, only goes into exports).
DASHBOARD_TYPES = ("quiz.submitted", "course.completed", "selfassessment.rated")
PAGE = 5000


class Queries:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, ...], tuple[int, list[dict[str, Any]]]] = {}
        self._mark = 0    # repo.deletion_mark() the cache was filled under

    def cached_events(self, types: tuple[str, ...] = DASHBOARD_TYPES) -> list[dict[str, Any]]:
        """Events of ``types``, kept in memory and topped up with the rows stored since the
        last call. Events are immutable, and a learner moved to another facility gets new
        (higher) seqs for their events: the copies under the old seqs are replaced here."""
        with self._lock:
            mark = self.repo.deletion_mark()     # events deleted by any process: refill
            if mark != self._mark:
                self._cache.clear()
                self._mark = mark
            cursor, events = self._cache.get(types, (0, []))
            fresh = list(self._iter(cursor, types))
            if fresh:
                ids = {e["id"] for _, e in fresh}
                events = [e for e in events if e["id"] not in ids] + [e for _, e in fresh]
                self._cache[types] = (fresh[-1][0], events)
            return events

    def forget(self) -> None:
        """Drop the cache: events were deleted (erasure, retention), which the top-up by
        seq cannot see."""
        with self._lock:
            self._cache.clear()

    def _iter(self, after: int, types: tuple[str, ...] | None) -> Iterator[tuple[int, dict[str, Any]]]:
        while page := self.repo.scan_events(after, PAGE, types):
            yield from ((ev.seq, json.loads(ev.content)) for ev in page)
            after = page[-1].seq

    def report_events(self, types: tuple[str, ...] = REPORT_TYPES) -> list[dict[str, Any]]:
        """Events of the types the dashboard folds over (parsed), in seq order."""
        return [e for _, e in self._iter(0, types)]

    def iter_events(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every stored event (all facilities) in seq order, for exports."""
        return self._iter(0, None)
