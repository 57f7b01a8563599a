"""PostgreSQL repository (psycopg 3) for a national service with several server processes.

Every process opens its own small pool. Writers of events and of learner revisions take
a transaction-level advisory lock so that `seq` / `rev` order equals commit order across
all processes (pull cursors then never skip a row); duplicate ids are still settled by
`INSERT … ON CONFLICT (id) DO NOTHING` and a content comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from sync_server.db.sql import SqlRepository
from sync_server.errors import DatabaseError

SCHEMA_VERSION = 1
LOCK_MIGRATE = 7_243_000

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS facilities (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS admins (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS admin_sessions (
        token_hash TEXT PRIMARY KEY, admin_id TEXT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
        expires_at TEXT NOT NULL, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS enrol_codes (
        code_hash TEXT PRIMARY KEY, facility_id TEXT NOT NULL REFERENCES facilities(id),
        expires_at TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
        used_at TEXT, used_by TEXT)""",
    """CREATE TABLE IF NOT EXISTS devices (
        id TEXT PRIMARY KEY, facility_id TEXT NOT NULL REFERENCES facilities(id),
        name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, enrolled_at TEXT NOT NULL,
        revoked_at TEXT, last_seen_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS learners (
        id TEXT PRIMARY KEY, staff_number TEXT NOT NULL, staff_key TEXT NOT NULL UNIQUE,
        facility_id TEXT NOT NULL REFERENCES facilities(id), role TEXT NOT NULL,
        language TEXT NOT NULL, display_name TEXT NOT NULL, pin_verifier TEXT,
        updated_at TEXT NOT NULL, rev BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS learners_facility_rev ON learners (facility_id, rev)",
    """CREATE TABLE IF NOT EXISTS events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,
        learner_id TEXT NOT NULL, device_id TEXT NOT NULL, facility_id TEXT NOT NULL,
        type TEXT NOT NULL, at TEXT NOT NULL, content TEXT NOT NULL,
        received_at TEXT NOT NULL, received_from TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS events_facility_seq ON events (facility_id, seq)",
    "CREATE INDEX IF NOT EXISTS events_learner ON events (learner_id)",
    """CREATE TABLE IF NOT EXISTS packs (
        pack_id TEXT NOT NULL, version INTEGER NOT NULL, manifest BYTEA NOT NULL,
        sig BYTEA NOT NULL, title TEXT NOT NULL, total_bytes BIGINT NOT NULL,
        uploaded_at TEXT NOT NULL, uploaded_by TEXT NOT NULL, PRIMARY KEY (pack_id, version))""",
    """CREATE TABLE IF NOT EXISTS publications (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, pack_id TEXT NOT NULL,
        version INTEGER NOT NULL, facilities TEXT NOT NULL, roles TEXT NOT NULL,
        published_at TEXT NOT NULL, published_by TEXT NOT NULL,
        FOREIGN KEY (pack_id, version) REFERENCES packs (pack_id, version))""",
    """CREATE TABLE IF NOT EXISTS device_packs (
        device_id TEXT NOT NULL REFERENCES devices(id), pack_id TEXT NOT NULL,
        version INTEGER NOT NULL, reported_at TEXT NOT NULL, PRIMARY KEY (device_id, pack_id))""",
]


def _safe_url(url: str) -> str:
    """The URL without its password, for error messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


class PostgresRepository(SqlRepository):
    dialect = "postgresql"
    placeholder = "%s"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = url
        super().__init__(pool_size)

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise DatabaseError(f"{_safe_url(self.url)}: cannot connect to PostgreSQL: "
                                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None

    def _is_broken(self, conn: Any, exc: BaseException) -> bool:
        return bool(getattr(conn, "closed", False) or getattr(conn, "broken", False)
                    or isinstance(exc, psycopg.OperationalError))

    @staticmethod
    def _ping(conn: Any) -> None:
        conn.execute("SELECT 1")

    @contextmanager
    def _write(self, *locks: int) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            for lock in sorted(locks):
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            yield cur

    def _renumber_events(self, cur: Any, learner_id: str, facility_id: str) -> None:
        # an identity column can be set to DEFAULT: the next values of its sequence
        cur.execute("UPDATE events SET seq = DEFAULT, facility_id = %s WHERE learner_id = %s",
                    (facility_id, learner_id))

    def _is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, pg_errors.UniqueViolation)

    def _migrate(self) -> None:
        with self._write(LOCK_MIGRATE) as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            cur.execute("SELECT MAX(version) FROM schema_version")
            current = cur.fetchone()[0] or 0
            if current > SCHEMA_VERSION:
                raise DatabaseError(f"{_safe_url(self.url)}: database schema {current} is newer "
                                    f"than this server ({SCHEMA_VERSION}); upgrade the server")
            if current < 1:
                for stmt in SCHEMA:
                    cur.execute(stmt)
                cur.execute("INSERT INTO schema_version (version) VALUES (1)")
