"""The backup archive: one ZIP file, described by its manifest (docs/deployment.md §Backup).

    shift-backup.json             the manifest: format, versions, every table and file
                                  with its size and SHA-256
    db/<table>.jsonl              one JSON list per row, columns in manifest order
    files/keys/server.key         the server's signing key (PEM, private)
    files/keys/server.key.pub     its public key
    files/keys/trusted/<name>     the public keys of SHIFT_TRUSTED_KEYS
    files/blobs/<aa>/<sha256>     pack files, content-addressed
    files/drafts/<draft id>/…     the studio's draft source folders (docs/authoring.md §8)

Reading trusts nothing in the file: `BackupArchive.open` checks the manifest field by
field and that the ZIP holds exactly the entries the manifest lists (an extra, duplicate,
absolute, `..` or link entry is refused — nothing is ever extracted by its ZIP name;
target paths are built from checked manifest fields). `verify()` reads every entry and
compares size and SHA-256 before a restore touches anything.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sync_server.backup.tables import KINDS, NAME_RE, Column, Table
from sync_server.errors import BackupError

FORMAT = "shift-server-backup"
FORMAT_VERSION = 1
MANIFEST = "shift-backup.json"
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_LINE_BYTES = 256 * 1024 * 1024
CHUNK = 1024 * 1024
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
TRUSTED_RE = re.compile(r"^keys/trusted/[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
BLOB_RE = re.compile(r"^blobs/([0-9a-f]{2})/([0-9a-f]{64})$")
KEY_PATHS = ("keys/server.key", "keys/server.key.pub")
#: a file of a studio draft: no part starts with "." (so never "..", never hidden)
DRAFT_RE = re.compile(r"^drafts/d-[0-9a-f]{16}/(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,120}/){0,10}"
                      r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,120}$")


@dataclass(frozen=True)
class TableEntry:
    table: Table
    rows: int
    bytes: int
    sha256: str
    sequence: int | None     # last value of its auto-numbered column, if it has one

    @property
    def member(self) -> str:
        return f"db/{self.table.name}.jsonl"


@dataclass(frozen=True)
class FileEntry:
    path: str                # relative to the data folder: keys/…, blobs/aa/sha
    bytes: int
    sha256: str

    @property
    def member(self) -> str:
        return f"files/{self.path}"


@dataclass(frozen=True)
class Manifest:
    created_at: str
    server_version: str
    dialect: str             # the database the backup was taken from
    schema_version: int
    key_id: str
    signing_key_source: str  # "data_dir" or "SHIFT_SIGNING_KEY"
    tables: tuple[TableEntry, ...]
    files: tuple[FileEntry, ...]

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "created_at": self.created_at, "server_version": self.server_version,
            "database": {"dialect": self.dialect, "schema_version": self.schema_version},
            "keys": {"key_id": self.key_id, "signing_key_source": self.signing_key_source},
            "tables": [{"name": e.table.name,
                        "columns": [[c.name, c.kind] for c in e.table.columns],
                        "primary_key": list(e.table.primary_key),
                        "references": list(e.table.references),
                        "identity": e.table.identity, "sequence": e.sequence,
                        "rows": e.rows, "bytes": e.bytes, "sha256": e.sha256}
                       for e in self.tables],
            "files": [{"path": f.path, "bytes": f.bytes, "sha256": f.sha256} for f in self.files],
        }
        return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")

    def table(self, name: str) -> TableEntry | None:
        return next((e for e in self.tables if e.table.name == name), None)

    @property
    def blobs(self) -> list[FileEntry]:
        return [f for f in self.files if f.path.startswith("blobs/")]


# ----- reading the manifest: every field checked --------------------------------------------
def _field(doc: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(doc, dict):
        raise BackupError(f"{where}: expected an object")
    value = doc.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise BackupError(f"{where}.{key}: missing or of the wrong type")
    return value


def _count(doc: Any, key: str, where: str) -> int:
    value = _field(doc, key, int, where)
    if value < 0:
        raise BackupError(f"{where}.{key}: expected a number >= 0")
    return int(value)


def _sha(doc: Any, where: str) -> str:
    value = _field(doc, "sha256", str, where)
    if not SHA_RE.match(value):
        raise BackupError(f"{where}.sha256: expected 64 lowercase hex characters")
    return str(value)


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise BackupError(f"{where}: {value!r} is not a table or column name")
    return value


def _table_entry(doc: Any, where: str) -> TableEntry:
    name = _name(_field(doc, "name", str, where), f"{where}.name")
    raw_cols = _field(doc, "columns", list, where)
    columns = []
    for i, col in enumerate(raw_cols):
        if (not isinstance(col, list) or len(col) != 2 or col[1] not in KINDS):
            raise BackupError(f"{where}.columns[{i}]: expected [name, kind]")
        columns.append(Column(_name(col[0], f"{where}.columns[{i}]"), col[1]))
    if not columns or len({c.name for c in columns}) != len(columns):
        raise BackupError(f"{where}.columns: empty or repeated")
    pk = tuple(_name(c, f"{where}.primary_key") for c in _field(doc, "primary_key", list, where))
    refs = tuple(_name(r, f"{where}.references") for r in _field(doc, "references", list, where))
    identity = doc.get("identity")
    if identity is not None and identity not in {c.name for c in columns}:
        raise BackupError(f"{where}.identity: not one of its columns")
    sequence = doc.get("sequence")
    if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool)
                                 or sequence < 0):
        raise BackupError(f"{where}.sequence: expected a number >= 0 or null")
    return TableEntry(Table(name, tuple(columns), pk, refs, identity), _count(doc, "rows", where),
                      _count(doc, "bytes", where), _sha(doc, where), sequence)


def _file_entry(doc: Any, where: str) -> FileEntry:
    path = _field(doc, "path", str, where)
    sha = _sha(doc, where)
    blob = BLOB_RE.match(path)
    if blob:
        if blob.group(1) != blob.group(2)[:2] or blob.group(2) != sha:
            raise BackupError(f"{where}: blob {path} is not stored under its own SHA-256")
    elif path not in KEY_PATHS and not TRUSTED_RE.match(path) and not DRAFT_RE.match(path):
        raise BackupError(f"{where}.path: {path!r} is not a file a backup may hold")
    return FileEntry(path, _count(doc, "bytes", where), sha)


def parse_manifest(data: bytes, label: str) -> Manifest:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BackupError(f"{label}: {MANIFEST} is not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupError(f"{label}: not a Shift server backup ({MANIFEST} has another format)")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BackupError(f"{label}: {MANIFEST}.format_version: expected a number >= 1")
    if version > FORMAT_VERSION:
        raise BackupError(f"{label}: made by a newer server (backup format {version}; this "
                          f"server reads format {FORMAT_VERSION}): upgrade the server first")
    where = MANIFEST
    database = _field(doc, "database", dict, where)
    dialect = _field(database, "dialect", str, f"{where}.database")
    if dialect not in ("sqlite", "postgresql"):
        raise BackupError(f"{where}.database.dialect: unknown database {dialect!r}")
    keys = _field(doc, "keys", dict, where)
    source = _field(keys, "signing_key_source", str, f"{where}.keys")
    tables = tuple(_table_entry(t, f"{where}.tables[{i}]")
                   for i, t in enumerate(_field(doc, "tables", list, where)))
    files = tuple(_file_entry(f, f"{where}.files[{i}]")
                  for i, f in enumerate(_field(doc, "files", list, where)))
    if len({t.table.name for t in tables}) != len(tables):
        raise BackupError(f"{where}.tables: a table is listed twice")
    if len({f.path for f in files}) != len(files):
        raise BackupError(f"{where}.files: a file is listed twice")
    if "keys/server.key" not in {f.path for f in files}:
        raise BackupError(f"{where}.files: the server's signing key is missing")
    return Manifest(
        created_at=_field(doc, "created_at", str, where),
        server_version=_field(doc, "server_version", str, where),
        dialect=dialect, schema_version=_count(database, "schema_version", f"{where}.database"),
        key_id=_field(keys, "key_id", str, f"{where}.keys"), signing_key_source=source,
        tables=tables, files=files)


# ----- the archive ------------------------------------------------------------------------
class BackupArchive:
    """A backup file opened for reading; its manifest and entry list are checked."""

    def __init__(self, path: Path, zf: zipfile.ZipFile, manifest: Manifest) -> None:
        self.path = path
        self.zip = zf
        self.manifest = manifest

    @classmethod
    def open(cls, path: Path) -> BackupArchive:
        label = str(path)
        if not path.is_file():
            raise BackupError(f"{label}: no such backup file")
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise BackupError(f"{label}: not a Shift server backup: not a ZIP archive, or "
                              "truncated (its end is missing)") from None
        except OSError as exc:
            raise BackupError(f"{label}: cannot read: {exc.strerror or exc}") from None
        try:
            return cls(path, zf, cls._check_entries(zf, label))
        except BaseException:
            zf.close()
            raise

    @staticmethod
    def _check_entries(zf: zipfile.ZipFile, label: str) -> Manifest:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if MANIFEST not in names:
            raise BackupError(f"{label}: not a Shift server backup (no {MANIFEST} in it)")
        info = zf.getinfo(MANIFEST)
        if info.file_size > MAX_MANIFEST_BYTES:
            raise BackupError(f"{label}: {MANIFEST} is larger than {MAX_MANIFEST_BYTES} bytes")
        try:
            data = zf.read(MANIFEST)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise BackupError(f"{label}: {MANIFEST} is damaged ({exc})") from None
        manifest = parse_manifest(data, label)
        expected = {MANIFEST} | {t.member for t in manifest.tables} | {
            f.member for f in manifest.files}
        seen: set[str] = set()
        for item in infos:
            name = item.filename
            if name in seen:
                raise BackupError(f"{label}: entry {name!r} appears twice")
            seen.add(name)
            if name not in expected:
                raise BackupError(f"{label}: unexpected entry {name!r} (not listed in {MANIFEST})")
            if stat.S_ISLNK(item.external_attr >> 16):
                raise BackupError(f"{label}: entry {name!r} is a symbolic link")
        missing = sorted(expected - seen)
        if missing:
            raise BackupError(f"{label}: entries listed in {MANIFEST} are missing "
                              f"({', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}); "
                              "the backup is incomplete")
        sizes = [(t.member, t.bytes) for t in manifest.tables] + [
            (f.member, f.bytes) for f in manifest.files]
        for member, expected_size in sizes:
            size = zf.getinfo(member).file_size
            if size != expected_size:
                raise BackupError(f"{label}: {member} is damaged: {size} bytes, the manifest "
                                  f"says {expected_size}")
        return manifest

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> BackupArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading entries, each checked against the manifest ----------------------------
    def _stream(self, member: str, size: int, sha256: str) -> Iterator[bytes]:
        """The entry's bytes in chunks; BackupError (naming it) when it is damaged."""
        h = hashlib.sha256()
        n = 0
        try:
            with self.zip.open(member) as f:
                while chunk := f.read(CHUNK):
                    n += len(chunk)
                    if n > size:
                        break
                    h.update(chunk)
                    yield chunk
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise BackupError(f"{self.path}: {member} is damaged ({exc})") from None
        if n != size or h.hexdigest() != sha256:
            raise BackupError(f"{self.path}: {member} is damaged: its SHA-256 or size differs "
                              "from the manifest")

    def file_chunks(self, entry: FileEntry) -> Iterator[bytes]:
        return self._stream(entry.member, entry.bytes, entry.sha256)

    def read_file(self, entry: FileEntry) -> bytes:
        return b"".join(self.file_chunks(entry))

    def _lines(self, entry: TableEntry) -> Iterator[list[bytes]]:
        """The entry's lines, a chunk's worth at a time (a line split across chunks is
        joined; one longer than MAX_LINE_BYTES is refused)."""
        partial: list[bytes] = []     # the start of a line that continues in the next chunk
        partial_bytes = 0
        for chunk in self._stream(entry.member, entry.bytes, entry.sha256):
            *lines, rest = chunk.split(b"\n")
            if lines:
                lines[0] = b"".join(partial) + lines[0]
                partial, partial_bytes = [], 0
            partial.append(rest)
            partial_bytes += len(rest)
            if partial_bytes > MAX_LINE_BYTES:
                raise BackupError(f"{self.path}: {entry.member}: a row is larger than "
                                  f"{MAX_LINE_BYTES} bytes")
            if lines:
                yield lines
        if partial_bytes:
            yield [b"".join(partial)]

    def rows(self, entry: TableEntry) -> Iterator[Any]:
        """The JSON rows of one table entry (the entry's checksum is checked at its end,
        so a caller that loads in a transaction rolls back a damaged table)."""
        count = 0
        for lines in self._lines(entry):
            try:    # one parse per chunk: a JSON array of its lines
                parsed = json.loads(b"[" + b",".join(lines) + b"]")
            except (UnicodeDecodeError, ValueError, RecursionError):
                parsed = None
            if not isinstance(parsed, list) or len(parsed) != len(lines):
                parsed = [self._row(line, entry, count + i + 1) for i, line in enumerate(lines)]
            for row in parsed:
                count += 1
                yield row
        self._check_count(entry, count)

    def _check_count(self, entry: TableEntry, count: int) -> None:
        if count != entry.rows:
            raise BackupError(f"{self.path}: {entry.member} holds {count} rows, the manifest "
                              f"says {entry.rows}")

    def _row(self, line: bytes, entry: TableEntry, number: int) -> Any:
        try:
            return json.loads(line)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise BackupError(f"{self.path}: {entry.member} line {number}: not JSON") from None

    def verify(self) -> None:
        """Read every entry: sizes, SHA-256 and row counts as the manifest says. (Rows are
        parsed by the load itself, inside its transaction.)"""
        for table in self.manifest.tables:
            self._check_count(table, sum(len(lines) for lines in self._lines(table)))
        for entry in self.manifest.files:
            for _ in self.file_chunks(entry):
                pass


class HashingWriter:
    """Counts and hashes what is written to a ZIP entry."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.bytes += len(data)
        self.raw.write(data)
