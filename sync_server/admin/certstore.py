"""Storage of issued certificates, beside the sync server's repository.

The tables are the certificate feature's own (``certificates``, ``certificate_cursor``),
created with ``CREATE TABLE IF NOT EXISTS`` in portable SQL on the repository's own
connection pool, so SQLite and PostgreSQL get the same schema and the repository's
migrations stay untouched. This class relies on the SqlRepository helpers
``_write()``, ``_read()`` and ``_sql()`` (sync_server/db/sql.py).

"Exactly once per learner + course" is the UNIQUE (learner_id, pack_id, course_id)
constraint: two server processes that see the same ``course.completed`` at once both try
the INSERT and only one row exists afterwards (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS certificates (
        id TEXT PRIMARY KEY, learner_id TEXT NOT NULL, pack_id TEXT NOT NULL,
        pack_version BIGINT NOT NULL, course_id TEXT NOT NULL, facility_id TEXT NOT NULL,
        language TEXT NOT NULL, issued_at TEXT NOT NULL, source_event TEXT NOT NULL,
        key_id TEXT NOT NULL, credential TEXT NOT NULL, delivered_at TEXT,
        revoked_at TEXT, revoked_by TEXT, revoke_reason TEXT,
        UNIQUE (learner_id, pack_id, course_id))""",
    "CREATE INDEX IF NOT EXISTS certificates_learner ON certificates (learner_id)",
    """CREATE TABLE IF NOT EXISTS certificate_cursor (
        name TEXT PRIMARY KEY, seq BIGINT NOT NULL)""",
)


@dataclass(frozen=True)
class CertificateRecord:
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
    delivered_at: str | None
    revoked_at: str | None
    revoked_by: str | None
    revoke_reason: str | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


_COLS = ("id, learner_id, pack_id, pack_version, course_id, facility_id, language, issued_at, "
         "source_event, key_id, credential, delivered_at, revoked_at, revoked_by, revoke_reason")


def _record(row: tuple[Any, ...]) -> CertificateRecord:
    values = list(row)
    values[10] = json.loads(values[10])
    values[3] = int(values[3])
    return CertificateRecord(*values)


class CertificateStore:
    def __init__(self, repo: Any) -> None:
        self.repo = repo
        self._migrate()

    def _migrate(self) -> None:
        for attempt in range(3):
            try:
                with self.repo._write() as cur:
                    for stmt in SCHEMA:
                        cur.execute(stmt)
                return
            except Exception as exc:  # two processes creating at once on PostgreSQL
                if attempt == 2 or not self.repo._is_unique_violation(exc):
                    raise

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.repo._read() as cur:
            cur.execute(self.repo._sql(sql), params)
            return list(cur.fetchall())

    # ----- cursor over the events table -------------------------------------------------
    def cursor(self) -> int:
        rows = self._all("SELECT seq FROM certificate_cursor WHERE name = 'completed'")
        return int(rows[0][0]) if rows else 0

    def advance_cursor(self, seq: int) -> None:
        """Move the scan cursor forward (never back, whoever writes last)."""
        with self.repo._write() as cur:
            cur.execute(self.repo._sql(
                "INSERT INTO certificate_cursor (name, seq) VALUES ('completed', ?) "
                "ON CONFLICT (name) DO UPDATE SET seq = CASE WHEN certificate_cursor.seq > "
                "excluded.seq THEN certificate_cursor.seq ELSE excluded.seq END"), (seq,))

    def completions_after(self, seq: int, limit: int = 500) -> list[tuple[int, str]]:
        """(seq, canonical event JSON) of stored course.completed events after ``seq``."""
        return [(int(s), c) for s, c in self._all(
            "SELECT seq, content FROM events WHERE seq > ? AND type = 'course.completed' "
            "ORDER BY seq LIMIT ?", (seq, limit))]

    def max_event_seq(self) -> int:
        rows = self._all("SELECT MAX(seq) FROM events")
        return int(rows[0][0] or 0) if rows else 0

    # ----- certificates -----------------------------------------------------------------
    def exists_for(self, learner_id: str, pack_id: str, course_id: str) -> bool:
        return bool(self._all("SELECT 1 FROM certificates WHERE learner_id = ? AND pack_id = ? "
                              "AND course_id = ?", (learner_id, pack_id, course_id)))

    def insert(self, record: CertificateRecord) -> bool:
        """Store a new certificate; False when the learner already has one for the course."""
        with self.repo._write() as cur:
            cur.execute(self.repo._sql(
                f"INSERT INTO certificates ({_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT DO NOTHING"),
                (record.id, record.learner_id, record.pack_id, record.pack_version,
                 record.course_id, record.facility_id, record.language, record.issued_at,
                 record.source_event, record.key_id,
                 json.dumps(record.credential, ensure_ascii=False, separators=(",", ":")),
                 None, None, None, None))
            return bool(cur.rowcount == 1)

    def get(self, certificate_id: str) -> CertificateRecord | None:
        rows = self._all(f"SELECT {_COLS} FROM certificates WHERE id = ?", (certificate_id,))
        return _record(rows[0]) if rows else None

    def list(self, *, learner_id: str | None = None, facility_id: str | None = None,
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
        return [_record(r) for r in self._all(sql, (*params, limit))]

    def ids_by_course(self) -> dict[tuple[str, str, str], str]:
        """(learner, pack, course) → certificate id, without loading the credentials."""
        return {(lr, p, c): cid for cid, lr, p, c in self._all(
            "SELECT id, learner_id, pack_id, course_id FROM certificates")}

    def count(self) -> int:
        return int(self._all("SELECT COUNT(*) FROM certificates")[0][0])

    def undelivered(self, limit: int = 500) -> list[CertificateRecord]:
        return [_record(r) for r in self._all(
            f"SELECT {_COLS} FROM certificates WHERE delivered_at IS NULL ORDER BY issued_at "
            "LIMIT ?", (limit,))]

    def mark_delivered(self, certificate_id: str, now: str) -> None:
        with self.repo._write() as cur:
            cur.execute(self.repo._sql("UPDATE certificates SET delivered_at = ? WHERE id = ? "
                                       "AND delivered_at IS NULL"), (now, certificate_id))

    def revoke(self, certificate_id: str, *, by: str, reason: str, now: str) -> bool:
        """Revoke once; False if unknown or already revoked (the first reason stays)."""
        with self.repo._write() as cur:
            cur.execute(self.repo._sql(
                "UPDATE certificates SET revoked_at = ?, revoked_by = ?, revoke_reason = ? "
                "WHERE id = ? AND revoked_at IS NULL"), (now, by, reason, certificate_id))
            return bool(cur.rowcount == 1)
