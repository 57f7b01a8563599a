"""Reports of the admin console and the JSON API: the dashboard's figures and the
exports (progress CSV, xAPI statements, push to an LRS).

Events are read through the `Queries` cache (queries.py); the folds and rates are
stats.py, the file formats exports.py. Charts are drawn by the console (admin/charts.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from sync_server.db.repository import EventCounts, Facility, Repository
from sync_server.services import audit, stats
from sync_server.services.exports import (
    LrsResult,
    progress_csv,
    push_to_lrs,
    statement_function,
    xapi_lines,
    xapi_statements,
)
from sync_server.services.packs import newest_manifests
from sync_server.services.queries import Queries

log = logging.getLogger("sync_server.exports")


@dataclass(frozen=True)
class Dashboard:
    counts: dict[str, int]        # facilities, devices (not revoked), learners, events, certificates
    facilities: list[Facility]
    courses: list[stats.CourseInfo]
    cells: list[stats.RateCell]   # completion and pass rate per course × facility × role
    gap: stats.GapMap             # mean self-assessment gap per duty × facility


def dashboard(*, repo: Repository, queries: Queries, facility: str = "",
              role: str = "") -> Dashboard:
    """The dashboard's figures for one facility / role filter ("" = all)."""
    facilities = repo.list_facilities()
    every = repo.list_learners()
    learners = [lr for lr in every
                if (not facility or lr.facility_id == facility) and (not role or lr.role == role)]
    manifests = newest_manifests(repo=repo, published_only=True)
    events = queries.cached_events()
    courses = stats.courses_of(manifests)
    cells = stats.course_rates(courses, learners, stats.fold_progress(events))
    fac_ids = [f.id for f in facilities if not facility or f.id == facility]
    gap = stats.gap_heat_map(manifests, learners, events, fac_ids)
    counts = {"facilities": len(facilities),
              "devices": sum(1 for d in repo.list_devices() if not d.revoked),
              "learners": len(every), "events": repo.count_events().total,
              "certificates": repo.count_certificates()}
    return Dashboard(counts, facilities, courses, cells, gap)


@dataclass(frozen=True)
class Totals:
    """The counts of GET /api/v1/admin/stats."""

    events: EventCounts
    devices: int                  # enrolled, revoked ones included
    learners: int


def totals(*, repo: Repository) -> Totals:
    return Totals(repo.count_events(), len(repo.list_devices()), len(repo.list_learners()))


def progress_export(*, repo: Repository, queries: Queries, by: str = audit.SERVER) -> str:
    """Progress of every learner × course as CSV text (exports.progress_csv)."""
    audit.record(repo, by, "export.progress")
    manifests = [json.loads(p.manifest) for p in repo.list_pack_versions()]
    progress = stats.fold_progress(queries.report_events())
    return progress_csv(repo.list_learners(), stats.courses_of(manifests), progress,
                        repo.certificate_ids_by_course())


def xapi_export(*, queries: Queries, home_page: str, by: str = audit.SERVER) -> Iterator[str]:
    """Every stored event as an xAPI statement, one JSON line each, read a page at a time.
    ImportError at once when the xAPI mapping is not installed."""
    statement_function()
    audit.record(queries.repo, by, "export.xapi")

    def lines() -> Iterator[str]:
        for _, event in queries.iter_events():
            yield from xapi_lines([event], home_page)

    return lines()


def push_lrs(*, queries: Queries, home_page: str, endpoint: str, username: str,
             password: str, by: str = audit.SERVER) -> tuple[LrsResult, list[str]]:
    """Send every stored event to an LRS; (the result, the events the mapping skipped with
    their reasons). ImportError when the xAPI mapping is not installed."""
    audit.record(queries.repo, by, "export.lrs", target=endpoint[:200])
    statements, skipped = xapi_statements((e for _, e in queries.iter_events()), home_page)
    for reason in skipped:
        log.warning("xAPI export: event skipped: %s", reason)
    return push_to_lrs(statements, endpoint, username=username, password=password), skipped
