"""PostgreSQL repository (psycopg 3) for a national service with several server processes.

Every process opens its own small pool. Writers of events and of learner revisions take
a transaction-level advisory lock so that `seq` / `rev` order equals commit order across
all processes (pull cursors then never skip a row); duplicate ids are still settled by
`INSERT … ON CONFLICT (id) DO NOTHING` and a content comparison.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from sync_server.db.events import EVENT_COLUMNS, insert_sql
from sync_server.db.schema import VERSIONS, statements
from sync_server.db.sql import SqlRepository
from sync_server.errors import DatabaseError

#: The whole schema as PostgreSQL statements (benchmarks build the same tables with it).
SCHEMA = [stmt for v in sorted(VERSIONS) for stmt in statements("postgresql", v)]


logger = logging.getLogger(__name__)

#: the temporary table event rows are copied into (all TEXT, as in `events`)
_INCOMING = ", ".join(f"{c} TEXT" for c in EVENT_COLUMNS.split(", ")) + ", ord INTEGER"


def _safe_url(url: str) -> str:
    """The URL without its password, for error messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


class PostgresRepository(SqlRepository):
    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = url
        super().__init__(pool_size)
        row = self._one("SELECT has_database_privilege(current_database(), 'TEMPORARY')")
        #: pushes are copied through a temporary table (`_stage_event_rows`) when the role
        #: may make one; else `executemany`, slower but the same rows
        self._copy_pushes = bool(row and row[0])
        if not self._copy_pushes:
            logger.warning("PostgreSQL role lacks the TEMPORARY privilege on %s: pushes are "
                           "inserted row by row (slower); see docs/deployment.md §5",
                           _safe_url(url))

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise DatabaseError(f"{_safe_url(self.url)}: cannot connect to PostgreSQL: "
                                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None

    def _is_broken(self, conn: Any, exc: BaseException) -> bool:
        return bool(getattr(conn, "closed", False) or getattr(conn, "broken", False)
                    or isinstance(exc, psycopg.OperationalError))

    def _ping(self, conn: Any) -> None:
        conn.execute("SELECT 1")

    @contextmanager
    def _write(self, *locks: int,
               prepare: Callable[[Any], None] | None = None) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if prepare is not None:
                prepare(cur)
            for lock in sorted(locks):
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            yield cur

    def _stream(self, sql: str, params: tuple[Any, ...], size: int) -> Iterator[tuple[Any, ...]]:
        # a named cursor lives on the server: rows come `size` at a time
        with self._pool.connection() as conn, conn.transaction(), \
                conn.cursor(name="shift_stream") as cur:
            cur.execute(self._sql(sql), params)
            while rows := cur.fetchmany(size):
                yield from rows

    def _renumber_events(self, cur: Any, learner_id: str, facility_id: str) -> None:
        # an identity column can be set to DEFAULT: the next values of its sequence
        cur.execute("UPDATE events SET seq = DEFAULT, facility_id = %s WHERE learner_id = %s",
                    (facility_id, learner_id))

    def _stage_event_rows(self, cur: Any, rows: list[tuple[Any, ...]]) -> None:
        """COPY the rows into this session's temporary table, before the write lock:
        psycopg's `executemany` spent ≈ 9 µs of the server's CPU per row (GIL held,
        under the lock) adapting parameters; COPY ≈ 2 µs, and not under the lock. The
        table is made on first use in each database session (a transaction-pooling proxy
        in front is fine) and emptied at the commit (or rollback) of the one write
        transaction that filled it; `ord` keeps the rows' order for `seq`."""
        if not rows or not self._copy_pushes:
            return
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS incoming_events ({_INCOMING}) "
                    "ON COMMIT DELETE ROWS")
        with cur.copy(f"COPY incoming_events ({EVENT_COLUMNS}, ord) FROM STDIN") as copy:
            for ord_, row in enumerate(rows):
                copy.write_row((*row, ord_))

    def _insert_event_rows(self, cur: Any, rows: list[tuple[Any, ...]],
                           offered: list[tuple[Any, ...]]) -> int:
        if not self._copy_pushes:
            cur.executemany(self._sql(insert_sql(1)), rows)
            return int(cur.rowcount)
        if len(offered) != len(rows):       # some were left out (an erased learner's)
            cur.execute("DELETE FROM incoming_events WHERE NOT (id = ANY(%s))",
                        ([row[0] for row in rows],))
        cur.execute(f"INSERT INTO events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} "
                    "FROM incoming_events ORDER BY ord ON CONFLICT (id) DO NOTHING")
        return int(cur.rowcount)

    def _is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, pg_errors.UniqueViolation)

    def _label(self) -> str:
        return _safe_url(self.url)
