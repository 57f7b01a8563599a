"""The progress report (CSV export): every learner × course with progress, plus one
"not started" row per *active* learner × course published to that learner's facility and
role that they have not begun — so "who still has to do the training" is a filter in a
spreadsheet (issue 21).

Which courses reach a learner: the newest version of each pack with an active
publication reaching the learner's facility and role (the device catalogue's rule,
pack_delivery.catalogue), and of its courses those meant for the role (the course's
`roles`, else the pack's `audience_roles`; none = every role). A deactivated leaver gets no
"not started" rows (they are not still to train) but keeps the rows of what they did.

Filters (the console's and the JSON API's query parameters, checked here once): one
facility, and a date range on the last activity or on the completion. A course never
started has neither date, so a dated report has no "not started" rows. The filters are
named in the download's file name and in its audit entry.

The rows stream from the database in learner order (db/progress_report.py) and the
CSV writer adds each active learner's "not started" rows after the rows of the courses
they began (exports.progress_csv_lines), so the report stays in constant memory and close
to the cost of a raw SELECT of the aggregate rows (benchmarks/admin_dashboard.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sync_server.db.progress_report import DateBasis, ReportScope
from sync_server.db.repository import Repository
from sync_server.errors import ServerError
from sync_server.services import audit, pack_delivery, stats
from sync_server.services.exports import progress_csv_lines

BASES: tuple[DateBasis, ...] = ("activity", "completed")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
#: the earliest and latest day a filter takes (a typo such as 0202 is refused, not run)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


class ExportFilterError(ServerError):
    """A filter of an export is wrong. `reason` is the stable code the console picks its
    sentence by (`bad_date`, `date_range`, `date_order`, `unknown_facility`,
    `bad_basis`); `field` the form field; `value` what was typed."""

    def __init__(self, reason: str, field: str, value: str, message: str) -> None:
        self.reason, self.field, self.value = reason, field, value
        super().__init__(message)


@dataclass(frozen=True)
class ExportFilter:
    """A checked export filter ("" facility = all; None = an open end of the range)."""

    facility: str = ""
    basis: DateBasis = "activity"
    date_from: date | None = None
    date_to: date | None = None       # inclusive

    @property
    def dated(self) -> bool:
        return self.date_from is not None or self.date_to is not None

    def scope(self) -> ReportScope:
        """The rows to read: dates as `at` text, the end exclusive (the next day)."""
        since = f"{self.date_from.isoformat()}T00:00:00.000Z" if self.date_from else None
        until = (f"{(self.date_to + timedelta(days=1)).isoformat()}T00:00:00.000Z"
                 if self.date_to else None)
        return ReportScope(self.facility, self.basis, since, until)

    def label(self) -> str:
        """The filters in a file name: `facility-f1_completed-2026-01-01-to-2026-03-31`
        ("" when none). Only [A-Za-z0-9._-] reach the name (a facility id made before
        the id rule, services/facilities.py, cannot break the Content-Disposition)."""
        safe = _UNSAFE.sub("_", self.facility)[:64]
        parts = [f"facility-{safe}"] if self.facility else []
        if self.dated:
            since = self.date_from.isoformat() if self.date_from else "start"
            until = self.date_to.isoformat() if self.date_to else "now"
            parts.append(f"{self.basis}-{since}-to-{until}")
        return "_".join(parts)

    def detail(self) -> dict[str, str]:
        """The filters for the audit entry (only those set)."""
        out = {"facility": self.facility} if self.facility else {}
        if self.dated:
            out["dates"] = self.basis
            if self.date_from:
                out["from"] = self.date_from.isoformat()
            if self.date_to:
                out["to"] = self.date_to.isoformat()
        return out


def _day(field: str, value: str) -> date | None:
    text = value.strip()
    if not text:
        return None
    if len(text) > 10 or not _DAY.match(text):
        raise ExportFilterError("bad_date", field, text[:40],
                                f"{field}: {text[:40]!r} is not a date: write it as "
                                "YYYY-MM-DD, e.g. 2026-03-31")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ExportFilterError("bad_date", field, text,
                                f"{field}: {text!r} is not a day of the calendar") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ExportFilterError("date_range", field, text,
                                f"{field}: {text!r} is outside {FIRST_DAY.year}–{LAST_DAY.year}")
    return day


def parse_filter(*, repo: Repository, facility: str = "", basis: str = "activity",
                 date_from: str = "", date_to: str = "") -> ExportFilter:
    """The filter of an export from its (untrusted) form or query fields; ExportFilterError
    names the field and what is wrong."""
    facility = facility.strip()[:100]
    if facility and repo.get_facility(facility) is None:
        raise ExportFilterError("unknown_facility", "facility", facility,
                                f"facility: no facility has the id {facility!r}")
    basis = basis.strip() or "activity"
    if basis not in BASES:
        raise ExportFilterError("bad_basis", "dates", basis[:40],
                                f"dates: {basis[:40]!r} is not one of {', '.join(BASES)}")
    since, until = _day("from", date_from), _day("to", date_to)
    if since and until and since > until:
        raise ExportFilterError("date_order", "to", date_to.strip(),
                                f"to: {until.isoformat()} is before from: "
                                f"{since.isoformat()}")
    return ExportFilter(facility, "completed" if basis == "completed" else "activity",
                        since, until)


CourseKey = tuple[str, str]


class PublishedCourses:
    """(facility, role) → the courses published to it, sorted (pack, course); computed
    once per pair and manifest (a report asks for every learner)."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._publications = repo.list_publications()      # read once per report
        self._manifests: dict[tuple[str, int], list[stats.CourseInfo]] = {}   # by version
        self._known: dict[tuple[str, str], list[CourseKey]] = {}

    def __call__(self, facility: str, role: str) -> list[CourseKey]:
        found = self._known.get((facility, role))
        if found is None:
            keys: set[CourseKey] = set()
            for pub in pack_delivery.offered(self._publications, facility, role).values():
                at = (pub.pack_id, pub.version)
                infos = self._manifests.get(at)
                if infos is None:
                    pack = self._repo.get_pack_version(pub.pack_id, pub.version)
                    infos = self._manifests[at] = (
                        stats.courses_of([json.loads(pack.manifest)]) if pack else [])
                keys.update((c.pack_id, c.course_id) for c in infos
                            if not c.roles or role in c.roles)
            found = self._known[(facility, role)] = sorted(keys)
        return found


