"""The audit log from the services' side: who did what, recorded by the service that
does it (so the JSON API, the console and the CLI are covered alike), read by the
console page and its CSV export (docs/admin-guide.md "Audit log").

`entry(...)` makes the row a service hands to the store method that writes the action
(db/audit.py: it is inserted in the same transaction); `record(...)` appends one on its
own for actions that write nothing else (an export, a refused login). Never put a
secret (password, token, code, PIN, verifier) or a learner's name or staff number in a
detail: learners are named by id.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.clock import now_iso
from app.core.events import format_at
from sync_server.db.repository import AuditEntry, AuditQuery, AuditRecord, Repository
from sync_server.errors import ServerError
from sync_server.services.learners_csv import csv_safe

#: Every action the log knows, with the words the console shows.
ACTIONS: dict[str, str] = {
    "admin.login": "admin login",
    "admin.login_failed": "admin login failed",
    "admin.create": "admin created",
    "admin.password": "admin password changed",
    "facility.create": "facility created",
    "facility.rename": "facility renamed",
    "enrol_code.create": "enrolment code created",
    "enrol_code.cancel": "enrolment code cancelled",
    "device.revoke": "device revoked",
    "pack.upload": "pack uploaded",
    "pack.publish": "pack published",
    "pack.rollback": "pack rolled back",
    "pack.withdraw": "pack withdrawn",
    "learner.create": "learner created",
    "learner.move": "learner moved",
    "learner.pin_reset": "learner PIN reset",
    "learner.edit": "learner edited",
    "learner.deactivate": "learner deactivated",
    "learner.reactivate": "learner reactivated",
    "learner.erase": "learner erased",
    "learner.export": "learner record exported",
    "certificate.revoke": "certificate revoked",
    "export.progress": "progress exported",
    "export.xapi": "xAPI exported",
    "export.lrs": "xAPI sent to an LRS",
    "export.audit": "audit log exported",
    "export.report": "facility report exported",
    "retention.events": "retention: events folded and deleted",
    "retention.audit": "retention: audit entries deleted",
    # the authoring studio (issue 20, docs/authoring.md "Studio")
    "admin.roles": "admin roles changed",
    "draft.create": "draft created",
    "draft.open": "pack version opened as a draft",
    "draft.edit": "draft edited",
    "draft.import": "draft source uploaded",
    "draft.export": "draft source downloaded",
    "draft.build": "draft built into a version",
    "draft.delete": "draft deleted",
    "translation.save": "translation saved",
    "translation.review": "translations marked reviewed",
    "translation.export": "translation exported (XLIFF / PO)",
    "translation.import": "translation imported (XLIFF / PO)",
}
#: The actor of scheduled work done by the server itself.
SERVER = "server"
MAX_PAGE = 1000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def cli_actor() -> str:
    """The actor of a CLI command: the operating-system user who ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"cli:{user}"


def entry(by: str, action: str, *, target: str = "", learner_id: str | None = None,
          outcome: str = "ok", at: str | None = None, **detail: Any) -> AuditEntry:
    """An audit row for `action` (one of ACTIONS) done by `by` now."""
    if action not in ACTIONS:
        raise ValueError(f"audit: unknown action {action!r}")
    return AuditEntry(actor=by, action=action, at=at or now_iso(), target=target,
                      learner_id=learner_id, outcome=outcome, detail=detail)


def record(repo: Repository, by: str, action: str, **kw: Any) -> None:
    """Append an entry on its own (actions that write nothing else)."""
    repo.record_audit(entry(by, action, **kw))


def _day(value: str, field: str, *, end: bool = False) -> str | None:
    """A filter date `YYYY-MM-DD` → the `at` bound (`end`: the day after, exclusive)."""
    value = value.strip()
    if not value:
        return None
    if not _DAY.match(value):
        raise ServerError(f"{field}: expected a date YYYY-MM-DD, got {value[:40]!r}")
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ServerError(f"{field}: not a date: {value!r}") from None
    if end:
        day += timedelta(days=1)
    return format_at(day)


def query(*, actor: str = "", action: str = "", learner_id: str = "", date_from: str = "",
          date_to: str = "", limit: int = 500, before_seq: int | None = None) -> AuditQuery:
    """Filters as typed in the console (dates `YYYY-MM-DD`, `date_to` inclusive);
    ServerError names a bad one."""
    if action and action not in ACTIONS:
        raise ServerError(f"action: unknown action {action[:60]!r}")
    for name, value in (("actor", actor), ("learner", learner_id)):
        if len(value) > 200:
            raise ServerError(f"{name}: at most 200 characters")
        if not value.isprintable():
            raise ServerError(f"{name}: control characters are not allowed")
    return AuditQuery(actor=actor.strip() or None, action=action or None,
                      learner_id=learner_id.strip() or None,
                      since=_day(date_from, "from"), until=_day(date_to, "to", end=True),
                      before_seq=before_seq, limit=max(1, min(limit, MAX_PAGE)))


def entries(*, repo: Repository, filters: AuditQuery) -> list[AuditRecord]:
    """Matching entries, newest first."""
    return repo.audit_entries(filters)


def all_entries(*, repo: Repository, filters: AuditQuery) -> Iterator[AuditRecord]:
    """Every matching entry, newest first, a page at a time."""
    before = filters.before_seq
    while True:
        page = repo.audit_entries(AuditQuery(
            actor=filters.actor, action=filters.action, learner_id=filters.learner_id,
            since=filters.since, until=filters.until, before_seq=before, limit=MAX_PAGE))
        yield from page
        if len(page) < MAX_PAGE:
            return
        before = page[-1].seq


CSV_HEADER = ["seq", "at", "actor", "action", "target", "learner_id", "outcome", "detail"]


def csv_text(*, repo: Repository, filters: AuditQuery, by: str) -> str:
    """The matching entries as CSV (UTF-8 with BOM for spreadsheets; formula-like cells
    neutralised like the progress export). The export itself is recorded first."""
    record(repo, by, "export.audit", detail_filters={
        k: v for k, v in (("actor", filters.actor), ("action", filters.action),
                          ("learner", filters.learner_id), ("since", filters.since),
                          ("until", filters.until)) if v})
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in all_entries(repo=repo, filters=filters):
        writer.writerow([csv_safe(str(v)) for v in (
            e.seq, e.at, e.actor, e.action, e.target, e.learner_id or "", e.outcome,
            json.dumps(e.detail, ensure_ascii=False, sort_keys=True))])
    return out.getvalue()
