"""Pack drafts of the authoring studio (issue 20, docs/authoring.md "Studio"): one row per
draft. The draft's content is a pack source folder under `<data dir>/drafts/<id>/`
(sync_server/authoring/drafts.py); this table holds who made it, from which version,
when it changed and whether it was built.

Statuses: `open` (being written), `built` (a version was built from it; it stays editable
and a later build bumps the version again), `closed` (kept for the record, read-only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sync_server.db.audit import AuditEntry, audit_in
from sync_server.db.base import SqlBase
from sync_server.errors import AlreadyExistsError, NotFoundError

_COLS = ("id, pack_id, based_on, status, created_by, created_at, updated_by, updated_at, "
         "built_version")
DRAFT_STATUSES = ("open", "built", "closed")


@dataclass(frozen=True)
class Draft:
    id: str
    pack_id: str
    based_on: int | None        # the pack version it was opened from (None: a new pack)
    status: str                 # open | built | closed
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    built_version: int | None   # the last version built from it


class DraftStore(Protocol):
    def create_draft(self, draft: Draft, *, audit: AuditEntry | None = None) -> Draft:
        """AlreadyExistsError when the id is taken."""
        ...

    def get_draft(self, draft_id: str) -> Draft | None: ...

    def list_drafts(self, pack_id: str | None = None) -> list[Draft]:
        """Newest change first."""
        ...

    def touch_draft(self, draft_id: str, by: str, now: str, *, status: str | None = None,
                    built_version: int | None = None,
                    audit: AuditEntry | None = None) -> Draft:
        """Record a change (and optionally a new status / built version); NotFoundError
        for an unknown id."""
        ...

    def delete_draft(self, draft_id: str, *, audit: AuditEntry | None = None) -> bool: ...


class DraftSql(SqlBase):
    def create_draft(self, draft: Draft, *, audit: AuditEntry | None = None) -> Draft:
        try:
            with self._write() as cur:
                cur.execute(self._sql(f"INSERT INTO drafts ({_COLS}) VALUES "
                                      "(?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                            (draft.id, draft.pack_id, draft.based_on, draft.status,
                             draft.created_by, draft.created_at, draft.updated_by,
                             draft.updated_at, draft.built_version))
                audit_in(cur, self.dialect, audit)
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExistsError(f"draft {draft.id!r} already exists") from None
            raise
        return draft

    def get_draft(self, draft_id: str) -> Draft | None:
        row = self._one(f"SELECT {_COLS} FROM drafts WHERE id = ?", (draft_id,))
        return _draft(row) if row else None

    def list_drafts(self, pack_id: str | None = None) -> list[Draft]:
        if pack_id is None:
            rows = self._all(f"SELECT {_COLS} FROM drafts ORDER BY updated_at DESC, id")
        else:
            rows = self._all(f"SELECT {_COLS} FROM drafts WHERE pack_id = ? "
                             "ORDER BY updated_at DESC, id", (pack_id,))
        return [_draft(r) for r in rows]

    def touch_draft(self, draft_id: str, by: str, now: str, *, status: str | None = None,
                    built_version: int | None = None,
                    audit: AuditEntry | None = None) -> Draft:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE drafts SET updated_by = ?, updated_at = ?, "
                                  "status = COALESCE(?, status), "
                                  "built_version = COALESCE(?, built_version) WHERE id = ?"),
                        (by, now, status, built_version, draft_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"draft {draft_id!r} does not exist")
            audit_in(cur, self.dialect, audit)
        found = self.get_draft(draft_id)
        assert found is not None
        return found

    def delete_draft(self, draft_id: str, *, audit: AuditEntry | None = None) -> bool:
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM drafts WHERE id = ?"), (draft_id,))
            gone = bool(cur.rowcount)
            if gone:
                audit_in(cur, self.dialect, audit)
        return gone


def _draft(row: tuple[object, ...]) -> Draft:
    (draft_id, pack_id, based_on, status, created_by, created_at, updated_by, updated_at,
     built) = row
    return Draft(str(draft_id), str(pack_id), None if based_on is None else int(str(based_on)),
                 str(status), str(created_by), str(created_at), str(updated_by),
                 str(updated_at), None if built is None else int(str(built)))