def report_lines(*, repo: Repository, chosen: ExportFilter,
                 by: str = audit.SERVER) -> Iterator[str]:
    """The progress CSV for `chosen` as text pieces (exports.progress_csv_lines); the
    export is recorded in the audit log (`export.progress`, with the filters) first."""
    audit.record(repo, by, "export.progress", target=chosen.facility, **chosen.detail())
    rows = repo.progress_report_rows(chosen.scope())
    # titles from every uploaded version (progress may be of one no longer published);
    # versions come oldest first, so the newest title wins
    titles = stats.courses_of(json.loads(p.manifest) for p in repo.list_pack_versions())
    return progress_csv_lines(rows, titles,
                              published=None if chosen.dated else PublishedCourses(repo))



def event_filter(repo: Repository, chosen: ExportFilter) -> Callable[[dict[str, Any]], bool]:
    """Whether an event belongs to an export `chosen` (the xAPI download): a learner of
    the facility (where the learner is now: a move takes their events along) and done
    (`at`) in the date range. The date basis does not apply: an event has one date."""
    scope = chosen.scope()
    learners = ({lr.id for lr in repo.list_learners(chosen.facility)}
                if chosen.facility else None)

    def keep(event: dict[str, Any]) -> bool:
        if learners is not None and event.get("learner") not in learners:
            return False
        at = str(event.get("at") or "")
        return ((scope.since is None or at >= scope.since)
                and (scope.until is None or at < scope.until))
    return keep
