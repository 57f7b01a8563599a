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
   new `server_meta.epoch` (tablets compare it, docs/sync-protocol.md §4.5) — load.py.
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
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import PackError
from app.core.packs import BlobStore, key_id, load_private_key, load_public_key
from sync_server.backup.archive import BackupArchive, Manifest
from sync_server.backup.load import target_for
from sync_server.db.meta import new_epoch
from sync_server.db.schema import LATEST
from sync_server.errors import BackupError
from sync_server.settings import Settings


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
        target = target_for(settings)
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
            with target.loaded(archive, summary.epoch, summary.rows, token) as (commit, db_swaps):
                swaps = [(staging / "keys", settings.key_dir),
                         (staging / "blobs", settings.blob_dir),
                         (staging / "drafts", settings.data_dir / "drafts"), *db_swaps]
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
    drafts = settings.data_dir / "drafts"
    if drafts.is_dir() and any(drafts.iterdir()):
        found.append(f"{drafts}/")
    return found


def _stage_files(archive: BackupArchive, staging: Path) -> int:
    """Keys, drafts and blobs into the staging folder; returns the number of blobs."""
    manifest = archive.manifest
    keys = staging / "keys"
    (keys / "trusted").mkdir(parents=True)
    (staging / "drafts").mkdir()
    for entry in manifest.files:
        if entry.path.startswith("drafts/"):        # a checked path (archive.DRAFT_RE)
            dest = staging / entry.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "xb") as f:
                for chunk in archive.file_chunks(entry):
                    f.write(chunk)
            continue
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
