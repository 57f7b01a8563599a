"""Crash-safe file writes and the TinyDB storage class built on them.

TinyDB's own JSONStorage rewrites its file in place (seek, write, truncate): after power
loss the file can come back half old, half new. Every store file is instead written as a
whole new file next to the old one, flushed and fsync'd, moved over the old one with
`os.replace` (atomic on POSIX) and made durable by fsync'ing the folder. A crash at any
moment leaves either the old or the new file, plus maybe a stale temp file, which
`clean_stale_temps` removes on the next open.

Every file carries ``{"schema": N, "kind": K, "tables": {...}}``; the `tables` part is
what TinyDB sees. Older layouts are upgraded on read by `MIGRATIONS` (version 0 is a
plain TinyDB file, as TinyDB's JSONStorage writes it).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets as _secrets
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from app.core.errors import StoreError, StoreReadError, StoreSyncError
from app.core.store.sealed import seal_for_disk, unseal

log = logging.getLogger(__name__)

TEMP_MARK = ".tmp-"
SCHEMA_VERSION = 1

Tables = dict[str, dict[str, Any]]
Migration = Callable[[Tables], Tables]


def _from_plain_tinydb(tables: Tables) -> Tables:
    """v0 → v1: a plain TinyDB JSON file has the same tables, only no envelope."""
    return tables


#: kind → {from_version: function upgrading the tables to from_version + 1}.
#: A kind without an entry uses DEFAULT_MIGRATIONS.
DEFAULT_MIGRATIONS: dict[int, Migration] = {0: _from_plain_tinydb}
MIGRATIONS: dict[str, dict[int, Migration]] = {}


def fsync_dir(folder: Path) -> None:
    """Make a rename/creation in `folder` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows: directories cannot be opened; NTFS journals renames
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (os.write may write fewer bytes)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "write returned 0 bytes")
        view = view[written:]


def describe_os_error(exc: OSError, path: Path, action: str) -> str:
    if exc.errno == errno.ENOSPC:
        return f"{path}: disk full while {action}; the previous data is kept"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path}: no permission while {action} ({exc.strerror})"
    return f"{path}: I/O error while {action}: {exc.strerror or exc}"


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace `path` with `data` so that a crash leaves the old or the new file whole.

    Raises StoreError (the old file untouched) when anything fails before the rename.
    In an encrypted store folder the bytes are sealed first (sealed.py).
    """
    data = seal_for_disk(path, data)
    tmp = path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{_secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     mode)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StoreError(describe_os_error(exc, path, "writing")) from exc
    try:
        fsync_dir(path.parent)
    except OSError as exc:
        raise StoreSyncError(describe_os_error(exc, path.parent, "syncing the folder")) \
            from exc


def clean_stale_temps(folder: Path) -> int:
    """Remove temp files a crash left in `folder` (only our own naming pattern)."""
    removed = 0
    if not folder.is_dir():
        return 0
    for entry in folder.iterdir():
        if entry.name.startswith(".") and TEMP_MARK in entry.name and entry.is_file():
            try:
                entry.unlink()
                removed += 1
            except OSError as exc:
                log.warning("could not remove stale temp file %s: %s", entry, exc)
    return removed


def decode_store_file(raw: bytes, path: Path, kind: str) -> Tables:
    """Parse a store file, check its kind and schema, and migrate it to the current one."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: not valid JSON ({exc}); the file was left as it is") from None
    if not isinstance(doc, dict):
        raise StoreError(f"{path}: expected a JSON object at the top level")
    if "schema" in doc and "tables" in doc:
        version = doc["schema"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise StoreError(f"{path}: schema: expected a version number, got {version!r}")
        if doc.get("kind") != kind:
            raise StoreError(f"{path}: kind: expected {kind!r}, got {doc.get('kind')!r}")
        tables: Tables = doc["tables"]   # checked just below
    else:
        version, tables = 0, doc
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise StoreError(f"{path}: tables: expected an object of tables")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}: schema {version} was written by a newer app version "
                         f"(this one reads up to {SCHEMA_VERSION}); update the app")
    steps = MIGRATIONS.get(kind, DEFAULT_MIGRATIONS)
    while version < SCHEMA_VERSION:
        if version not in steps:
            raise StoreError(f"{path}: no migration from schema {version} for {kind!r}")
        tables = steps[version](tables)
        version += 1
    return tables


