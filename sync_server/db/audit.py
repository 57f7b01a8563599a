"""The audit log: one row per admin action (who, when, what, on what), append-only.

Written by the services (sync_server/services/audit.py builds the entries), never by a
route, so the JSON API, the console and the CLI are covered alike. An action that writes
passes its `AuditEntry` to the store method doing the write (`audit=`), which inserts it
**in the same transaction** (`insert_audit`): the log never shows an action that was
rolled back, and an action never happens without its row. Actions that only read (an
export) or that refuse (a failed login) are recorded on their own (`record_audit`).

Append-only: the store has no update; rows leave only through retention
(`delete_audit_before`, services/retention.py). Rows hold ids and short facts, never a
secret (no password, token, code, PIN verifier) and no learner name or staff number —
a learner is named by their id (`learner_id`), so an erased learner's rows keep the
accountability trail while pointing at nobody (docs/privacy.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sync_server.db.base import SqlBase, placeholders

_COLS = "seq, at, actor, action, target, learner_id, outcome, detail"
#: longest text kept in one field (a hostile name cannot bloat the log)
MAX_FIELD = 200
MAX_DETAIL = 2000


@dataclass(frozen=True)
class AuditEntry:
    """What an admin did. `actor`: admin name, `cli:<os user>` or `server` (scheduled
    work); `target`: the id acted on (learner, device, certificate, pack@version,
    facility); `learner_id`: the learner it concerns, if any (filters, access export);
    `outcome`: `ok` or `refused`; `detail`: a few facts (never secrets)."""

    actor: str
    action: str
    at: str
    target: str = ""
    learner_id: str | None = None
    outcome: str = "ok"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: str
    actor: str
    action: str
    target: str
    learner_id: str | None
    outcome: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the console page and the CSV export (all optional, combined with AND);
    `until` is exclusive; `after_seq` pages backwards from newest (rows with seq below)."""

    actor: str | None = None
    action: str | None = None
    learner_id: str | None = None
    since: str | None = None
    until: str | None = None
    before_seq: int | None = None
    limit: int = 500


class AuditStore(Protocol):
    def record_audit(self, entry: AuditEntry) -> None:
        """Append one entry in its own transaction (actions that do not write)."""
        ...

    def audit_entries(self, query: AuditQuery) -> list[AuditRecord]:
        """Matching entries, newest first."""
        ...

    def delete_audit_before(self, cutoff: str,
                            audit: Callable[[int], AuditEntry | None] | None = None) -> int:
        """Retention: delete entries older than `cutoff`; returns how many went."""
        ...


def _clip(value: str, limit: int = MAX_FIELD) -> str:
    return value if len(value) <= limit else value[:limit - 1] + "…"


def insert_audit(cur: Any, dialect: str, entry: AuditEntry) -> None:
    """Insert `entry` with the cursor of the caller's write transaction."""
    detail = json.dumps(entry.detail, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(detail) > MAX_DETAIL:
        detail = json.dumps({"truncated": _clip(detail, MAX_DETAIL - 40)}, ensure_ascii=False)
    cur.execute(placeholders(dialect,
                             "INSERT INTO audit_log (at, actor, action, target, learner_id, "
                             "outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                (entry.at, _clip(entry.actor), _clip(entry.action), _clip(entry.target),
                 entry.learner_id, _clip(entry.outcome), detail))


def audit_in(cur: Any, dialect: str, entry: AuditEntry | None) -> None:
    """`insert_audit` when there is an entry (the stores' `audit=` keyword)."""
    if entry is not None:
        insert_audit(cur, dialect, entry)


def _record(row: tuple[Any, ...]) -> AuditRecord:
    seq, at, actor, action, target, learner_id, outcome, detail = row
    try:
        parsed = json.loads(detail) if detail else {}
    except ValueError:
        parsed = {"text": detail}
    return AuditRecord(int(seq), at, actor, action, target, learner_id, outcome,
                       parsed if isinstance(parsed, dict) else {"value": parsed})


class AuditSql(SqlBase):
    def record_audit(self, entry: AuditEntry) -> None:
        with self._write() as cur:
            insert_audit(cur, self.dialect, entry)

    def audit_entries(self, query: AuditQuery) -> list[AuditRecord]:
        where: list[str] = []
        params: list[Any] = []
        for column, value, op in (("actor", query.actor, "="), ("action", query.action, "="),
                                  ("learner_id", query.learner_id, "="),
                                  ("at", query.since, ">="), ("at", query.until, "<"),
                                  ("seq", query.before_seq, "<")):
            if value is not None and value != "":
                where.append(f"{column} {op} ?")
                params.append(value)
        sql = f"SELECT {_COLS} FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        return [_record(r) for r in self._all(sql, (*params, max(0, query.limit)))]

    def delete_audit_before(self, cutoff: str,
                            audit: Callable[[int], AuditEntry | None] | None = None) -> int:
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM audit_log WHERE at < ?"), (cutoff,))
            count = int(cur.rowcount)
            entry = audit(count) if audit is not None else None
            if entry is not None:     # after the delete: the run's own entry stays
                insert_audit(cur, self.dialect, entry)
        return count
