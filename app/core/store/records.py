"""Append-only files of CRC-checked JSON records: the journal, the id logs, the journal
index. One module writes and reads them (with atomic.py for whole-file writes), so what
touches the bytes on disk sits in two places, and encryption at rest (sealed.py) wraps
them: `read_file_bytes` gives the plaintext lines, appends go through `seal_append`.

File format: a header line ``{"schema":1,"kind":"<kind>"}``, then one line per record:
``<crc32 of the JSON, 8 hex> <record JSON>``. A torn or damaged line fails its CRC and is
reported to the reader, never half-trusted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import StoreError
from app.core.store.atomic import (
    SCHEMA_VERSION,
    atomic_write_bytes,
    describe_os_error,
    read_file_bytes,
    write_all,
)
from app.core.store.sealed import seal_append

log = logging.getLogger(__name__)


def header(kind: str) -> bytes:
    return json.dumps({"schema": SCHEMA_VERSION, "kind": kind},
                      separators=(",", ":")).encode() + b"\n"


def encode_record(value: Any) -> bytes:
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return b"%08x " % zlib.crc32(payload) + payload + b"\n"


#: what `decode_record` returns for a damaged line (None is a valid record)
BAD: Any = object()


def decode_record(line: bytes) -> Any:
    """The record of one line (without its newline), or `BAD` when the line is damaged."""
    if len(line) < 10 or line[8:9] != b" ":
        return BAD
    payload = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return BAD
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return BAD


def check_header(first: bytes, path: Path, kind: str) -> None:
    try:
        head = json.loads(first)
    except (ValueError, UnicodeDecodeError):
        raise StoreError(f"{path}:1: not a {kind} header") from None
    if not isinstance(head, dict) or head.get("kind") != kind:
        raise StoreError(f"{path}:1: kind: expected {kind!r}")
    version = head.get("schema")
    if not isinstance(version, int) or version < 1:
        raise StoreError(f"{path}:1: schema: expected a version number, got {version!r}")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}:1: {kind} schema {version} was written by a newer app "
                         "version; update the app")


@dataclass
class RecordFile:
    """What a record file holds: the good records in file order, and the line numbers
    of damaged ones (a torn tail included)."""

    records: list[Any] = field(default_factory=list)
    damaged: list[int] = field(default_factory=list)


def read_records(path: Path, kind: str) -> RecordFile | None:
    """Parse a record file (None when it does not exist). Raises StoreError for a file
    that is not a `kind` file at all (no header, another kind, a newer schema)."""
    raw = read_file_bytes(path)
    if raw is None:
        return None
    first, nl, rest = raw.partition(b"\n")
    if not nl:
        raise StoreError(f"{path}: {kind} file without a header line")
    check_header(first, path, kind)
    out = RecordFile()
    lines = rest.split(b"\n")
    for number, line in enumerate(lines, start=2):
        if number == len(lines) + 1 and not line:
            break                      # the file ends with a newline
        value = decode_record(line)
        if value is BAD:
            out.damaged.append(number)
        else:
            out.records.append(value)
    return out


def write_records(path: Path, kind: str, records: list[Any]) -> None:
    """Replace the file with these records (atomic: the old or the new file survives)."""
    atomic_write_bytes(path, header(kind) + b"".join(encode_record(r) for r in records))


class Appender:
    """Appends records to one file, without fsync: for files that are a verifiable
    cache of what the fsync'd files hold (an id log). A failed append is cut back;
    if even that fails the appender stops (`broken`) and the reader's check repairs."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        self._fd: int | None = None
        self.broken = False
        #: bytes in the file after the last append (0 until then)
        self.size = 0

    def append(self, records: list[Any]) -> bool:
        """Write the records; False (logged) when the file could not be written."""
        if self.broken or not records:
            return False
        data = seal_append(self.path, b"".join(encode_record(r) for r in records),
                           new_file=False)
        size = -1
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                                   | getattr(os, "O_BINARY", 0), 0o644)
                if os.fstat(self._fd).st_size == 0:
                    write_all(self._fd, seal_append(self.path, header(self.kind),
                                                    new_file=True))
            size = os.fstat(self._fd).st_size
            write_all(self._fd, data)
            self.size = size + len(data)
            return True
        except OSError as exc:
            log.warning("%s", describe_os_error(exc, self.path, "appending"))
            try:
                if self._fd is None or size < 0:
                    raise OSError("not open")
                os.ftruncate(self._fd, size)
            except OSError:
                self.broken = True
            return False

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
