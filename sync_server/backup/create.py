"""Write a backup while the server is serving (docs/deployment.md §Backup and restore).

Consistency: the database is read from ONE snapshot, taken while tablets go on pushing —

* SQLite: the online backup API (`sqlite3.Connection.backup`, in one step) copies the
  database into a temporary file under a read transaction; writers are not blocked
  (WAL) and the copy is the state of one moment. The tables are then read from the copy.
* PostgreSQL: one REPEATABLE READ, READ ONLY transaction (psycopg): every table is read
  from the snapshot taken by its first statement. Events are numbered in commit order
  (an advisory lock, sync_server/db/postgres.py), so a snapshot holds a prefix of the
  events — never a later event without an earlier one. pg_dump would give the same
  consistency, but its output is PostgreSQL-only, needs a client no older than the
  server, and would leave out the keys and blobs; this archive restores into either
  database.

Files come after the snapshot: a pack's blobs are written before its database row, and
blobs are never deleted, so every blob the snapshot's packs name is on disk; each is
hashed while it is copied (a damaged blob fails the backup instead of hiding in it).

The archive is written to a hidden temporary file beside OUT, fsync'd, and renamed: OUT
is either a complete backup or absent. It is created with mode 0600 — it holds the
server's private signing key, password and token hashes and PIN verifiers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from app.core.clock import now_utc
from app.core.errors import PackError
from app.core.events import format_at
from app.core.packs import key_id, load_private_key, load_public_key
from app.core.packs.keys import public_key_pem
from sync_server import __version__
from sync_server.backup.archive import (
    CHUNK,
    DRAFT_RE,
    MANIFEST,
    FileEntry,
    HashingWriter,
    Manifest,
    TableEntry,
)
from sync_server.backup.tables import RowCodec, Table, list_tables, read_rows, sequence_values
from sync_server.errors import BackupError
from sync_server.settings import Settings

NAME_PREFIX = "shift-backup-"
NAME_RE = re.compile(r"^shift-backup-\d{8}T\d{6}Z\.zip$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))   # one row per line


@dataclass
class BackupSummary:
    path: Path
    rows: dict[str, int] = field(default_factory=dict)
    blobs: int = 0
    blob_bytes: int = 0
    archive_bytes: int = 0
    seconds: float = 0.0
    key_id: str = ""
    removed: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        counts = ", ".join(f"{self.rows.get(t, 0)} {t}" for t in
                           ("events", "certificates", "learners", "devices", "packs"))
        out = [f"backup written: {self.path} ({self.archive_bytes / 1048576:.1f} MiB, "
               f"{self.seconds:.1f} s)",
               f"  {counts}; {self.blobs} pack files ({self.blob_bytes / 1048576:.1f} MiB); "
               f"signing key {self.key_id}",
               "  it holds the private signing key: keep it as safe as the server itself"]
        out += [f"  removed old backup {p.name}" for p in self.removed]
        return out


def target_path(out: Path, now: datetime) -> Path:
    """OUT itself, or for a folder a new time-stamped name inside it."""
    if out.is_dir():
        return out / f"{NAME_PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}.zip"
    return out


def create_backup(settings: Settings, out: Path, *, overwrite: bool = False,
                  keep: int | None = None,
                  on_snapshot: Callable[[], None] | None = None) -> BackupSummary:
    """Write a backup of the server described by `settings` to `out` (a file, or a folder
    for a time-stamped file; `keep` then removes all but the newest `keep` backups there).

    `on_snapshot` is called once the database snapshot is fixed — what the database holds
    from then on is not in this backup (tests use it to push events "after the backup")."""
    started = time.monotonic()
    now = now_utc().replace(microsecond=0)
    folder_mode = out.is_dir()
    path = target_path(out, now)
    if path.exists() and not overwrite:
        raise BackupError(f"{path}: already exists (pass --force to replace it)")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent}: no such folder")
    key_file, source = _signing_key(settings)
    try:
        private = load_private_key(key_file)
        trusted = [(p, p.read_bytes()) for p in settings.trusted_keys]
        for _path, data in trusted:
            load_public_key(data)
    except (PackError, OSError) as exc:
        raise BackupError(f"cannot read the server's keys: {exc}") from None
    summary = BackupSummary(path, key_id=key_id(private))
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BackupError(f"{path.parent}: cannot write the backup: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(raw, "w", allowZip64=True) as zf:
                writer = _Writer(zf, now)
                with tempfile.TemporaryDirectory(prefix=".shift-backup-", dir=path.parent) as work, \
                        _snapshot(settings, Path(work)) as (snap, dialect):
                    if on_snapshot is not None:
                        on_snapshot()
                    tables, version, blob_shas = _export_tables(snap, dialect, writer, summary)
                files = [writer.put_bytes("keys/server.key", key_file.read_bytes()),
                         writer.put_bytes("keys/server.key.pub",
                                          public_key_pem(private.public_key()))]
                for i, (p, data) in enumerate(trusted):
                    name = re.sub(r"[^A-Za-z0-9._-]", "_", p.name)[:80] or "key"
                    files.append(writer.put_bytes(f"keys/trusted/{i + 1:02d}-{name}", data))
                files += [writer.put_file(rel, src) for rel, src in _draft_files(settings)]
                for sha in sorted(blob_shas):
                    entry = writer.put_blob(settings.blob_dir, sha)
                    files.append(entry)
                    summary.blobs += 1
                    summary.blob_bytes += entry.bytes
                manifest = Manifest(
                    created_at=format_at(now), server_version=__version__, dialect=dialect,
                    schema_version=version, key_id=summary.key_id, signing_key_source=source,
                    tables=tuple(tables), files=tuple(files))
                zf.writestr(writer.info(MANIFEST), manifest.to_json())
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    summary.archive_bytes = path.stat().st_size
    if folder_mode and keep is not None:
        summary.removed = prune(path.parent, keep)
    summary.seconds = time.monotonic() - started
    return summary


def prune(folder: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` time-stamped backups in `folder` (only files
    named by `backup FOLDER`; anything else there is left alone)."""
    if keep < 1:
        raise BackupError("--keep: expected a number >= 1")
    backups = sorted(p for p in folder.iterdir() if NAME_RE.match(p.name) and p.is_file())
    old = backups[:-keep]
    for p in old:
        p.unlink()
    return old


