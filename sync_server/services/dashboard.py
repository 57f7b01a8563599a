"""The dashboard, its drill-down and the printable facility report (issue 21; docs/
admin-guide.md "Dashboard").

Every figure follows the filters (facility, role): the tiles, the cells, the gap map. A
cell is one course × facility: its population is the active learners of the facility
(and role filter) whose group the course is published to (services/scope.py), split by
status (db/report_queries.py). The drill-down lists exactly the learners a cell counts,
so its totals equal the cell's numbers. Reads only aggregates and small tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.core.clock import now_iso
from sync_server.db.report_queries import STATUSES, UNFINISHED
from sync_server.db.repository import (
    Facility,
    Learner,
    LearnerPage,
    Repository,
    StatusCount,
    Tiles,
)
from sync_server.services import audit, stats
from sync_server.services.gap_mapping import ensure_gap_mapping
from sync_server.services.scope import Scope, course_scope
from sync_server.services.stats import CourseInfo, GapMap

__all__ = ["STATUSES", "UNFINISHED", "Dashboard", "DrillDown", "FacilityReport", "LearnerCourse",
           "ProgressCell", "dashboard", "drill_down", "facility_report", "learner_courses"]
PAGE_SIZE = 50
MAX_FILTER = 64               # ids are short; a longer filter value matches nothing anyway
REPORT_LIST_LIMIT = 500       # learners listed per course under "not finished" in a report


@dataclass
class ProgressCell:
    """One course × facility (the roles of the filter summed)."""
    course: CourseInfo
    facility_id: str
    population: int = 0
    in_progress: int = 0
    passed_only: int = 0
    completed: int = 0
    tried: int = 0
    passed: int = 0

    @property
    def not_started(self) -> int:
        return self.population - self.in_progress - self.passed_only - self.completed

    def count(self, status: str) -> int:
        return {"not_started": self.not_started, "in_progress": self.in_progress,
                "passed": self.passed_only, "completed": self.completed}[status]

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.population if self.population else None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.tried if self.tried else None


@dataclass(frozen=True)
class Dashboard:
    facility: str
    role: str
    tiles: Tiles
    facilities: list[Facility]
    courses: list[CourseInfo]
    cells: list[ProgressCell]          # course order, then facility name
    gap: GapMap

    def facility_name(self, facility_id: str) -> str:
        return next((f.name for f in self.facilities if f.id == facility_id), facility_id)


def _cells(scope: Scope, groups: dict[tuple[str, str], int], counts: Sequence[StatusCount],
           names: dict[str, str]) -> list[ProgressCell]:
    by_key = {(c.facility_id, c.role, c.pack_id, c.course_id): c for c in counts}
    out = []
    for course in scope.courses:
        cells: dict[str, ProgressCell] = {}
        for facility, role in scope.groups.get((course.pack_id, course.course_id), []):
            cell = cells.setdefault(facility, ProgressCell(course, facility))
            cell.population += groups.get((facility, role), 0)
            hit = by_key.get((facility, role, course.pack_id, course.course_id))
            if hit is not None:
                cell.in_progress += hit.in_progress
                cell.passed_only += hit.passed_only
                cell.completed += hit.completed
                cell.tried += hit.tried
                cell.passed += hit.passed
        out += sorted(cells.values(), key=lambda c: (names.get(c.facility_id, c.facility_id),
                                                      c.facility_id))
    return out


def _gap(repo: Repository, scope: Scope, facility: str, role: str,
         facilities: list[str]) -> GapMap:
    """The heat map from the per-group totals (db/gap_totals.py), which `dashboard` has
    made sure follow today's publications (services/gap_mapping.py). Row labels come from
    the pack versions in the filter's scope, which hold every duty its groups rate."""
    model = scope.gap_model()
    means = {k: v for k, v in repo.gap_totals(facility, role).items()
             if k[1] in model.duty_labels}
    return stats.gap_from_means(model, means, facilities)


def plain(value: str) -> str:
    """A filter value as the database may see it: at most 64 characters, and a value with
    a control character (PostgreSQL refuses NUL in text) replaced by one that matches
    nothing."""
    value = value[:MAX_FILTER]
    return "\ufffd" if any(ord(ch) < 32 for ch in value) else value


