"""Load a backup's rows into a new database, inside one transaction (restore.py step 3).

The schema is created at the backup's version, every table is loaded (in foreign-key
order, each value's type checked; the per-group totals, which the database's triggers
keep, are recomputed instead: db/group_totals.py, db/gap_totals.py), auto-numbered columns continue after their saved
values, and then the same migration a server runs at start (`db.migrate.apply_schema`)
brings it to this server's version and a new epoch is stamped. SQLite is loaded into a
new file beside the target (renamed in by the restore); PostgreSQL into the target
database itself, whose DDL is transactional.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.clock import now_iso
from sync_server.backup.archive import BackupArchive, Manifest
from sync_server.backup.tables import (
    RowCodec,
    Table,
    dependency_order,
    list_tables,
    quote,
    set_sequence,
)
from sync_server.db.base import placeholders
from sync_server.db.gap_totals import DERIVED_TABLES as GAP_DERIVED
from sync_server.db.gap_totals import regap
from sync_server.db.group_totals import DERIVED_TABLES as GROUP_DERIVED
from sync_server.db.group_totals import regroup
from sync_server.db.locks import LOCK_MIGRATE
from sync_server.db.migrate import apply_schema, schema_version_of
from sync_server.db.schema import table_names
from sync_server.db.triggers import TOTALS_SOURCES, triggers_off
from sync_server.errors import BackupError
from sync_server.settings import Settings

BATCH = 1000
DERIVED_TABLES = GROUP_DERIVED | GAP_DERIVED


class Target:
    """The database a restore loads into."""

    dialect = ""

    def contents(self) -> list[str]:
        raise NotImplementedError

    @contextmanager
    def loaded(self, archive: BackupArchive, epoch: str, rows: dict[str, int], token: str
               ) -> Iterator[tuple[Callable[[], None], list[tuple[Path | None, Path]]]]:
        """Load the archive's rows (counted into `rows`) with the new `epoch`; yields
        (commit, file renames that belong to it)."""
        raise NotImplementedError
        yield


def target_for(settings: Settings) -> Target:
    url = settings.effective_database_url
    if url.startswith("sqlite:///"):
        return _SqliteTarget(Path(url[len("sqlite:///"):]))
    if url.startswith(("postgresql://", "postgres://")):
        return _PostgresTarget(url)
    raise BackupError(f"unsupported database URL scheme in {url.split(':')[0]!r}")


class _SqliteTarget(Target):
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def contents(self) -> list[str]:
        return [str(self.path)] if self.path.exists() else []

    @contextmanager
    def loaded(self, archive: BackupArchive, epoch: str, rows: dict[str, int], token: str
               ) -> Iterator[tuple[Callable[[], None], list[tuple[Path | None, Path]]]]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackupError(f"{self.path.parent}: cannot create: {exc.strerror}") from None
        staged = self.path.with_name(f".{self.path.name}.restore-{token}")
        try:
            conn = sqlite3.connect(staged, isolation_level=None)
            try:
                conn.execute("PRAGMA foreign_keys=ON")
                cur = conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                load_database(cur, "sqlite", archive, epoch, rows)
                cur.execute("COMMIT")
                cur.execute("PRAGMA journal_mode=WAL")   # as the server runs it
            finally:
                conn.close()
            with open(staged, "rb") as f:
                os.fsync(f.fileno())
            # the old database's -wal/-shm must go with it: SQLite would replay an old WAL
            # into the new file
            yield (lambda: None), [(staged, self.path),
                                   (None, self.path.with_name(self.path.name + "-wal")),
                                   (None, self.path.with_name(self.path.name + "-shm"))]
        except sqlite3.Error as exc:
            raise BackupError(f"{self.path}: restore failed, nothing was changed: {exc}") from None
        finally:
            for p in (staged, staged.with_name(staged.name + "-wal"),
                      staged.with_name(staged.name + "-shm"),
                      staged.with_name(staged.name + "-journal")):
                with contextlib.suppress(OSError):
                    p.unlink()


class _PostgresTarget(Target):
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url

    def _connect(self) -> Any:
        import psycopg

        from sync_server.db.postgres import _safe_url
        try:
            return psycopg.connect(self.url, connect_timeout=10)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc
            raise BackupError(f"{_safe_url(self.url)}: cannot connect to PostgreSQL: "
                              f"{first}") from None

    def contents(self) -> list[str]:
        conn = self._connect()
        try:
            cur = conn.cursor()
            tables = _our_tables(cur)
            found = []
            for name in sorted(tables - {"schema_version"}):
                cur.execute(f"SELECT EXISTS (SELECT 1 FROM {quote(name)})")
                if cur.fetchone()[0]:
                    found.append(f"table {name}")
            return [f"database rows ({', '.join(found)})"] if found else []
        finally:
            conn.close()

    @contextmanager
    def loaded(self, archive: BackupArchive, epoch: str, rows: dict[str, int], token: str
               ) -> Iterator[tuple[Callable[[], None], list[tuple[Path | None, Path]]]]:
        import psycopg

        conn = self._connect()
        try:
            cur = conn.cursor()
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_MIGRATE,))
            for name in sorted(_our_tables(cur)):
                cur.execute(f"DROP TABLE IF EXISTS {quote(name)} CASCADE")
            load_database(cur, "postgresql", archive, epoch, rows)
            yield conn.commit, []
        except psycopg.Error as exc:
            conn.rollback()
            raise BackupError(f"restore into PostgreSQL failed, nothing was changed: "
                              f"{str(exc).strip().splitlines()[0]}") from None
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()


def _our_tables(cur: Any) -> set[str]:
    """Tables of the target PostgreSQL schema that belong to the server (any other table
    is left alone)."""
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE'")
    return {str(r[0]) for r in cur.fetchall()} & table_names()


def load_database(cur: Any, dialect: str, archive: BackupArchive, epoch: str,
                  rows: dict[str, int]) -> None:
    """Create the schema at the backup's version, load every table, continue the
    auto-numbered columns, migrate to this server's version and stamp a new epoch —
    on `cur`, inside the caller's transaction."""
    m = archive.manifest
    if schema_version_of(cur) != 0:
        raise BackupError("the target database already has a schema (stop the servers and "
                          "restore into an empty database, or use --force)")
    apply_schema(cur, dialect, current=0, target=m.schema_version)
    present = {t.name: t for t in list_tables(cur, dialect)}
    wanted = {e.table.name: e for e in m.tables}
    _check_tables(present, wanted, m, archive.path)
    codec = RowCodec(wanted["schema_version"].table)
    versions = [codec.decode(r, "schema_version")[0] for r in archive.rows(wanted["schema_version"])]
    if max(versions, default=0) != m.schema_version:
        raise BackupError(f"{archive.path}: schema_version holds {max(versions, default=0)}, "
                          f"the manifest says {m.schema_version}")
    order = dependency_order([present[n] for n in wanted if n != "schema_version"])
    with triggers_off(cur, dialect, TOTALS_SOURCES):    # the totals are remade below
        for table in order:
            entry = wanted[table.name]
            if table.name in DERIVED_TABLES:
                continue
            rows[table.name] = _insert_rows(cur, dialect, table, entry.table, archive, entry)
    for table in order:
        if table.identity:
            set_sequence(cur, dialect, table, wanted[table.name].sequence or 0)
    if set(present) >= GROUP_DERIVED:
        regroup(cur)
    if set(present) >= GAP_DERIVED:
        regap(cur, dialect)
    apply_schema(cur, dialect, current=m.schema_version)
    now = now_iso()
    cur.execute("DELETE FROM server_meta WHERE name IN ('epoch', 'restored_at', 'restored_from')")
    cur.executemany(placeholders(dialect, "INSERT INTO server_meta (name, value) VALUES (?, ?)"),
                    [("epoch", epoch), ("restored_at", now),
                     ("restored_from", m.created_at)])