def _signing_key(settings: Settings) -> tuple[Path, str]:
    if settings.signing_key is not None:
        return settings.signing_key, "SHIFT_SIGNING_KEY"
    key = settings.key_dir / "server.key"
    if not key.is_file():
        raise BackupError(f"{key}: no signing key (has the server been started with this data "
                          "folder? is --data-dir / SHIFT_DATA_DIR right?)")
    return key, "data_dir"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ----- the database snapshot ------------------------------------------------------------
class _Snapshot:
    """Cursors on one consistent snapshot of the database."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self._n = 0

    def cursor(self) -> Any:
        return self.conn.cursor()

    def stream(self) -> Any:
        """A cursor that streams a large result (PostgreSQL: server-side)."""
        if self.dialect == "sqlite":
            return self.conn.cursor()
        self._n += 1
        return self.conn.cursor(name=f"shift_backup_{self._n}")


@contextmanager
def _snapshot(settings: Settings, work: Path) -> Iterator[tuple[_Snapshot, str]]:
    url = settings.effective_database_url
    if url.startswith("sqlite:///"):
        db = Path(url[len("sqlite:///"):])
        if not db.is_file():
            raise BackupError(f"{db}: no database here (is --data-dir / SHIFT_DATA_DIR or "
                              "--database-url right?)")
        copy = work / "snapshot.sqlite3"
        try:
            src = sqlite3.connect(db, timeout=60)
            try:
                dst = sqlite3.connect(copy)
                try:
                    src.backup(dst)        # pages=-1: the whole database in one step
                finally:
                    dst.close()
            finally:
                src.close()
            conn = sqlite3.connect(copy)
        except sqlite3.Error as exc:
            raise BackupError(f"{db}: cannot read the database: {exc}") from None
        try:
            yield _Snapshot(conn, "sqlite"), "sqlite"
        finally:
            conn.close()
        return
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg

        from sync_server.db.postgres import _safe_url
        try:
            pg = psycopg.connect(url, connect_timeout=10)
        except psycopg.Error as exc:
            raise BackupError(f"{_safe_url(url)}: cannot connect to PostgreSQL: "
                              f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}"
                              ) from None
        try:
            pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            pg.read_only = True
            with pg.transaction():
                pg.execute("SELECT 1")         # the snapshot is taken here
                yield _Snapshot(pg, "postgresql"), "postgresql"
        finally:
            pg.close()
        return
    raise BackupError(f"unsupported database URL scheme in {url.split(':')[0]!r}")


def _export_tables(snap: _Snapshot, dialect: str, writer: _Writer, summary: BackupSummary,
                   ) -> tuple[list[TableEntry], int, set[str]]:
    cur = snap.cursor()
    tables = list_tables(cur, dialect)
    names = {t.name for t in tables}
    if "schema_version" not in names:
        raise BackupError("the database has no schema_version table: not a Shift server "
                          "database, or never started")
    cur.execute("SELECT MAX(version) FROM schema_version")
    version = int(cur.fetchone()[0] or 0)
    sequences = sequence_values(cur, dialect, tables)
    entries = []
    for table in tables:
        rows, member = _write_table(snap, table, writer)
        summary.rows[table.name] = rows
        entries.append(TableEntry(table, rows, member.bytes, member.sha.hexdigest(),
                                  sequences.get(table.name) if table.identity else None))
    return entries, version, _blob_shas(cur, names)


def _write_table(snap: _Snapshot, table: Table, writer: _Writer) -> tuple[int, HashingWriter]:
    rows = 0
    codec = RowCodec(table)
    with writer.open(f"db/{table.name}.jsonl", compress=True) as out:
        cur = snap.stream()
        try:
            batch: list[str] = []
            for row in read_rows(cur, table):
                rows += 1
                batch.append(_JSON.encode(codec.encode(row, rows)))
                if len(batch) >= 1000:
                    out.write(("\n".join(batch) + "\n").encode("utf-8"))
                    batch = []
            if batch:
                out.write(("\n".join(batch) + "\n").encode("utf-8"))
        finally:
            cur.close()
    return rows, out


def _blob_shas(cur: Any, tables: set[str]) -> set[str]:
    """Every blob a pack version of the snapshot holds (manifests + the blob index)."""
    shas: set[str] = set()
    if "packs" in tables:
        cur.execute("SELECT manifest FROM packs")
        for (manifest,) in cur.fetchall():
            try:
                files = json.loads(bytes(manifest)).get("files") or []
            except (ValueError, AttributeError):
                continue
            shas.update(f["sha256"] for f in files
                        if isinstance(f, dict) and isinstance(f.get("sha256"), str))
    if "pack_blobs" in tables:
        cur.execute("SELECT DISTINCT sha256 FROM pack_blobs")
        shas.update(str(r[0]) for r in cur.fetchall())
    bad = sorted(s for s in shas if not SHA_RE.match(s))
    if bad:
        raise BackupError(f"pack manifest names a blob that is not a SHA-256: {bad[0]!r}")
    return shas


# ----- writing entries --------------------------------------------------------------------
class _Writer:
    def __init__(self, zf: zipfile.ZipFile, now: datetime) -> None:
        self.zf = zf
        self.date_time = now.timetuple()[:6]

    def info(self, name: str, *, compress: bool = True) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o600 << 16
        return info

    @contextmanager
    def open(self, name: str, *, compress: bool) -> Iterator[HashingWriter]:
        with self.zf.open(self.info(name, compress=compress), "w", force_zip64=True) as raw:
            yield HashingWriter(raw)

    def put_bytes(self, path: str, data: bytes) -> FileEntry:
        with self.open(f"files/{path}", compress=True) as out:
            out.write(data)
        return FileEntry(path, out.bytes, out.sha.hexdigest())

    def put_file(self, path: str, src: Path) -> FileEntry:
        """Copy one file (a draft's), streamed."""
        with open(src, "rb") as f, self.open(f"files/{path}", compress=True) as out:
            while chunk := f.read(CHUNK):
                out.write(chunk)
        return FileEntry(path, out.bytes, out.sha.hexdigest())

    def put_blob(self, blob_dir: Path, sha: str) -> FileEntry:
        """Copy one blob (stored: pack media are mostly compressed already), checking it
        is the file its name says."""
        src = blob_dir / sha[:2] / sha
        path = f"blobs/{sha[:2]}/{sha}"
        try:
            with open(src, "rb") as f, self.open(f"files/{path}", compress=False) as out:
                while chunk := f.read(CHUNK):
                    out.write(chunk)
        except FileNotFoundError:
            raise BackupError(f"{src}: a pack file the database names is missing from the "
                              "blob store") from None
        if out.sha.hexdigest() != sha:
            raise BackupError(f"{src}: damaged (its SHA-256 is not its name); the backup was "
                              "not written")
        return FileEntry(path, out.bytes, sha)


def _draft_files(settings: Settings) -> list[tuple[str, Path]]:
    """The files of the studio's drafts (`<data dir>/drafts/<id>/…`) a restore brings
    back; temporary and hidden files (a name starting with ".") are left out."""
    root = settings.data_dir / "drafts"
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.rglob("*")):
        rel = f"drafts/{path.relative_to(root).as_posix()}"
        if path.is_file() and not path.is_symlink() and DRAFT_RE.match(rel):
            out.append((rel, path))
    return out
