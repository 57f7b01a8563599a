"""SQLite repository: the zero-config default (one file in the data dir, WAL mode).

Writers are serialised by a thread lock, then an exclusive `flock` on `<db>.writelock`
(several server processes, e.g. `serve --workers 2`, queue there instead of polling
SQLite's busy handler, which sleeps for milliseconds at a time), then BEGIN IMMEDIATE.
So event `seq` order is commit order and pull cursors never skip a row.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sync_server.db.sql import SqlRepository
from sync_server.errors import DatabaseError

SCHEMA_VERSION = 1

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
        updated_at TEXT NOT NULL, rev INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS learners_facility_rev ON learners (facility_id, rev)",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
        learner_id TEXT NOT NULL, device_id TEXT NOT NULL, facility_id TEXT NOT NULL,
        type TEXT NOT NULL, at TEXT NOT NULL, content TEXT NOT NULL,
        received_at TEXT NOT NULL, received_from TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS events_facility_seq ON events (facility_id, seq)",
    "CREATE INDEX IF NOT EXISTS events_learner ON events (learner_id)",
    """CREATE TABLE IF NOT EXISTS packs (
        pack_id TEXT NOT NULL, version INTEGER NOT NULL, manifest BLOB NOT NULL,
        sig BLOB NOT NULL, title TEXT NOT NULL, total_bytes INTEGER NOT NULL,
        uploaded_at TEXT NOT NULL, uploaded_by TEXT NOT NULL, PRIMARY KEY (pack_id, version))""",
    """CREATE TABLE IF NOT EXISTS publications (
        id INTEGER PRIMARY KEY AUTOINCREMENT, pack_id TEXT NOT NULL, version INTEGER NOT NULL,
        facilities TEXT NOT NULL, roles TEXT NOT NULL, published_at TEXT NOT NULL,
        published_by TEXT NOT NULL, FOREIGN KEY (pack_id, version) REFERENCES packs (pack_id, version))""",
    """CREATE TABLE IF NOT EXISTS device_packs (
        device_id TEXT NOT NULL REFERENCES devices(id), pack_id TEXT NOT NULL,
        version INTEGER NOT NULL, reported_at TEXT NOT NULL, PRIMARY KEY (device_id, pack_id))""",
]


class SqliteRepository(SqlRepository):
    dialect = "sqlite"
    placeholder = "?"

    def __init__(self, path: Path, *, pool_size: int = 8) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"{self.path.parent}: cannot create the data folder: {exc}") from None
        self._write_lock = threading.Lock()
        try:
            self._lock_file = open(self.path.with_name(self.path.name + ".writelock"), "a+b")  # noqa: SIM115
        except OSError as exc:
            raise DatabaseError(f"{self.path}: cannot open the write lock file: {exc}") from None
        super().__init__(pool_size)

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")   # durable across app crashes in WAL
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise DatabaseError(f"{self.path}: cannot open the SQLite database: {exc}") from None
        return conn

    @contextmanager
    def _write(self, *locks: int) -> Iterator[Any]:
        with self._write_lock, self._pool.connection() as conn:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                cur = conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
                except BaseException:
                    conn.rollback()
                    raise
                else:
                    conn.commit()
                finally:
                    cur.close()
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def close(self) -> None:
        super().close()
        self._lock_file.close()

    def _renumber_events(self, cur: Any, learner_id: str, facility_id: str) -> None:
        cur.execute("SELECT seq FROM events WHERE learner_id = ? ORDER BY seq", (learner_id,))
        old = [r[0] for r in cur.fetchall()]
        if not old:
            return
        cur.execute("SELECT MAX(seq) FROM events")
        top = cur.fetchone()[0]
        cur.executemany("UPDATE events SET seq = ?, facility_id = ? WHERE seq = ?",
                        [(top + i + 1, facility_id, seq) for i, seq in enumerate(old)])
        cur.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'events'",
                    (top + len(old),))

    def _is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc).upper()

    def _migrate(self) -> None:
        with self._write() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            cur.execute("SELECT MAX(version) FROM schema_version")
            current = cur.fetchone()[0] or 0
            if current > SCHEMA_VERSION:
                raise DatabaseError(f"{self.path}: database schema {current} is newer than this "
                                    f"server ({SCHEMA_VERSION}); upgrade the server")
            if current < 1:
                for stmt in SCHEMA:
                    cur.execute(stmt)
                cur.execute("INSERT INTO schema_version (version) VALUES (1)")
