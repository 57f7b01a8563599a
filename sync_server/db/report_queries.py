"""The dashboard's and the facility report's reads (issue 21): learner × course statuses,
the learners behind a number, the summary tiles and the self-assessment gap — all from the
report aggregates (db/aggregates.py), the per-group totals (db/group_totals.py) and the
small tables (learners, devices, certificates), never from the events.

A learner's status in one course (exclusive, highest first):

    completed     the course is done (a `course.completed`: every card read, quiz passed)
    passed        the quiz is passed but some lesson is still unread
    in_progress   any other activity in the course (a card viewed, a quiz tried)
    not_started   nothing recorded

Only active learners count (a deactivated leaver is not "still to train"). Which
(facility, role) groups a course counts for — its publications — is decided by the
caller (services/scope.py) and passed in as `groups`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sync_server.db.base import SqlBase
from sync_server.db.group_totals import group_filter

STATUSES = ("not_started", "in_progress", "passed", "completed")
#: the pseudo-status of the report's "who has not finished" list
UNFINISHED = "unfinished"
MAX_PAGE = 500

_STATUS_SQL = ("CASE WHEN p.completed_at IS NOT NULL THEN 'completed' "
               "WHEN p.passed = 1 THEN 'passed' "
               "WHEN p.learner_id IS NOT NULL THEN 'in_progress' ELSE 'not_started' END")


@dataclass(frozen=True)
class StatusCount:
    """Active learners of one facility × role with progress in one course, by status
    (`not_started` is the population less `started`, known to the caller)."""
    facility_id: str
    role: str
    pack_id: str
    course_id: str
    started: int          # any activity
    completed: int
    passed_only: int      # quiz passed, course not completed
    tried: int            # took the quiz at least once
    passed: int           # passed the quiz (completed or not)

    @property
    def in_progress(self) -> int:
        return self.started - self.completed - self.passed_only


@dataclass(frozen=True)
class CourseLearner:
    """One learner behind a number of the dashboard."""
    learner_id: str
    display_name: str
    staff_number: str
    facility_id: str
    role: str
    status: str
    last_at: str | None    # the learner's last activity in this course


@dataclass(frozen=True)
class LearnerPage:
    by_status: dict[str, int]        # every status of the selection → learners
    total: int                       # learners of the status asked for (all: every one)
    rows: list[CourseLearner]


@dataclass(frozen=True)
class Tiles:
    """The summary tiles for one facility / role filter."""
    facilities: int
    devices: int          # enrolled, not revoked (of the facility)
    learners: int         # active learners of the filter
    events: int           # stored events of the facility (every role)
    certificates: int     # valid (not revoked) certificates of the filter's active learners


Groups = Sequence[tuple[str, str]]


class ReportStore(Protocol):
    def status_counts(self, facility: str = "", role: str = "") -> list[StatusCount]:
        """Per facility × role × course with any progress: learners by status."""
        ...

    def course_learners(self, *, pack_id: str, course_id: str, groups: Groups,
                        status: str = "", limit: int = 50, offset: int = 0) -> LearnerPage:
        """Active learners of `groups` ((facility, role) pairs) in one course, by name;
        `status` one of STATUSES, UNFINISHED or "" (all)."""
        ...

    def tiles(self, facility: str = "", role: str = "") -> Tiles: ...

    def learner_statuses(self, learner_id: str) -> dict[tuple[str, str], tuple[str, str | None]]:
        """(pack, course) → (status, last activity) of every course the learner has any
        progress in (a course missing here is not started)."""
        ...

    def gap_totals(self, facility: str = "", role: str = ""
                   ) -> dict[tuple[str, tuple[str, str]], tuple[float, int]]:
        """(facility, (profile, duty)) → (mean over the active learners of each learner's
        mean gap over the duty's rated tasks, learners) under each learner's group's
        mapping (services/gap_mapping.py) — from the kept totals."""
        ...


def _learner_filter(facility: str, role: str, alias: str = "l") -> tuple[str, list[Any]]:
    where, params = [f"{alias}.deactivated_at IS NULL"], []
    if facility:
        where.append(f"{alias}.facility_id = ?")
        params.append(facility)
    if role:
        where.append(f"{alias}.role = ?")
        params.append(role)
    return " AND ".join(where), params


def _group_filter(groups: Groups) -> tuple[str, list[Any]]:
    """`(l.facility_id, l.role)` in `groups`, grouped by facility (short SQL)."""
    roles: dict[str, list[str]] = {}
    for fac, role in groups:
        roles.setdefault(fac, []).append(role)
    parts, params = [], []
    for fac, rs in sorted(roles.items()):
        parts.append(f"(l.facility_id = ? AND l.role IN ({','.join('?' * len(rs))}))")
        params += [fac, *sorted(rs)]
    return "(" + " OR ".join(parts) + ")", params


class ReportSql(SqlBase):
    def status_counts(self, facility: str = "", role: str = "") -> list[StatusCount]:
        # the per-group totals the triggers keep (db/group_totals.py): one row per group ×
        # course, however many staff
        where, params = group_filter(facility, role)
        rows = self._all("SELECT facility_id, role, pack_id, course_id, started, completed, "
                         f"passed_only, tried, passed FROM group_courses WHERE started <> 0"
                         f"{where}", params)
        return [StatusCount(f, r, p, c, *(int(v) for v in rest)) for f, r, p, c, *rest in rows]

    def course_learners(self, *, pack_id: str, course_id: str, groups: Groups,
                        status: str = "", limit: int = 50, offset: int = 0) -> LearnerPage:
        if not groups:
            return LearnerPage({s: 0 for s in STATUSES}, 0, [])
        scope, params = _group_filter(groups)
        base = ("FROM learners l LEFT JOIN course_progress p ON p.learner_id = l.id "
                f"AND p.pack_id = ? AND p.course_id = ? WHERE l.deactivated_at IS NULL AND {scope}")
        args = (pack_id, course_id, *params)
        by_status = {s: 0 for s in STATUSES}
        for name, n in self._all(f"SELECT {_STATUS_SQL}, COUNT(*) {base} GROUP BY 1", args):
            by_status[str(name)] = int(n)
        where, extra = "", tuple[str, ...]()
        if status == UNFINISHED:
            where, total = " AND p.completed_at IS NULL", sum(
                n for s, n in by_status.items() if s != "completed")
        elif status in STATUSES:
            where, extra, total = f" AND {_STATUS_SQL} = ?", (status,), by_status[status]
        else:
            total = sum(by_status.values())
        c = ' COLLATE "C"' if self.dialect == "postgresql" else ""
        rows = self._all(
            f"SELECT l.id, l.display_name, l.staff_number, l.facility_id, l.role, {_STATUS_SQL}, "
            f"p.last_at {base}{where} ORDER BY l.display_name{c}, l.staff_number{c}, l.id "
            "LIMIT ? OFFSET ?", (*args, *extra, max(1, min(limit, MAX_PAGE)), max(0, offset)))
        return LearnerPage(by_status, total, [CourseLearner(*r) for r in rows])

    def learner_statuses(self, learner_id: str) -> dict[tuple[str, str], tuple[str, str | None]]:
        return {(str(pack), str(course)): (str(status), last) for pack, course, status, last in
                self._all(f"SELECT p.pack_id, p.course_id, {_STATUS_SQL}, p.last_at "
                          "FROM course_progress p WHERE p.learner_id = ?", (learner_id,))}

    def tiles(self, facility: str = "", role: str = "") -> Tiles:
        where, params = _learner_filter(facility, role)
        group_where, group_params = group_filter(facility, role)
        fac_where = " WHERE id = ?" if facility else ""
        dev_where = " AND facility_id = ?" if facility else ""
        ev_where = " WHERE facility_id = ?" if facility else ""
        one = (facility,) if facility else ()
        with self._read() as cur:
            def count(sql: str, args: tuple[Any, ...]) -> int:
                cur.execute(self._sql(sql), args)
                row = cur.fetchone()
                return int(row[0] or 0) if row else 0
            return Tiles(
                count(f"SELECT COUNT(*) FROM facilities{fac_where}", one),
                count(f"SELECT COUNT(*) FROM devices WHERE revoked_at IS NULL{dev_where}", one),
                count("SELECT COALESCE(SUM(learners), 0) FROM group_learners WHERE 1 = 1"
                      + group_where, group_params),
                count(f"SELECT COALESCE(SUM(events), 0) FROM event_totals{ev_where}", one),
                count("SELECT COUNT(*) FROM certificates c JOIN learners l ON l.id = c.learner_id "
                      f"WHERE c.revoked_at IS NULL AND {where}", tuple(params)))

    def gap_totals(self, facility: str = "", role: str = ""
                   ) -> dict[tuple[str, tuple[str, str]], tuple[float, int]]:
        # the per-group totals the triggers keep (db/gap_totals.py): one row per group ×
        # duty, however many staff; the mean over learners adds up across the roles
        where, params = group_filter(facility, role)
        return {(str(f), (str(p), str(d))): (float(s) / int(n), int(n)) for f, p, d, s, n in self._all(
            "SELECT facility_id, profile_id, duty_id, SUM(mean_sum), SUM(learners) "
            f"FROM group_duties WHERE learners > 0{where} "
            "GROUP BY facility_id, profile_id, duty_id", params)}
