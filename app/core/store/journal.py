"""The append journal: where a new local event becomes durable.

Measured on this machine, one fsync'd append of an event line costs about a third of an
atomic whole-file replace (temp + fsync + rename + folder fsync) of even a one-document
TinyDB file, so `Store.append` writes only here: one line, one fsync. Journal files hold
at most `capacity` events, are folded into the per-learner TinyDB segments when they
fill up (see store.py), and stay on disk — they are the outbox — until every event in
them was acknowledged or rejected by the server, then they are deleted.

File format: a header line ``{"schema":1,"kind":"journal"}``, then one line per event:
``<crc32 of the JSON, 8 hex> <event JSON>``. A crash in the middle of an append leaves a
torn last line; that append never returned, so the line is cut off on the next open.

``index.log`` (same record format) lists, for each journal file closed after its fold,
the ids it holds in order: ``[number, [id, …]]``. Closed files never change, so the
outbox (which ids wait in which file) is one small read of the index instead of every
journal file — a tablet that never synced opens in constant time and builds its outbox
on first use. The index is a cache: a file without a record (the record was lost in a
crash; the index is not fsync'd) is read itself, and records of deleted files are
dropped when they outnumber the live ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import StoreError
from app.core.store.atomic import (
    atomic_write_bytes,
    describe_os_error,
    fsync_dir,
    read_file_bytes,
    write_all,
)
from app.core.store.records import (
    Appender,
    check_header,
    decode_record,
    encode_record,
    header,
    read_records,
    write_records,
)
from app.core.store.sealed import (
    BAD_LINE,
    CORRUPT,
    kept_beside,
    seal_append,
    sealed_folder,
    sealer_for,
)

log = logging.getLogger(__name__)

HEADER = header("journal")
INDEX_FILE = "index.log"
INDEX_KIND = "journal-index"


def _decode_record(line: bytes) -> dict[str, Any] | None:
    event = decode_record(line)
    return event if isinstance(event, dict) else None


@dataclass
class JournalFile:
    number: int
    path: Path
    events: list[dict[str, Any]] = field(default_factory=list)


def _check_header(first: bytes, path: Path) -> None:
    check_header(first, path, "journal")


class Journal:
    """Numbered journal files in one folder; appends go to the highest-numbered one."""

    def __init__(self, folder: Path, capacity: int) -> None:
        self.folder = folder
        self.capacity = capacity
        self.current: JournalFile | None = None
        self._fd: int | None = None
        self._size = 0
        #: set when a failed append could not be cut back: appends are refused until the
        #: store is reopened (opening cuts the torn line)
        self.broken = False
        self._index = Appender(folder / INDEX_FILE, INDEX_KIND)

    # -- reading ---------------------------------------------------------------------
    def numbers(self) -> list[int]:
        out = []
        for entry in self.folder.iterdir():
            stem, dot, ext = entry.name.partition(".")
            if ext == "log" and stem.isdigit():
                out.append(int(stem))
        return sorted(out)

    def path_of(self, number: int) -> Path:
        return self.folder / f"{number:08d}.log"

    def read(self, number: int, *, repair: bool = False) -> JournalFile:
        """Parse one journal file. With repair=True (the file appended to last) a torn
        tail is cut off; a damaged line between good ones is skipped, and the damaged
        file is kept beside as ``*.corrupt-<time>`` so nothing is silently thrown away."""
        path = self.path_of(number)
        raw = read_file_bytes(path)
        if raw is None:
            raise StoreError(f"{path}: journal file missing")
        first, nl, rest = raw.partition(b"\n")
        if not nl:
            raise StoreError(f"{path}: journal without a header line")
        if first == BAD_LINE and sealed_folder(path):
            return self._replace_unopenable(number, path)
        _check_header(first, path)
        parsed: list[tuple[int, int, dict[str, Any] | None]] = []  # (line, end, event)
        offset = len(first) + 1
        pieces = rest.split(b"\n")
        for index, chunk in enumerate(pieces):
            if index == len(pieces) - 1 and not chunk:
                break  # the file ends with a newline
            end = offset + len(chunk) + 1
            event = _decode_record(chunk) if end <= len(raw) else None
            parsed.append((index + 2, end, event))
            offset = end
        last_good = max((i for i, p in enumerate(parsed) if p[2] is not None), default=-1)
        events = [p[2] for p in parsed if p[2] is not None]
        good_end = parsed[last_good][1] if last_good >= 0 else len(first) + 1
        middle = [p[0] for p in parsed[:last_good] if p[2] is None]
        torn_tail = [p[0] for p in parsed[last_good + 1:]]
        if middle:
            keep = kept_beside(path, CORRUPT)
            log.warning("%s: damaged lines %s skipped; original kept as %s", path, middle, keep)
            shutil.copyfile(path, keep)
            atomic_write_bytes(path, HEADER + b"".join(encode_record(e) for e in events))
        elif torn_tail and repair and sealed_folder(path):
            # offsets above are of the plaintext lines: rewrite instead of truncating, and
            # keep the sealed original (a damaged frame length hides what follows it)
            keep = kept_beside(path, CORRUPT)
            log.info("%s: cutting a torn last record; original kept as %s", path, keep)
            shutil.copyfile(path, keep)
            atomic_write_bytes(path, HEADER + b"".join(encode_record(e) for e in events))
        elif torn_tail and repair:
            log.info("%s: cutting a torn last line (an append that never returned)", path)
            try:
                with open(path, "r+b") as fh:
                    fh.truncate(good_end)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise StoreError(describe_os_error(exc, path, "repairing")) from exc
        elif torn_tail:
            raise StoreError(f"{path}:{torn_tail[0]}: damaged journal line")
        return JournalFile(number, path, events)

    def _replace_unopenable(self, number: int, path: Path) -> JournalFile:
        """An encrypted journal file whose header record does not open (tampered, or
        copied from another name): moved aside (kept, sealed.py) and started again empty,
        so the store opens; its events that were folded are in the segments."""
        sealer = sealer_for(path)
        assert sealer is not None
        sealer.quarantine(path, "its header record does not open with this folder's key")
        atomic_write_bytes(path, HEADER)
        return JournalFile(number, path, [])

    # -- writing ---------------------------------------------------------------------
    def open_for_append(self, jf: JournalFile) -> None:
        self.close()
        try:
            self._fd = os.open(jf.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0))
            self._size = os.fstat(self._fd).st_size
        except OSError as exc:
            raise StoreError(describe_os_error(exc, jf.path, "opening")) from exc
        self.current = jf

    def start_new(self) -> JournalFile:
        """Create the next journal file (durably) and make it the one appended to."""
        last = self.current.number if self.current else max(self.numbers(), default=0)
        jf = JournalFile(last + 1, self.path_of(last + 1))
        atomic_write_bytes(jf.path, HEADER)
        self.open_for_append(jf)
        return jf

    @property
    def full(self) -> bool:
        return self.current is None or len(self.current.events) >= self.capacity

    def append(self, event: dict[str, Any]) -> None:
        """Write one event line and fsync; on failure cut the file back (no torn line)."""
        if self._fd is None or self.current is None:
            raise StoreError("journal is not open")
        if self.broken:
            raise StoreError(f"{self.current.path}: a failed write could not be undone; "
                             "close and reopen the store (nothing stored is lost)")
        line = seal_append(self.current.path, encode_record(event), new_file=False)
        before = self._size
        try:
            write_all(self._fd, line)
            os.fsync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, before)
                os.fsync(self._fd)
            except OSError:
                self.broken = True
            raise StoreError(describe_os_error(exc, self.current.path, "appending")) from exc
        self._size = before + len(line)
        self.current.events.append(event)

    def delete(self, numbers: list[int]) -> None:
        """Delete these journal files, then make the deletions durable with one fsync of
        the folder (not one per file: an acknowledgement deletes several, and each
        fsync waits for the disk). It returns after that fsync, so the caller may then
        forget the files' ids."""
        deleted = False
        for number in numbers:
            try:
                self.path_of(number).unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("could not delete acknowledged journal %s: %s", number, exc)
                continue
            deleted = True
        if deleted:
            with contextlib.suppress(OSError):
                fsync_dir(self.folder)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.current = None
        self._index.close()

    # -- the index of closed files ---------------------------------------------------
    def record_closed(self, jf: JournalFile) -> None:
        """Note the ids of a closed (fully folded) journal file in the index."""
        self._index.append([[jf.number, [e["id"] for e in jf.events]]])

    def forget_index(self) -> None:
        """Empty the index of closed files (after a closed file was rewritten: erasure.py);
        `closed_ids` reads each file once again and records it anew."""
        self._index.close()
        try:
            write_records(self.folder / INDEX_FILE, INDEX_KIND, [])
        finally:
            self._index = Appender(self.folder / INDEX_FILE, INDEX_KIND)

    def closed_ids(self, live: list[int]) -> dict[int, list[str]]:
        """{number: ids in file order} for the journal files in `live`: from the index,
        else read from the file itself (and recorded for next time)."""
        path = self.folder / INDEX_FILE
        try:
            found = read_records(path, INDEX_KIND)
        except StoreError as exc:
            log.warning("journal index ignored: %s", exc)
            found = None
        recorded: dict[int, list[str]] = {}
        records = found.records if found is not None else []
        for record in records:
            if (isinstance(record, list) and len(record) == 2 and type(record[0]) is int
                    and isinstance(record[1], list)):
                recorded[record[0]] = record[1]      # CRC-checked, written by us
        wanted = set(live)
        out: dict[int, list[str]] = {}
        missing: list[JournalFile] = []
        for number in live:
            if number in recorded:
                out[number] = recorded[number]
            else:
                jf = self.read(number, repair=True)
                out[number] = [e["id"] for e in jf.events]
                missing.append(jf)
        dead = sum(1 for n in recorded if n not in wanted)
        if found is not None and (found.damaged or dead > len(out) + 64):
            self._index.close()
            try:
                write_records(path, INDEX_KIND, [[n, out[n]] for n in live])
            except StoreError as exc:
                log.warning("could not rewrite the journal index: %s", exc)
            self._index = Appender(path, INDEX_KIND)
        else:
            for jf in missing:
                self.record_closed(jf)
        return out
