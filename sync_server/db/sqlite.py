"""SQLite repository: the zero-config default (one file in the data dir, WAL mode).

Writers are serialised by a thread lock, then an exclusive `flock` on `<db>.writelock`
(several server processes, e.g. `serve --workers 2`, queue there instead of polling
SQLite's busy handler, which sleeps for milliseconds at a time), then BEGIN IMMEDIATE.
So event `seq` order is commit order and pull cursors never skip a row.

Checkpoints (copying the WAL back into the database file, with an fsync) are made by a
writer after it has let go of the write lock, once CHECKPOINT_ROWS rows were written
since the last one, instead of by SQLite inside whichever commit crosses 1,000 WAL
pages: with 500-event pushes that was one commit in three, and the checkpoint's I/O
(≈ ⅓ of the time the write lock was held) kept every other writer waiting. Rows, not
commits: a push with profiles commits four times, a bulk push once. SQLite's own
automatic checkpoint stays on, at FALLBACK_CHECKPOINT_PAGES, should the WAL ever grow
that far regardless.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sync_server.db.events import insert_sql
from sync_server.db.schema import VERSIONS, statements
from sync_server.db.sql import SqlRepository
from sync_server.errors import DatabaseError

#: The whole schema as SQLite statements (benchmarks build the same tables with it).
SCHEMA = [stmt for v in sorted(VERSIONS) for stmt in statements("sqlite", v)]

#: rows this process writes between two checkpoints (≈ 8 pushes of 500 events with their
#: report rows; a WAL of ≈ 10–20 MB)
CHECKPOINT_ROWS = 4_000
#: SQLite's automatic checkpoint, in WAL pages, as a fallback (its default is 1,000)
FALLBACK_CHECKPOINT_PAGES = 10_000

logger = logging.getLogger(__name__)

#: page cache of the writer connection (SQLite's default is 2 MiB): the pages of the
#: event-id index a push changes are spread over the whole index
WRITER_CACHE_KIB = 32 * 1024

#: event rows per INSERT statement (× 9 parameters: below SQLite's limit of 32,766)
_INSERT_ROWS = 500


class SqliteRepository(SqlRepository):
    dialect = "sqlite"

    def __init__(self, path: Path, *, pool_size: int = 8) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"{self.path.parent}: cannot create the data folder: {exc}") from None
        self._write_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self._rows_written = 0         # since the last checkpoint (under _write_lock)
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
            conn.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_CHECKPOINT_PAGES}")
        except sqlite3.Error as exc:
            raise DatabaseError(f"{self.path}: cannot open the SQLite database: {exc}") from None
        return conn

    @contextmanager
    def _write(self, *locks: int,
               prepare: Callable[[Any], None] | None = None) -> Iterator[Any]:
        with self._write_lock:
            conn = self._writer_connection()
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                cur = conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                changes = conn.total_changes
                try:
                    if prepare is not None:
                        prepare(cur)
                    yield cur
                    conn.commit()
                finally:
                    cur.close()
                    if conn.in_transaction:     # the body raised, or the commit failed
                        self._roll_back(conn)
                self._rows_written += conn.total_changes - changes
                checkpoint_due = self._rows_written >= CHECKPOINT_ROWS
                if checkpoint_due:
                    self._rows_written = 0
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        if checkpoint_due:
            self._checkpoint()

    def _writer_connection(self) -> sqlite3.Connection:
        """The one connection this process writes on (under the write lock). Not a pool
        connection: SQLite drops a connection's page cache whenever another connection
        wrote since its last use, so a writer taken from the pool started cold nearly
        every time and re-read the event-id index it was about to change; this one
        keeps its cache (WRITER_CACHE_KIB) from write to write. Measured: the 200 × 500
        burst's last device 3.2–3.3 s instead of 3.4–3.5 s (benchmarks/server_concurrency.py)."""
        if self._writer is None:
            self._writer = self._connect()
            self._writer.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
        return self._writer

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        """Undo a write that failed; a connection left inside a transaction (a rollback
        that failed too) is dropped, so the next write opens a fresh one instead of
        failing on BEGIN for good."""
        try:
            conn.rollback()
        except sqlite3.Error as exc:
            logger.warning("SQLite rollback on %s failed: %s", self.path, exc)
        if conn.in_transaction:
            self._writer = None
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _checkpoint(self) -> None:
        """A PASSIVE checkpoint, outside the write lock: it copies what no reader still
        needs and waits for no one, so the next writer goes on meanwhile. A failure is
        logged, never raised: the commit before it is done, and the next one retries."""
        try:
            with self._pool.connection() as conn:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            logger.warning("SQLite checkpoint of %s failed (retried later): %s", self.path, exc)

    def close(self) -> None:
        super().close()
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
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

    def _insert_event_rows(self, cur: Any, rows: list[tuple[Any, ...]],
                           offered: list[tuple[Any, ...]]) -> int:
        """One multi-row statement per 500 rows: one SQLite step that runs without the
        GIL, instead of `executemany`'s step per row — each of which gives the GIL up and
        must win it back while this thread holds the write lock and the other push
        slot's checks run (measured: ≈ 10 % more events per second through HTTP)."""
        inserted = 0
        for start in range(0, len(rows), _INSERT_ROWS):
            part = rows[start:start + _INSERT_ROWS]
            cur.execute(insert_sql(len(part)), [value for row in part for value in row])
            inserted += cur.rowcount
        return inserted

    def _is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc).upper()

    def _label(self) -> str:
        return str(self.path)
