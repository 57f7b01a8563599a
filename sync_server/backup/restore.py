"""Restore a backup: all of it or nothing (docs/deployment.md §Backup and restore).

Order of work, so that a failure at any step leaves the target as it was:

1. Open the archive and check it completely — manifest, entry list, every entry's size
   and SHA-256, row counts (archive.py). Nothing has been touched yet.
2. Refuse a target that already holds a server (database rows, a signing key, blobs)
   unless `force` is given.
3. Stage: keys and blobs are written into `<data dir>/.restore-<id>/` (blobs re-hashed on
   the way); the database is loaded in ONE transaction — SQLite into a new file beside
   the target, PostgreSQL into the target database itself (its DDL is transactional, so
   dropping and re-creating the tables is part of that transaction). Rows are loaded at
   the backup's schema version, then migrated to this server's version by the same code
   a server runs at start (`sync_server.db.migrate.apply_schema`), and the database gets a
   new `server_meta.epoch` (tablets compare it, docs/sync-protocol.md §4.5).
4. Switch: each target (keys/, blobs/, the SQLite file) is renamed aside and its staged
   replacement renamed in; then the PostgreSQL transaction commits. If a rename or the
   commit fails, everything renamed is put back and the transaction rolls back.
5. Remove what was replaced and the staging folder.

Tables are not listed anywhere here: what the archive holds must be exactly the tables
the schema (at the backup's version) creates, column for column.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import PackError
from app.core.events import utc_now_iso
from app.core.packs import BlobStore, key_id, load_private_key, load_public_key
from sync_server.backup.archive import BackupArchive, Manifest
from sync_server.backup.tables import RowCodec, Table, dependency_order, list_tables, quote
from sync_server.backup.tables import set_sequence as _set_sequence
from sync_server.db.base import placeholders
from sync_server.db.locks import LOCK_MIGRATE
from sync_server.db.meta import new_epoch
from sync_server.db.migrate import apply_schema, schema_version_of
from sync_server.db.schema import LATEST, table_names
from sync_server.errors import BackupError
from sync_server.settings import Settings

BATCH = 1000


@dataclass
class RestoreSummary:
    source: Path
    created_at: str = ""
    dialect_from: str = ""
    dialect_to: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    blobs: int = 0
    key_id: str = ""
    epoch: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        counts = ", ".join(f"{self.rows.get(t, 0)} {t}" for t in
                           ("events", "certificates", "learners", "devices", "packs"))
        return [f"restored {self.source} (taken {self.created_at} from {self.dialect_from}) "
                f"into {self.dialect_to} in {self.seconds:.1f} s",
                f"  {counts}; {self.blobs} pack files; signing key {self.key_id}",
                *(f"  {n}" for n in self.notes)]


def check_backup(path: Path) -> Manifest:
    """Open and read every entry of a backup (sizes, SHA-256, rows); its manifest."""
    with BackupArchive.open(path) as archive:
        _check_versions(archive.manifest, path)
        archive.verify()
        return archive.manifest


def _check_versions(manifest: Manifest, path: Path) -> None:
    if manifest.schema_version > LATEST:
        raise BackupError(f"{path}: its database schema ({manifest.schema_version}) is newer "
                          f"than this server's ({LATEST}): upgrade the server first")
    if manifest.schema_version < 1:
        raise BackupError(f"{path}: schema version {manifest.schema_version} is not one a "
                          "server ever had")


def restore_backup(settings: Settings, path: Path, *, force: bool = False) -> RestoreSummary:
    """Restore the backup at `path` into the data folder and database of `settings`."""
    started = time.monotonic()
    with BackupArchive.open(path) as archive:
        manifest = archive.manifest
        _check_versions(manifest, path)
        archive.verify()
        target = _target_for(settings)
        present = _data_dir_contents(settings) + target.contents()
        if present and not force:
            raise BackupError(
                f"the target is not empty ({', '.join(present)}): restore into an empty data "
                "folder and database, or pass --force to replace them (stop the server first)")
        summary = RestoreSummary(path, manifest.created_at, manifest.dialect, target.dialect,
                                 key_id=manifest.key_id)
        token = uuid.uuid4().hex[:8]
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            staging = settings.data_dir / f".restore-{token}"
            staging.mkdir()
        except OSError as exc:
            raise BackupError(f"{settings.data_dir}: cannot write: {exc.strerror}") from None
        try:
            summary.blobs = _stage_files(archive, staging)
            summary.epoch = new_epoch()
            with target.loaded(archive, summary, token) as (commit, db_swaps):
                swaps = [(staging / "keys", settings.key_dir),
                         (staging / "blobs", settings.blob_dir), *db_swaps]
                with _swapped(swaps, token):
                    commit()
        except OSError as exc:
            raise BackupError(f"restore failed, nothing was changed: {exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    summary.notes += _key_notes(settings, manifest)
    summary.notes.append(f"events, enrolments, revocations and admin changes made after "
                         f"{manifest.created_at} are not in this backup; tablets notice the "
                         "restore at their next sync and offer the events they hold again")
    summary.seconds = time.monotonic() - started
    return summary


# ----- files ------------------------------------------------------------------------------
def _data_dir_contents(settings: Settings) -> list[str]:
    found = []
    key = settings.key_dir / "server.key"
    if key.exists():
        found.append(str(key))
    blobs = settings.blob_dir
    if blobs.is_dir() and any(BlobStore(blobs)):
        found.append(f"{blobs}/")
    return found


def _stage_files(archive: BackupArchive, staging: Path) -> int:
    """Keys and blobs into the staging folder; returns the number of blobs."""
    manifest = archive.manifest
    keys = staging / "keys"
    (keys / "trusted").mkdir(parents=True)
    for entry in manifest.files:
        if not entry.path.startswith("keys/"):
            continue
        data = archive.read_file(entry)
        try:
            if entry.path == "keys/server.key":
                if key_id(load_private_key(data)) != manifest.key_id:
                    raise BackupError(f"{archive.path}: the signing key is not the key "
                                      f"{manifest.key_id} the manifest names")
            else:
                load_public_key(data)
        except PackError as exc:
            raise BackupError(f"{archive.path}: {entry.member}: {exc}") from None
        dest = staging / entry.path          # a checked manifest path (archive.py)
        mode = 0o600 if entry.path == "keys/server.key" else 0o644
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    store = BlobStore(staging / "blobs")
    store.root.mkdir()
    blobs = manifest.blobs
    for entry in blobs:
        sha = entry.sha256
        store.put_stream(sha, entry.bytes, archive.file_chunks(entry), label=entry.member,
                         durable=False)
    store.sync(e.sha256 for e in blobs)
    return len(blobs)


@contextmanager
def _swapped(pairs: list[tuple[Path | None, Path]], token: str) -> Iterator[None]:
    """Rename each target aside and its staged replacement (None: nothing) in, then run
    the body (the database commit). If a rename or the body fails, put every target back
    as it was; on success, delete what was replaced."""
    done: list[tuple[Path, Path | None, bool]] = []    # target, its old copy, new one placed
    try:
        for staged, target in pairs:
            old = None
            if target.exists() or target.is_symlink():
                old = target.with_name(f".{target.name}.replaced-{token}")
                os.replace(target, old)
            done.append((target, old, False))
            if staged is not None:
                os.replace(staged, target)
                done[-1] = (target, old, True)
        yield
    except BaseException:
        for target, old, placed in reversed(done):
            with contextlib.suppress(OSError):
                if placed:
                    _remove(target)
                if old is not None:
                    os.replace(old, target)
        raise
    for _target, old, _placed in done:
        if old is not None:
            with contextlib.suppress(OSError):
                _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _key_notes(settings: Settings, manifest: Manifest) -> list[str]:
    notes = []
    trusted = sorted(str(p) for p in (settings.key_dir / "trusted").glob("*"))
    if manifest.signing_key_source == "SHIFT_SIGNING_KEY":
        notes.append(f"the backed-up server signed with SHIFT_SIGNING_KEY; that key is restored "
                     f"as {settings.key_dir / 'server.key'}")
    if settings.signing_key is not None:
        try:
            current = key_id(load_private_key(settings.signing_key))
        except PackError:
            current = "unreadable"
        if current != manifest.key_id:
            notes.append(f"WARNING: SHIFT_SIGNING_KEY names key {current}, the backup's key is "
                         f"{manifest.key_id}: unset SHIFT_SIGNING_KEY or point it at "
                         f"{settings.key_dir / 'server.key'}, or issued certificates will not "
                         "verify")
    if trusted:
        notes.append(f"trusted keys restored: set SHIFT_TRUSTED_KEYS={os.pathsep.join(trusted)}")
    return notes


# ----- the database ------------------------------------------------------------------------
class _Target:
    dialect = ""

    def contents(self) -> list[str]:
        raise NotImplementedError

    @contextmanager
    def loaded(self, archive: BackupArchive, summary: RestoreSummary, token: str
               ) -> Iterator[tuple[Callable[[], None], list[tuple[Path | None, Path]]]]:
        """Load the archive's rows; yields (commit, file renames that belong to it)."""
        raise NotImplementedError
        yield


