"""Content-addressed blob store: ``<root>/<aa>/<sha256>`` (device and server alike).

A blob enters the store only through a temp file that was hash- and size-checked while
being written, made durable, and then renamed into place; so a file at ``path(sha)``
always has that hash, after a crash or a power cut too. Temp files live in
``<root>/tmp``, resumable downloads in ``<root>/partial`` (same file system, so the final
rename is atomic).

Many blobs at once (a pack of 3,000 small files): `batch()` (blob_batch.py) stages them,
makes them all durable with one flush (durability.py), then places them; a batch of a
.pack install puts its small blobs into one container file (containers.py). The store
reads a blob from its loose file ``<aa>/<sha>`` or else from a container (packed.py);
`file_path` copies a packed blob out to its loose file when a caller needs a path (an
image to show). See docs/pack-format.md §4.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from app.core.errors import PackVerifyError, StoreError
from app.core.packs.blob_batch import BlobBatch
from app.core.packs.blob_ids import SHA_RE, check_blob, check_sha, copy_checked
from app.core.packs.containers import Slice
from app.core.packs.durability import sync_filesystem
from app.core.packs.limits import CHUNK
from app.core.packs.packed import DEAD_SUFFIX, Location, PackedBlobs, unlink_quietly


class BlobStore:
    def __init__(self, root: Path, *, fsync: bool = True,
                 sync_fs: Callable[[Path], bool] = sync_filesystem) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.sync_fs = sync_fs
        self._packs = PackedBlobs(self.root, fsync=fsync)      # packed/ (containers)

    def path(self, sha: str) -> Path:
        check_sha(sha)
        return self.root / sha[:2] / sha

    def has(self, sha: str) -> bool:
        return os.path.isfile(self.path(sha)) or self._find_packed(sha) is not None

    def present(self, shas: Iterable[str]) -> set[str]:
        """Which of these blobs the store has (one look at the containers, and at each
        fan-out folder when that is fewer looks than one per blob)."""
        wanted = {check_sha(sha) for sha in shas}
        found = wanted & self._packs.shas()
        rest = wanted - found
        root = str(self.root)
        if len(rest) > 256:
            by_prefix: dict[str, list[str]] = {}
            for sha in rest:
                by_prefix.setdefault(sha[:2], []).append(sha)
            for prefix, group in by_prefix.items():
                try:
                    names = set(os.listdir(os.path.join(root, prefix)))
                except FileNotFoundError:
                    continue
                found.update(sha for sha in group if sha in names)
        else:
            found.update(sha for sha in rest
                         if os.path.isfile(os.path.join(root, sha[:2], sha)))
        return found

    def open(self, sha: str) -> BinaryIO:
        try:
            return open(self.path(sha), "rb")
        except FileNotFoundError:
            pass
        for _ in range(2):          # a container removed meanwhile: look again once
            where = self._find_packed(sha)
            if where is None:
                break
            try:
                return Slice(*where)  # type: ignore[return-value]
            except FileNotFoundError:
                self._packs.scan()
        raise StoreError(f"blob {sha} is not in the store")

    def read(self, sha: str) -> bytes:
        with self.open(sha) as fh:
            return fh.read()

    def size(self, sha: str) -> int:
        found = self.size_if_present(sha)
        if found is None:
            raise StoreError(f"blob {sha} is not in the store")
        return found

    def size_if_present(self, sha: str) -> int | None:
        """The stored blob's size, or None when it is not in the store."""
        try:
            return os.stat(self.path(sha)).st_size
        except FileNotFoundError:
            where = self._find_packed(sha)
            return where[2] if where is not None else None

    def file_path(self, sha: str) -> Path:
        """A file holding the blob (for callers that need a path: an image view). A
        packed blob is copied out to its loose file first — hash-checked and durable
        before it gets its name, like any blob entering the store."""
        target = self.path(sha)
        if target.is_file():
            return target
        where = self._find_packed(sha)
        if where is None:
            raise StoreError(f"blob {sha} is not in the store")
        with Slice(*where) as fh:
            return self.put_stream(sha, where[2], iter(functools.partial(fh.read, CHUNK), b""))

    def batch(self, *, pack_small: bool = False) -> BlobBatch:
        """Store many blobs with one durability flush (see the module docstring)."""
        return BlobBatch(self, pack_small=pack_small)

    def __iter__(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        seen = set()
        for sub in sorted(self.root.iterdir()):
            if len(sub.name) == 2 and sub.is_dir():
                for f in sorted(sub.iterdir()):
                    if SHA_RE.match(f.name) and f.name.startswith(sub.name):
                        seen.add(f.name)
                        yield f.name
        yield from sorted(self._packs.shas() - seen)

    # -- containers (packed.py) -----------------------------------------------------------
    def _find_packed(self, sha: str) -> Location | None:
        return self._packs.find(sha)

    def rescan(self) -> None:
        """Look at ``packed/`` again (a batch placed a container)."""
        self._packs.scan()

    def collect(self, candidates: set[str], referenced: set[str]) -> None:
        """Blobs in `candidates` and not in `referenced` leave the containers
        (PackedBlobs.collect; a container left at most half alive is repacked)."""
        self._packs.collect(candidates, referenced, self._repack)

    def _repack(self, path: Path, index: dict[str, tuple[int, int]], staying: list[str]
                ) -> None:
        with self.batch(pack_small=True) as batch:
            for sha in staying:
                offset, size = index[sha]
                with Slice(path, offset, size) as fh:
                    batch.put(sha, size, iter(functools.partial(fh.read, CHUNK), b""),
                              force_pack=True)
            batch.commit()
        unlink_quietly(path, path.with_name(path.name + DEAD_SUFFIX))

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
            with os.fdopen(fd, "wb") as out:
                copy_checked(chunks, out.write, sha=sha, size=size, label=label)
                out.flush()
                if self.fsync and durable:
                    os.fsync(out.fileno())
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
        check_sha(sha)
        folder = self.root / "partial"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / sha

    def commit_partial(self, sha: str, size: int) -> Path:
        """Hash the completed partial file and move it into the store (or delete it)."""
        part = self.check_partial(sha, size, durable=self.fsync)
        target = self.path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        self.sync_dirs([sha])
        return target

    def check_partial(self, sha: str, size: int, *, durable: bool) -> Path:
        """Hash a completed partial download: its path when it is the blob (fsync'd if
        `durable`); PackVerifyError (and the file deleted) when it is not."""
        part = self.partial_path(sha)
        if size == 0 and not part.exists():
            part.touch()            # an empty file: a download of 0 bytes writes nothing
        if not part.is_file():
            raise StoreError(f"no partial download for blob {sha}")
        h = hashlib.sha256()
        n = 0
        try:
            with open(part, "rb+") as fh:
                while chunk := fh.read(CHUNK):
                    h.update(chunk)
                    n += len(chunk)
                if durable:
                    os.fsync(fh.fileno())
            check_blob(sha, size, n, h.hexdigest())
        except PackVerifyError:
            part.unlink(missing_ok=True)
            raise
        return part

    def _hashed(self, sha: str) -> tuple[int, str] | None:
        """(size, sha256) of the copy a read gets (the loose file, else the packed one);
        None when it is not in the store."""
        try:
            fh = self.open(sha)
        except StoreError:
            return None
        h = hashlib.sha256()
        n = 0
        with fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                n += len(chunk)
        return n, h.hexdigest()

    def intact(self, sha: str) -> bool:
        """Whether the copy a read gets hashes to `sha` — False when it is not in the
        store."""
        found = self._hashed(sha)
        return found is not None and found[1] == sha

    def verify(self, sha: str, size: int) -> None:
        """Re-hash a stored blob (the network install path checks what it was given)."""
        found = self._hashed(sha)
        if found is None:
            raise PackVerifyError(f"blob {sha} is missing from the store")
        check_blob(sha, size, *found)

    def sweep(self, referenced: set[str], before: float) -> int:
        """Remove every blob not in `referenced` that entered the store before `before`
        (seconds since the epoch): its loose file, its container entries (`collect`);
        and temp files of a crashed process, as old. Returns the blobs removed. The
        caller must know every blob in use (install.py: every installed manifest); the
        age spares what a download put in the store for an install still to come."""
        gone: set[str] = set()
        if not self.root.is_dir():
            return 0
        for sub in os.scandir(self.root):
            if len(sub.name) != 2 or not sub.is_dir():
                continue
            for entry in os.scandir(sub.path):
                if SHA_RE.match(entry.name) and entry.name not in referenced:
                    with contextlib.suppress(OSError):
                        if entry.stat().st_mtime < before:
                            os.unlink(entry.path)
                            gone.add(entry.name)
        packed = self._packs.written_before(before) - referenced
        if packed:
            self.collect(packed, referenced)
            gone |= packed - self._packs.shas()
        stale = self._packs.leftovers(before)
        with contextlib.suppress(FileNotFoundError):
            stale += [Path(e.path) for e in os.scandir(self.root / "tmp")
                      if e.is_file() and e.stat().st_mtime < before]
        unlink_quietly(*stale)
        return len(gone)

    def remove(self, sha: str) -> None:
        """Delete the blob's loose file (a packed blob goes with its container:
        `collect`)."""
        self.path(sha).unlink(missing_ok=True)