def encode_store_file(tables: Tables, kind: str) -> bytes:
    return json.dumps({"schema": SCHEMA_VERSION, "kind": kind, "tables": tables},
                      ensure_ascii=False, separators=(",", ":")).encode()


def read_file_bytes(path: Path, *, set_aside: bool = True) -> bytes | None:
    """The bytes of a store file (None when it does not exist): every read of a store
    file goes through here, as every whole-file write goes through atomic_write_bytes.
    In an encrypted store folder this is the plaintext (sealed.py); a file that does not
    open there was moved aside and reads as missing (`set_aside=False`: left in place,
    read as missing all the same)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreReadError(describe_os_error(exc, path, "reading")) from exc
    return unseal(path, raw, set_aside=set_aside)


def load_tables(path: Path, kind: str) -> Tables | None:
    """Read a store file fresh from disk (None when it does not exist)."""
    raw = read_file_bytes(path)
    if raw is None:
        return None
    return decode_store_file(raw, path, kind)


def write_binary_file(path: Path, kind: str, meta: dict[str, Any],
                      payload: bytes | memoryview) -> None:
    """Atomically write a binary store file: one JSON header line (schema, kind, `meta`,
    the payload's size and CRC-32 — it detects damage, it is no signature), then the
    payload (a fold snapshot, the id index)."""
    head = {"schema": SCHEMA_VERSION, "kind": kind, "meta": meta, "size": len(payload),
            "crc32": zlib.crc32(payload)}
    atomic_write_bytes(path, json.dumps(head, ensure_ascii=False, separators=(",", ":"))
                       .encode() + b"\n" + bytes(payload))


def read_binary_file(path: Path, kind: str) -> tuple[dict[str, Any], memoryview] | None:
    """(meta, payload) of a file written by write_binary_file (the payload a view of the
    bytes read: no copy); None when it does not exist. StoreError when it is damaged (size or CRC differ), of another kind or of
    another schema version."""
    raw = read_file_bytes(path)
    if raw is None:
        return None
    cut = raw.find(b"\n")
    first, payload = raw[:max(cut, 0)], memoryview(raw)[cut + 1:]
    try:
        head = json.loads(first) if cut >= 0 else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        head = None
    if not isinstance(head, dict) or not isinstance(head.get("meta"), dict):
        raise StoreError(f"{path}: no header line")
    if head.get("kind") != kind:
        raise StoreError(f"{path}: kind: expected {kind!r}, got {head.get('kind')!r}")
    if head.get("schema") != SCHEMA_VERSION:
        raise StoreError(f"{path}: schema {head.get('schema')!r} is not {SCHEMA_VERSION}")
    if head.get("size") != len(payload) or head.get("crc32") != zlib.crc32(payload):
        raise StoreError(f"{path}: damaged (size or CRC-32 of the payload differ)")
    return head["meta"], payload


class AtomicJSONStorage(Storage):
    """A TinyDB storage: whole-file atomic replace, schema envelope, read cache.

    The read cache is safe because the Store holds an exclusive lock on its folder, so no
    other writer exists; it is dropped whenever a write fails (TinyDB mutates the dict it
    read before writing it back). Never combine with CachingMiddleware (it defers writes).
    """

    def __init__(self, path: str | Path, kind: str = "tinydb", mode: int = 0o644) -> None:
        super().__init__()
        self.path = Path(path)
        self.kind = kind
        self.mode = mode
        self._cache: Tables | None = None

    def read(self) -> Tables | None:
        if self._cache is None:
            self._cache = load_tables(self.path, self.kind)
        return self._cache

    def write(self, data: Tables) -> None:
        try:
            atomic_write_bytes(self.path, encode_store_file(data, self.kind), mode=self.mode)
        except BaseException:
            self._cache = None
            raise
        self._cache = data

    def close(self) -> None:
        self._cache = None