def _target_for(settings: Settings) -> _Target:
    url = settings.effective_database_url
    if url.startswith("sqlite:///"):
        return _SqliteTarget(Path(url[len("sqlite:///"):]))
    if url.startswith(("postgresql://", "postgres://")):
        return _PostgresTarget(url)
    raise BackupError(f"unsupported database URL scheme in {url.split(':')[0]!r}")


class _SqliteTarget(_Target):
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def contents(self) -> list[str]:
        return [str(self.path)] if self.path.exists() else []

    @contextmanager
    def loaded(self, archive: BackupArchive, summary: RestoreSummary, token: str
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
                load_database(cur, "sqlite", archive, summary)
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


class _PostgresTarget(_Target):
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
    def loaded(self, archive: BackupArchive, summary: RestoreSummary, token: str
               ) -> Iterator[tuple[Callable[[], None], list[tuple[Path | None, Path]]]]:
        import psycopg

        conn = self._connect()
        try:
            cur = conn.cursor()
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_MIGRATE,))
            for name in sorted(_our_tables(cur)):
                cur.execute(f"DROP TABLE IF EXISTS {quote(name)} CASCADE")
            load_database(cur, "postgresql", archive, summary)
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


def load_database(cur: Any, dialect: str, archive: BackupArchive, summary: RestoreSummary
                  ) -> None:
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
    for table in order:
        entry = wanted[table.name]
        summary.rows[table.name] = _insert_rows(cur, dialect, table, entry.table, archive, entry)
    for table in order:
        if table.identity:
            _set_sequence(cur, dialect, table, wanted[table.name].sequence or 0)
    apply_schema(cur, dialect, current=m.schema_version)
    now = utc_now_iso()
    cur.execute("DELETE FROM server_meta WHERE name IN ('epoch', 'restored_at', 'restored_from')")
    cur.executemany(placeholders(dialect, "INSERT INTO server_meta (name, value) VALUES (?, ?)"),
                    [("epoch", summary.epoch), ("restored_at", now),
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
