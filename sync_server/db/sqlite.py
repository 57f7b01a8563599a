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

from sync_server.db.schema import VERSIONS, statements
from sync_server.db.sql import SqlRepository
from sync_server.errors import DatabaseError

#: The whole schema as SQLite statements (benchmarks build the same tables with it).
SCHEMA = [stmt for v in sorted(VERSIONS) for stmt in statements("sqlite", v)]


class SqliteRepository(SqlRepository):
    dialect = "sqlite"

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

    def _label(self) -> str:
        return str(self.path)
