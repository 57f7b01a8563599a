"""Reports of the admin console and the JSON API: the exports (progress CSV, xAPI
statements, push to an LRS). The dashboard, its drill-down and the facility report are
services/dashboard.py.

The dashboard and the progress CSV read only the report aggregates the ingest keeps
(db/aggregates.py: per learner × course, per learner × profile task, events per
facility), so their cost follows learners and courses, not the length of the history.
The xAPI exports read every event a page at a time (`Queries`, queries.py). Rates and
the gap map are stats.py, the file formats exports.py; charts are drawn by the console
(admin/charts.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from sync_server.db.repository import EventCounts, Rebuilt, Repository
from sync_server.services import audit, progress_report
from sync_server.services.exports import (
    LrsResult,
    push_to_lrs,
    statement_function,
    xapi_lines,
    xapi_statements,
)
from sync_server.services.progress_report import ExportFilter
from sync_server.services.queries import Queries

log = logging.getLogger("sync_server.exports")


@dataclass(frozen=True)
class Totals:
    """The counts of GET /api/v1/admin/stats."""

    events: EventCounts
    devices: int                  # enrolled, revoked ones included
    learners: int


def totals(*, repo: Repository) -> Totals:
    return Totals(repo.count_events(), len(repo.list_devices()), len(repo.list_learners()))


def progress_export(*, repo: Repository, by: str = audit.SERVER,
                    chosen: ExportFilter | None = None) -> Iterator[str]:
    """Progress of every learner × course (with the "not started" rows of active
    learners), or of those `chosen` (one facility, a date range), as CSV text pieces,
    streamed from the `course_progress` aggregate a few thousand rows at a time
    (services/progress_report.py)."""
    return progress_report.report_lines(repo=repo, chosen=chosen or ExportFilter(), by=by)


def rebuild_aggregates(*, repo: Repository, check: bool = False) -> Rebuilt:
    """Recompute the report aggregates from the events (`check`: only compare, change
    nothing). The ingest keeps them by itself; this repairs them after a change made by
    hand in the database."""
    result = repo.rebuild_aggregates(keep=not check)
    log.info("report aggregates %s: %d events, %d learner × course rows, %d ratings; %s",
             "checked" if check else "rebuilt", result.counts.events, result.counts.courses,
             result.counts.ratings, "unchanged" if result.matched else "they differed")
    return result


def xapi_export(*, queries: Queries, home_page: str, by: str = audit.SERVER,
                chosen: ExportFilter | None = None) -> Iterator[str]:
    """Every stored event (or those `chosen`: of the facility's learners, done in the date
    range) as an xAPI statement, one JSON line each, read a page at a time. ImportError at
    once when the xAPI mapping is not installed."""
    statement_function()
    chosen = chosen or ExportFilter()
    audit.record(queries.repo, by, "export.xapi", target=chosen.facility, **chosen.detail())
    keep = progress_report.event_filter(queries.repo, chosen)

    def lines() -> Iterator[str]:
        for _, event in queries.iter_events():
            if keep(event):
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
