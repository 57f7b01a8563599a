"""What every SQL store shares: the connection pool, transactions and the dialect hooks.

Each kind of record (facilities.py, devices.py, learners.py, …) is a small class on top
of `SqlBase`; sql.py composes them into the one repository object the server uses, and
sqlite.py / postgres.py fill in the dialect hooks:

* `_connect` opens a connection, `_is_broken` tells a dead one (dropped, not reused),
  `_ping` checks a long-idle one;
* `_write(*locks)` is a write transaction; `locks` (db/locks.py) name the writer groups
  that must be serialised across server processes (SQLite: its single write lock;
  PostgreSQL: transaction-level advisory locks);
* `_is_unique_violation` recognises a UNIQUE conflict, `_renumber_events` gives a moved
  learner's events new seqs at the end of the log.

Statements are written with `?` placeholders; `_sql` rewrites them for the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sync_server.db.pool import Pool
from sync_server.errors import NotFoundError

Row = tuple[Any, ...]


#: values per `IN (…)` list: under SQLite's limit of bound variables, and a statement
#: PostgreSQL plans quickly
IN_LIST = 500


def in_lists(values: Sequence[str], size: int = IN_LIST) -> Iterator[tuple[tuple[str, ...], str]]:
    """`values` in parts of at most `size`, each with its `?,?,…` marks: one query per
    part reads what one `IN (…)` of them all would."""
    for start in range(0, len(values), size):
        part = tuple(values[start:start + size])
        yield part, ",".join("?" * len(part))


def placeholders(dialect: str, sql: str) -> str:
    """`sql` written with `?` placeholders, in the form the dialect's driver wants."""
    return sql if dialect == "sqlite" else sql.replace("?", "%s")


class SqlBase:
    """Connection handling shared by the stores; see the module docstring."""

    dialect: str = "sql"
    _pool: Pool

    def _open_pool(self, size: int) -> None:
        self._pool = Pool(self._connect, size, self._is_broken, self._ping)

    # ----- dialect hooks -------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _is_broken(self, conn: Any, exc: BaseException) -> bool:
        return False

    def _ping(self, conn: Any) -> None:
        """Check a long-idle connection before use (raises when it is dead)."""

    def _write(self, *locks: int,
               prepare: Callable[[Any], None] | None = None) -> AbstractContextManager[Any]:
        """A write transaction yielding a cursor; `locks` name the writer groups to
        serialise. `prepare(cursor)`: work of the same transaction that needs none of
        those locks — PostgreSQL runs it before taking them, so other writers go on
        meanwhile; SQLite, whose write lock is the transaction itself, first in it."""
        raise NotImplementedError

    def _is_unique_violation(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def _renumber_events(self, cur: Any, learner_id: str, facility_id: str) -> None:
        raise NotImplementedError

    def _stage_event_rows(self, cur: Any, rows: list[tuple[Any, ...]]) -> None:
        """Send event rows (db/events.py EVENT_COLUMNS) where `_insert_event_rows` will
        find them, before the writer locks are taken (`_write`'s `prepare`); a database
        with no such stage does nothing here (the rows then go with the insert)."""

    def _insert_event_rows(self, cur: Any, rows: list[tuple[Any, ...]],
                           offered: list[tuple[Any, ...]]) -> int:
        """`INSERT … ON CONFLICT (id) DO NOTHING` of event rows, in their order, under
        the caller's write lock; how many were inserted. `offered`: the rows given to
        `_stage_event_rows` (a superset of `rows`: an erased learner's are left out). The
        push's largest statement, so each database gets its fastest form."""
        raise NotImplementedError

    def _label(self) -> str:
        """The database as named in error messages (never with a password)."""
        return self.dialect

    # ----- helpers -------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return placeholders(self.dialect, sql)

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._pool.connection() as conn:
            cur = conn.cursor()
            try:
                yield cur
            finally:
                cur.close()

    def _one(self, sql: str, params: Row = ()) -> Row | None:
        with self._read() as cur:
            cur.execute(self._sql(sql), params)
            row: Row | None = cur.fetchone()
            return row

    def _stream(self, sql: str, params: Row, size: int) -> Iterator[Row]:
        """The rows of `sql`, fetched `size` at a time on one held connection (a report
        streamed to a browser never holds every row in memory). PostgreSQL overrides it
        with a server-side cursor."""
        with self._read() as cur:
            cur.execute(self._sql(sql), params)
            while rows := cur.fetchmany(size):
                yield from rows

    def _all(self, sql: str, params: Row = ()) -> list[Row]:
        with self._read() as cur:
            cur.execute(self._sql(sql), params)
            return list(cur.fetchall())

    def _require_facility(self, facility_id: str) -> None:
        """NotFoundError unless the facility exists: the one check across kinds, since
        devices, learners and publications all hang off a facility."""
        if self._one("SELECT 1 FROM facilities WHERE id = ?", (facility_id,)) is None:
            raise NotFoundError(f"facility {facility_id!r} does not exist")

    def close(self) -> None:
        self._pool.close()
