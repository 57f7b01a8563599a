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

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from sync_server.db.repository import EventCounts, Rebuilt, Repository
from sync_server.services import audit, stats
from sync_server.services.exports import (
    LrsResult,
    progress_csv_lines,
    push_to_lrs,
    statement_function,
    xapi_lines,
    xapi_statements,
)
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


def progress_export(*, repo: Repository, by: str = audit.SERVER) -> Iterator[str]:
    """Progress of every learner × course as CSV text pieces (exports.progress_csv_lines),
    streamed from the `course_progress` aggregate a few thousand rows at a time."""
    audit.record(repo, by, "export.progress")
    manifests = [json.loads(p.manifest) for p in repo.list_pack_versions()]
    return progress_csv_lines(repo.progress_rows(), stats.courses_of(manifests))


def rebuild_aggregates(*, repo: Repository, check: bool = False) -> Rebuilt:
    """Recompute the report aggregates from the events (`check`: only compare, change
    nothing). The ingest keeps them by itself; this repairs them after a change made by
    hand in the database."""
    result = repo.rebuild_aggregates(keep=not check)
    log.info("report aggregates %s: %d events, %d learner × course rows, %d ratings; %s",
             "checked" if check else "rebuilt", result.counts.events, result.counts.courses,
             result.counts.ratings, "unchanged" if result.matched else "they differed")
    return result


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
