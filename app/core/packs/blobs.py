"""Content-addressed blob store: ``<root>/<aa>/<sha256>`` (device and server alike).

A blob enters the store only through a temp file that was hash- and size-checked while
being written, fsynced, and then renamed into place; so a file at ``path(sha)`` always has
that hash. Temp files live in ``<root>/tmp``, resumable downloads in ``<root>/partial``
(same file system, so the final rename is atomic).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from app.core.errors import PackVerifyError, StoreError
from app.core.packs.limits import CHUNK

_SHA = re.compile(r"^[0-9a-f]{64}$")


def _check_sha(sha: str) -> str:
    if not isinstance(sha, str) or not _SHA.match(sha):
        raise PackVerifyError(f"invalid blob id {str(sha)[:80]!r}: expected 64 lowercase hex")
    return sha


class BlobStore:
    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync

    def path(self, sha: str) -> Path:
        _check_sha(sha)
        return self.root / sha[:2] / sha

    def has(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def open(self, sha: str) -> BinaryIO:
        try:
            return open(self.path(sha), "rb")
        except FileNotFoundError:
            raise StoreError(f"blob {sha} is not in the store") from None

    def size(self, sha: str) -> int:
        return self.path(sha).stat().st_size

    def __iter__(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if len(sub.name) == 2 and sub.is_dir():
                for f in sorted(sub.iterdir()):
                    if _SHA.match(f.name) and f.name.startswith(sub.name):
                        yield f.name

    def put_stream(self, sha: str, size: int, chunks: Iterable[bytes], *,
                   label: str | None = None, durable: bool = True) -> Path:
        """Store a blob from ``chunks``; raises PackVerifyError if size or hash differ.

        If the blob is already present the chunks are not consumed. ``label`` (e.g. the
        file's pack path) names the blob in error messages. ``durable=False`` skips the
        fsyncs so that a caller storing many blobs can make them durable in one pass with
        ``sync(shas)`` (on ext4 the first fsync then commits them all, the rest are cheap).
        """
        target = self.path(sha)
        if target.is_file():
            return target
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=sha[:16] + ".", dir=tmp_dir)
        tmp = Path(name)
        try:
            h = hashlib.sha256()
            n = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    n += len(chunk)
                    if n > size:
                        raise PackVerifyError(f"blob for {label or sha} is larger than the "
                                              f"{size} bytes expected")
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                if self.fsync and durable:
                    os.fsync(out.fileno())
            _check(sha, size, n, h.hexdigest(), label)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        if durable:
            self.sync_dirs([sha])
        return target

    def sync(self, shas: Iterable[str]) -> None:
        """fsync these blobs and their folders (after ``put_stream(..., durable=False)``)."""
        if not self.fsync:
            return
        shas = list(shas)
        for sha in shas:
            try:
                fd = os.open(self.path(sha), os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.sync_dirs(shas)

    def sync_dirs(self, shas: Iterable[str]) -> None:
        """fsync the folders holding these blobs, so their renames survive a power cut."""
        if not self.fsync:
            return
        for folder in sorted({self.path(sha).parent for sha in shas} | {self.root}):
            try:
                fd = os.open(folder, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def put_file(self, sha: str, size: int, fh: BinaryIO) -> Path:
        return self.put_stream(sha, size, iter(lambda: fh.read(CHUNK), b""))

    # -- resumable downloads (HTTP Range) ----------------------------------------------
    def partial_path(self, sha: str) -> Path:
        _check_sha(sha)
        folder = self.root / "partial"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / sha

    def commit_partial(self, sha: str, size: int) -> Path:
        """Hash the completed partial file and move it into the store (or delete it)."""
        part = self.partial_path(sha)
        if not part.is_file():
            raise StoreError(f"no partial download for blob {sha}")
        h = hashlib.sha256()
        n = 0
        try:
            with open(part, "rb+") as fh:
                while chunk := fh.read(CHUNK):
                    h.update(chunk)
                    n += len(chunk)
                if self.fsync:
                    os.fsync(fh.fileno())
            _check(sha, size, n, h.hexdigest())
        except PackVerifyError:
            part.unlink(missing_ok=True)
            raise
        target = self.path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        self.sync_dirs([sha])
        return target

    def verify(self, sha: str, size: int) -> None:
        """Re-hash a stored blob (the network install path checks what it was given)."""
        try:
            fh = self.open(sha)
        except StoreError:
            raise PackVerifyError(f"blob {sha} is missing from the store") from None
        h = hashlib.sha256()
        n = 0
        with fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                n += len(chunk)
        _check(sha, size, n, h.hexdigest())

    def remove(self, sha: str) -> None:
        self.path(sha).unlink(missing_ok=True)


def _check(sha: str, size: int, got_size: int, got_sha: str, label: str | None = None) -> None:
    what = f"blob for {label}" if label else f"blob {sha[:16]}…"
    if got_size != size:
        raise PackVerifyError(f"{what} has {got_size} bytes, expected {size}")
    if got_sha != sha:
        raise PackVerifyError(f"{what} was tampered with: sha256 does not match the manifest")
