"""Encryption at rest of the store folder: AES-256-GCM on the two paths where bytes
reach the disk (issue 15 item 5, OWASP MASVS-STORAGE).

Every store file is written by `atomic.atomic_write_bytes` (whole files) or appended by
`records.Appender` / `journal.Journal.append` (record files), and read by
`atomic.read_file_bytes`; those call `seal_file`, `seal_lines` and `unseal` here. The
rest of the store (TinyDB tables, journal lines with their CRC, binary headers) keeps
working on the same plaintext bytes as before, so the store API and its crash rules do
not change.

Two formats, both starting with an 8-byte magic that no plaintext store file starts
with (they all start with ``{``):

* **whole file** — ``MAGIC_FILE · nonce(12) · AES-GCM(file bytes)``;
* **record file** (``*.log``: the journal, its index, the id log) — ``MAGIC_LOG``, then
  one frame per line: ``length(4, big-endian) · nonce(12) · AES-GCM(line)``. Each append
  is one frame with a fresh random 96-bit nonce, so appending stays one write + fsync; a
  torn last frame (a crash mid-append) fails its length or tag and is reported as a
  damaged line, exactly as a torn plaintext line is (its CRC fails).

The associated data of every seal is the file's path *relative to the store folder*
(and whether it is a file or a frame), so a file or a frame copied to another name does
not open; a copied data folder opens with its key wherever it is put.

Which key: the Store registers a `Sealer` for its folder while it is open (`register`,
`unregister`; the folder lock guarantees one Store per folder), and these functions find
it by the path's folders — so no call site of the store's ~20 readers and writers had to
learn about keys. Without a registered Sealer files are read and written in plaintext
(a Store opened without a KeyProvider, as the store's own unit tests do); a sealed file
met there is refused with a clear error.

A file that does not open (tampered, damaged, or plaintext where only sealed files may
be) is moved aside as ``<name>.damaged-<time>`` — never deleted — and read as missing;
the Sealer lists it in `damaged` and logs which file and why. A *wrong key* never gets
that far: the Store checks the key against ``sealed.json`` first (sealing.py).
"""

from __future__ import annotations

import logging
import os
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.errors import StoreError

log = logging.getLogger(__name__)

MAGIC_FILE = b"\x89SLSF1\r\n"
MAGIC_LOG = b"\x89SLSL1\r\n"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_LEN = struct.Struct(">I")
#: largest frame accepted when reading (a record line is far smaller)
MAX_FRAME_BYTES = 64 * 1024 * 1024
#: a frame that does not open, as the record reader sees it: a line whose CRC fails
BAD_LINE = b"!"
AAD_PREFIX = b"shift-store/1\x00"


def is_sealed(raw: bytes) -> bool:
    return raw[:len(MAGIC_FILE)] in (MAGIC_FILE, MAGIC_LOG)


def is_record_file(path: Path) -> bool:
    """Record files (one line per record, appended) are the ``*.log`` files."""
    return path.name.endswith(".log")


@dataclass
class Damaged:
    path: Path
    kept_as: Path | None
    reason: str


@dataclass
class Sealer:
    """The data key of one open store folder."""

    root: Path
    key: bytes
    damaged: list[Damaged] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise StoreError(f"data key: expected {KEY_BYTES} bytes, got {len(self.key)}")
        self._aead = AESGCM(self.key)

    def _aad(self, path: Path, kind: bytes) -> bytes:
        try:
            rel = Path(os.path.abspath(path)).relative_to(self.root).as_posix()
        except ValueError:
            raise StoreError(f"{path}: not inside the store folder {self.root}") from None
        return AAD_PREFIX + kind + b"\x00" + rel.encode()

    # -- whole files ------------------------------------------------------------------------
    def seal_file(self, path: Path, data: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return MAGIC_FILE + nonce + self._aead.encrypt(nonce, data, self._aad(path, b"F"))

    def open_file(self, path: Path, raw: bytes) -> bytes:
        """The plaintext of a sealed whole file; InvalidTag when it does not open."""
        body = raw[len(MAGIC_FILE):]
        if len(body) < NONCE_BYTES + TAG_BYTES:
            raise InvalidTag()
        return self._aead.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:],
                                  self._aad(path, b"F"))

    # -- record files -----------------------------------------------------------------------
    def seal_frames(self, path: Path, lines: list[bytes]) -> bytes:
        aad = self._aad(path, b"L")
        out = []
        for line in lines:
            nonce = secrets.token_bytes(NONCE_BYTES)
            body = nonce + self._aead.encrypt(nonce, line, aad)
            out.append(_LEN.pack(len(body)) + body)
        return b"".join(out)

    def open_frames(self, path: Path, raw: bytes) -> bytes:
        """The lines of a sealed record file, newline-terminated, as the plaintext file
        would hold them; a frame that does not open becomes `BAD_LINE` (its CRC check
        fails in records.py), and a damaged length ends the file with one BAD_LINE."""
        aad = self._aad(path, b"L")
        view = memoryview(raw)
        offset, out = len(MAGIC_LOG), []
        while offset < len(raw):
            if offset + _LEN.size > len(raw):
                out.append(BAD_LINE + b"\n")
                break
            (size,) = _LEN.unpack_from(view, offset)
            start, end = offset + _LEN.size, offset + _LEN.size + size
            if size < NONCE_BYTES + TAG_BYTES or size > MAX_FRAME_BYTES or end > len(raw):
                out.append(BAD_LINE + b"\n")     # torn or damaged length: nothing after it
                break
            try:
                line = self._aead.decrypt(bytes(view[start:start + NONCE_BYTES]),
                                          bytes(view[start + NONCE_BYTES:end]), aad)
            except InvalidTag:
                line = BAD_LINE
            out.append(line + b"\n")
            offset = end
        return b"".join(out)

    def quarantine(self, path: Path, reason: str) -> None:
        """Move a file that must not be trusted aside (kept, never deleted) and note it."""
        kept: Path | None = kept_beside(path, DAMAGED)
        try:
            os.replace(path, kept)                     # type: ignore[arg-type]
        except OSError as exc:
            log.error("%s: %s; could not move it aside: %s", path, reason, exc)
            kept = None
        else:
            log.error("%s: %s; moved aside as %s (nothing of it is used)", path, reason,
                      kept.name if kept else "")
        self.damaged.append(Damaged(path, kept, reason))