def dashboard(*, repo: Repository, facility: str = "", role: str = "") -> Dashboard:
    """The dashboard's figures for one facility / role filter ("" = all)."""
    facility, role = plain(facility), plain(role)
    facilities = repo.list_facilities()
    publications = repo.list_publications()
    ensure_gap_mapping(repo, facilities=[f.id for f in facilities], publications=publications)
    names = {f.id: f.name for f in facilities}
    groups = repo.learner_groups(facility, role)
    scope = course_scope(repo=repo, groups=groups, publications=publications)
    cells = _cells(scope, groups, repo.status_counts(facility, role), names)
    fac_ids = [f.id for f in facilities if not facility or f.id == facility]
    return Dashboard(facility, role, repo.tiles(facility, role), facilities,
                     [c for c in scope.courses if any(x.course == c for x in cells)], cells,
                     _gap(repo, scope, facility, role, fac_ids))


@dataclass(frozen=True)
class DrillDown:
    """The learners behind one number: facility × course × status."""
    facility: str
    role: str
    course: CourseInfo | None          # None: not a course in scope for this filter
    status: str                        # one of STATUSES, UNFINISHED, or "" (everyone)
    page: int
    page_size: int
    result: LearnerPage
    facilities: list[Facility] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.result.total // self.page_size))


def drill_down(*, repo: Repository, facility: str, role: str, pack_id: str, course_id: str,
               status: str = "", page: int = 1, page_size: int = PAGE_SIZE) -> DrillDown:
    """One page of the learners a dashboard cell counts (page 1 = first)."""
    status = status if status in (*STATUSES, UNFINISHED) else ""
    facility, role, pack_id, course_id = (plain(v) for v in (facility, role, pack_id, course_id))
    page = max(1, page)
    groups = repo.learner_groups(facility, role)
    scope = course_scope(repo=repo, groups=groups)
    course = scope.course(pack_id, course_id)
    members = scope.groups.get((pack_id, course_id), []) if course else []
    result = repo.course_learners(pack_id=pack_id, course_id=course_id, groups=members,
                                  status=status, limit=page_size,
                                  offset=(page - 1) * page_size)
    return DrillDown(facility, role, course, status, page, page_size, result,
                     repo.list_facilities())


@dataclass(frozen=True)
class LearnerCourse:
    course: CourseInfo
    status: str
    last_at: str | None


def learner_courses(*, repo: Repository, learner: Learner) -> list[LearnerCourse]:
    """The status of every course published to the learner's facility and role (the
    dashboard's rule), for the learner's page."""
    scope = course_scope(repo=repo, groups=[(learner.facility_id, learner.role)])
    mine = repo.learner_statuses(learner.id)
    return [LearnerCourse(c, *mine.get((c.pack_id, c.course_id), ("not_started", None)))
            for c in scope.courses]


@dataclass(frozen=True)
class FacilityReport:
    """What a printed / PDF facility report holds (docs/admin-guide.md)."""
    title: str
    generated_at: str                  # UTC, the events' `at` format
    facility_label: str                # the facility's name, or "all facilities"
    role: str
    dashboard: Dashboard
    unfinished: list[tuple[ProgressCell, LearnerPage]]   # empty unless asked for
    facility: str = ""                 # the facility's id ("" = every facility)


def facility_report(*, repo: Repository, facility: str = "", role: str = "",
                    unfinished: bool = False, by: str = audit.SERVER,
                    form: str = "html") -> FacilityReport:
    """The facility report for one filter, recorded in the audit log as an export."""
    facility, role = plain(facility), plain(role)
    data = dashboard(repo=repo, facility=facility, role=role)
    label = data.facility_name(facility) if facility else "all facilities"
    lists = []
    if unfinished:
        groups = repo.learner_groups(facility, role)
        scope = course_scope(repo=repo, groups=groups)
        for cell in data.cells:
            key = (cell.course.pack_id, cell.course.course_id)
            members = [g for g in scope.groups.get(key, []) if g[0] == cell.facility_id]
            lists.append((cell, repo.course_learners(
                pack_id=key[0], course_id=key[1], groups=members, status=UNFINISHED,
                limit=REPORT_LIST_LIMIT)))
    audit.record(repo, by, "export.report", target=facility or "all", role=role or "all",
                 format=form, unfinished=unfinished)
    return FacilityReport(f"Training progress — {label}", now_iso(), label, role, data, lists,
                          facility)
