"""The rows of the progress report (the CSV export), read from the report aggregates.

Two shapes of the same stream, both ordered by learner (staff number, then learner id)
and within a learner by pack and course, fetched a few thousand rows at a time:

* without a date range: every learner (a facility's, or all), joined *left* to their
  `course_progress` rows, so a learner with no activity at all still comes as one row
  with no course (`pack_id` None) — the service adds "not started" rows for the courses
  published to them (services/progress_report.py);
* with a date range: only learner × course rows whose last activity (`last_at`) or
  completion (`completed_at`) falls in it — a course never started has no such date.

Dates are the events' `at` text (ISO-8601 UTC, sorting as text), so a range is two text
comparisons: `since` ≤ date < `until`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

from sync_server.db.aggregates import STREAM_ROWS
from sync_server.db.base import SqlBase

DateBasis = Literal["activity", "completed"]
_DATE_COLUMN = {"activity": "p.last_at", "completed": "p.completed_at"}


@dataclass(frozen=True)
class ReportScope:
    """Which rows of the progress report: one facility ("" = all) and a date range
    (`since` inclusive, `until` exclusive, both `at` text; None = open) on the last
    activity or the completion."""

    facility: str = ""
    basis: DateBasis = "activity"
    since: str | None = None
    until: str | None = None

    @property
    def dated(self) -> bool:
        return self.since is not None or self.until is not None


class ReportRow(NamedTuple):
    """A learner × course of the report; `pack_id` None: a learner with no progress at
    all (only in the undated shape)."""
    staff_number: str
    display_name: str
    facility_id: str
    role: str
    pack_id: str | None
    course_id: str | None
    cards_viewed: int | None
    attempts: int | None
    best_score: str | None
    passed: int | None
    completed_at: str | None
    certificate_id: str | None
    learner_id: str
    last_at: str | None
    deactivated_at: str | None


class ProgressReportStore(Protocol):
    def progress_report_rows(self, scope: ReportScope) -> Iterator[ReportRow]:
        """The report's rows for `scope` (module docstring), streamed in learner order."""
        ...


class ProgressReportSql(SqlBase):
    def progress_report_rows(self, scope: ReportScope) -> Iterator[ReportRow]:
        # code-point order of the text, as Python sorts it (PostgreSQL's default
        # collation would follow the locale)
        c = ' COLLATE "C"' if self.dialect == "postgresql" else ""
        where: list[str] = []
        params: list[str] = []
        if scope.facility:
            where.append("l.facility_id = ?")
            params.append(scope.facility)
        if scope.dated:
            column = _DATE_COLUMN[scope.basis]
            if scope.since is not None:
                where.append(f"{column} >= ?")
                params.append(scope.since)
            if scope.until is not None:
                where.append(f"{column} < ?")
                params.append(scope.until)
            source = "course_progress p JOIN learners l ON l.id = p.learner_id"
        else:
            source = "learners l LEFT JOIN course_progress p ON p.learner_id = l.id"
        sql = ("SELECT l.staff_number, l.display_name, l.facility_id, l.role, p.pack_id, "
               "p.course_id, p.cards_viewed, p.attempts, p.best_score, p.passed, "
               "p.completed_at, c.id, l.id, p.last_at, l.deactivated_at "
               f"FROM {source} "
               "LEFT JOIN certificates c ON c.learner_id = p.learner_id "
               "AND c.pack_id = p.pack_id AND c.course_id = p.course_id"
               + (" WHERE " + " AND ".join(where) if where else "")
               + f" ORDER BY l.staff_number{c}, l.id{c}, p.pack_id{c}, p.course_id{c}")
        return map(ReportRow._make, self._stream(sql, tuple(params), STREAM_ROWS))