def _check_tables(present: dict[str, Table], wanted: dict[str, Any], m: Manifest,
                  path: Path) -> None:
    if "schema_version" not in wanted:
        raise BackupError(f"{path}: the backup lacks the schema_version table")
    for name, entry in wanted.items():
        have = present.get(name)
        if have is None:
            raise BackupError(f"{path}: table {name} is not part of the server's schema "
                              f"version {m.schema_version} (a foreign or altered database?)")
        if sorted((c.name, c.kind) for c in have.columns) != sorted(
                (c.name, c.kind) for c in entry.table.columns):
            raise BackupError(
                f"{path}: table {name} has columns "
                f"{', '.join(f'{c.name} {c.kind}' for c in entry.table.columns)}; schema version "
                f"{m.schema_version} has {', '.join(f'{c.name} {c.kind}' for c in have.columns)}")
    missing = sorted(set(present) - set(wanted))
    if missing:
        raise BackupError(f"{path}: the backup lacks table(s) {', '.join(missing)} of schema "
                          f"version {m.schema_version}: it is incomplete")


def _insert_rows(cur: Any, dialect: str, table: Table, stored: Table, archive: BackupArchive,
                 entry: Any) -> int:
    """Insert one table's rows (columns named as the archive orders them)."""
    cols = ", ".join(quote(c) for c in stored.column_names)
    marks = ", ".join(["?"] * len(stored.columns))
    override = " OVERRIDING SYSTEM VALUE" if dialect == "postgresql" and table.identity else ""
    sql = placeholders(dialect, f"INSERT INTO {quote(table.name)} ({cols}){override} "
                                f"VALUES ({marks})")
    batch: list[tuple[Any, ...]] = []
    count = 0
    codec = RowCodec(stored)
    for values in archive.rows(entry):
        count += 1
        batch.append(codec.decode(values, f"{archive.path}: {entry.member} line {count}"))
        if len(batch) >= BATCH:
            cur.executemany(sql, batch)
            batch = []
    if batch:
        cur.executemany(sql, batch)
    return count
