"""Issued certificates: the signed credential and its bookkeeping (delivery to the
tablets, revocation, the place in a revocation status list). Issuing rules:
services/issuing.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from sync_server.db.audit import AuditEntry, audit_in
from sync_server.db.base import SqlBase
from sync_server.db.locks import LOCK_LEARNERS
from sync_server.errors import ErasedError

_COLS = ("id, learner_id, pack_id, pack_version, course_id, facility_id, language, "
         "issued_at, source_event, key_id, credential, delivered_at, revoked_at, revoked_by, "
         "revoke_reason, status_list, status_index")


@dataclass(frozen=True)
class CertificateRecord:
    """An issued certificate: the signed credential (a dict) and its bookkeeping.

    At most one per (learner, pack, course): the table's UNIQUE constraint makes issuing
    exactly-once even when two server processes see the same completion at once."""

    id: str
    learner_id: str
    pack_id: str
    pack_version: int
    course_id: str
    facility_id: str
    language: str
    issued_at: str
    source_event: str
    key_id: str
    credential: dict[str, Any]
    delivered_at: str | None = None
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None
    #: place in the revocation status list (docs/certificates.md); None before schema 4
    status_list: int | None = None
    status_index: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class CertificateStore(Protocol):
    def insert_certificate(self, record: CertificateRecord) -> bool:
        """Store a new certificate; False when the learner already has one for the course
        (or its status list place is taken). ErasedError when the learner's record was
        erased — also by an erasure that committed while the certificate was judged:
        the insert waits for it (the learners' lock) and finds its tombstone."""
        ...

    def get_certificate(self, certificate_id: str) -> CertificateRecord | None: ...

    def list_certificates(self, *, learner_id: str | None = None,
                          facility_id: str | None = None,
                          limit: int = 1000) -> list[CertificateRecord]:
        """Newest first."""
        ...

    def certificate_exists(self, learner_id: str, pack_id: str, course_id: str) -> bool: ...

    def certificate_ids_by_course(self) -> dict[tuple[str, str, str], str]:
        """(learner, pack, course) → certificate id, without loading the credentials."""
        ...

    def count_certificates(self) -> int: ...
    def undelivered_certificates(self, limit: int = 500) -> list[CertificateRecord]: ...
    def mark_certificate_delivered(self, certificate_id: str, now: str) -> None: ...

    def revoke_certificate(self, certificate_id: str, *, by: str, reason: str,
                           now: str, audit: AuditEntry | None = None) -> bool:
        """Revoke once; False if unknown or already revoked (the first reason stays)."""
        ...

    def revoked_status_indexes(self, status_list: int) -> list[int]:
        """Indexes of the revoked certificates in one revocation status list."""
        ...

    def max_status_list(self) -> int:
        """The highest status list number in use (0: none yet)."""
        ...


def _certificate(row: tuple[Any, ...]) -> CertificateRecord:
    values = list(row)
    values[3] = int(values[3])
    values[10] = json.loads(values[10])
    for i in (15, 16):
        values[i] = None if values[i] is None else int(values[i])
    return CertificateRecord(*values)


class CertificateSql(SqlBase):
    def insert_certificate(self, record: CertificateRecord) -> bool:
        with self._write(LOCK_LEARNERS) as cur:                 # (erasure.py holds it)
            cur.execute(self._sql("SELECT 1 FROM erasures WHERE learner_id = ?"),
                        (record.learner_id,))
            if cur.fetchone() is not None:
                raise ErasedError(f"learner {record.learner_id}: the record was erased; "
                                  "no certificate is kept for it")
            cur.execute(self._sql(
                f"INSERT INTO certificates ({_COLS}) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"),
                (record.id, record.learner_id, record.pack_id, record.pack_version,
                 record.course_id, record.facility_id, record.language, record.issued_at,
                 record.source_event, record.key_id,
                 json.dumps(record.credential, ensure_ascii=False, separators=(",", ":")),
                 record.delivered_at, record.revoked_at, record.revoked_by, record.revoke_reason,
                 record.status_list, record.status_index))
            return bool(cur.rowcount == 1)

    def get_certificate(self, certificate_id: str) -> CertificateRecord | None:
        row = self._one(f"SELECT {_COLS} FROM certificates WHERE id = ?", (certificate_id,))
        return _certificate(row) if row else None

    def list_certificates(self, *, learner_id: str | None = None, facility_id: str | None = None,
                          limit: int = 1000) -> list[CertificateRecord]:
        where, params = [], []
        if learner_id:
            where.append("learner_id = ?")
            params.append(learner_id)
        if facility_id:
            where.append("facility_id = ?")
            params.append(facility_id)
        sql = f"SELECT {_COLS} FROM certificates"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY issued_at DESC, id LIMIT ?"
        return [_certificate(r) for r in self._all(sql, (*params, limit))]

    def certificate_exists(self, learner_id: str, pack_id: str, course_id: str) -> bool:
        return self._one("SELECT 1 FROM certificates WHERE learner_id = ? AND pack_id = ? "
                         "AND course_id = ?", (learner_id, pack_id, course_id)) is not None

    def certificate_ids_by_course(self) -> dict[tuple[str, str, str], str]:
        return {(lr, p, c): cid for cid, lr, p, c in self._all(
            "SELECT id, learner_id, pack_id, course_id FROM certificates")}

    def count_certificates(self) -> int:
        row = self._one("SELECT COUNT(*) FROM certificates")
        return int(row[0]) if row else 0

    def undelivered_certificates(self, limit: int = 500) -> list[CertificateRecord]:
        return [_certificate(r) for r in self._all(
            f"SELECT {_COLS} FROM certificates WHERE delivered_at IS NULL "
            "ORDER BY issued_at, id LIMIT ?", (limit,))]

    def mark_certificate_delivered(self, certificate_id: str, now: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("UPDATE certificates SET delivered_at = ? WHERE id = ? "
                                  "AND delivered_at IS NULL"), (now, certificate_id))

    def revoke_certificate(self, certificate_id: str, *, by: str, reason: str, now: str,
                           audit: AuditEntry | None = None) -> bool:
        with self._write() as cur:
            cur.execute(self._sql(
                "UPDATE certificates SET revoked_at = ?, revoked_by = ?, revoke_reason = ? "
                "WHERE id = ? AND revoked_at IS NULL"), (now, by, reason, certificate_id))
            changed = bool(cur.rowcount == 1)
            if changed:
                audit_in(cur, self.dialect, audit)
            return changed

    def revoked_status_indexes(self, status_list: int) -> list[int]:
        return sorted(int(i) for (i,) in self._all(
            "SELECT status_index FROM certificates WHERE status_list = ? AND revoked_at IS NOT "
            "NULL AND status_index IS NOT NULL", (status_list,)))

    def max_status_list(self) -> int:
        row = self._one("SELECT MAX(status_list) FROM certificates")
        return int(row[0]) if row and row[0] is not None else 0