_SEALERS: dict[Path, Sealer] = {}
_GUARD = threading.Lock()


def register(sealer: Sealer) -> None:
    with _GUARD:
        _SEALERS[sealer.root] = sealer


def unregister(root: Path) -> None:
    with _GUARD:
        _SEALERS.pop(Path(os.path.abspath(root)), None)


def sealer_for(path: Path) -> Sealer | None:
    """The Sealer of the open store folder holding `path`, if any."""
    if not _SEALERS:
        return None
    for folder in Path(os.path.abspath(path)).parents:
        found = _SEALERS.get(folder)
        if found is not None:
            return found
    return None


def make_sealer(root: Path, key: bytes) -> Sealer:
    return Sealer(Path(os.path.abspath(root)), key)


# -- the hooks of atomic.py and records.py ------------------------------------------------
def seal_for_disk(path: Path, data: bytes) -> bytes:
    """What a whole-file write puts on disk: sealed when the folder has a Sealer."""
    sealer = sealer_for(path)
    if sealer is None:
        return data
    if is_record_file(path):
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        return MAGIC_LOG + sealer.seal_frames(path, lines)
    return sealer.seal_file(path, data)


def seal_append(path: Path, data: bytes, *, new_file: bool) -> bytes:
    """What an append of newline-terminated lines writes (the magic first in a new file)."""
    sealer = sealer_for(path)
    if sealer is None:
        return data
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return (MAGIC_LOG if new_file else b"") + sealer.seal_frames(path, lines)


#: what the name of a copy kept beside a damaged file holds: moved aside (here, and a
#: damaged snapshot: segments.py) or, for a journal file with damaged lines, copied
DAMAGED, CORRUPT = ".damaged-", ".corrupt-"


def kept_beside(path: Path, mark: str) -> Path:
    """The name under which a damaged `path` is kept: ``<name><mark><time>``."""
    return path.with_name(f"{path.name}{mark}{int(time.time())}")


def unseal(path: Path, raw: bytes, *, set_aside: bool = True) -> bytes | None:
    """The plaintext of what a read found on disk; None when the file must be treated as
    missing (it was moved aside: damaged, or plaintext in a sealed folder — left where it
    is with `set_aside=False`, for a caller that must replace it before it goes)."""
    sealer = sealer_for(path)
    if sealer is None:
        if is_sealed(raw):
            raise StoreError(f"{path}: the file is encrypted; open the store with its key "
                             "(docs/security.md \"Encryption at rest\")")
        return raw
    if raw.startswith(MAGIC_LOG) and is_record_file(path):
        return sealer.open_frames(path, raw)
    if raw.startswith(MAGIC_FILE) and not is_record_file(path):
        try:
            return sealer.open_file(path, raw)
        except InvalidTag:
            if set_aside:
                sealer.quarantine(path, "does not open with this folder's key (tampered, "
                                        "damaged, or copied from another name)")
            return None
    if not raw and is_record_file(path):
        return raw          # created by an append that wrote nothing yet
    if set_aside:
        sealer.quarantine(path, "not encrypted in an encrypted store folder: refused")
    return None


def sealed_folder(path: Path) -> bool:
    """True when `path` lies in a folder with a registered Sealer."""
    return sealer_for(path) is not None
