"""Content-addressed blob store: ``<root>/<aa>/<sha256>`` (device and server alike).

A blob enters the store only through a temp file that was hash- and size-checked while
being written, made durable, and then renamed into place; so a file at ``path(sha)``
always has that hash, after a crash or a power cut too. Temp files live in
``<root>/tmp``, resumable downloads in ``<root>/partial`` (same file system, so the final
rename is atomic).

Many blobs at once (a pack of 3,000 small files): `batch()` stages them in one folder,
makes them all durable — with one ``syncfs(2)`` when they are many files (where the
system has it), else one fsync per file — and only then renames them into place and
syncs once more for the renames.
One fsync per blob cost ≈ 0.6 ms each here — 3,000 files took 7–13× a ``sha256sum`` of
the pack. A batch of an install from a .pack file (`batch(pack_small=True)`) also writes
its blobs of up to CONTAINER_MAX_BLOB bytes into one container file (containers.py):
even without fsyncs, creating 3,000 files costs more than hashing them. The store reads
a blob from its loose file ``<aa>/<sha>`` or else from a container; `file_path` copies a
packed blob out to its loose file when a caller needs a path (an image to show). See
docs/pack-format.md §4.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from app.core.errors import PackInstallError, PackVerifyError, StoreError
from app.core.packs.containers import SUFFIX, ContainerWriter, Slice, is_container, read_index
from app.core.packs.limits import CHUNK

log = logging.getLogger(__name__)

PACKED = "packed"
DEAD_SUFFIX = ".dead"
#: a batch that packs puts blobs up to this size into its container (larger ones cost
#: their bytes, not their file creation, and an image view would copy them out)
CONTAINER_MAX_BLOB = 256 * 1024
#: a batch with more files than this is flushed with one syncfs, else file by file
SYNCFS_MIN_FILES = 32

_SHA = re.compile(r"^[0-9a-f]{64}$")


def _check_sha(sha: str) -> str:
    if not isinstance(sha, str) or not _SHA.match(sha):
        raise PackVerifyError(f"invalid blob id {str(sha)[:80]!r}: expected 64 lowercase hex")
    return sha


@functools.cache
def _syncfs() -> Any:
    """libc's syncfs, or None where there is none (macOS, Windows)."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError, TypeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def sync_filesystem(folder: Path) -> bool:
    """Flush everything written to the file system holding `folder` with one syncfs(2)
    call (Linux, Android); False where the system has none (the caller then fsyncs
    file by file). Raises OSError when the flush fails."""
    fn = _syncfs()
    if fn is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if fn(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(folder))
    finally:
        os.close(fd)
    return True


def _fsync_path(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not os.path.isdir(path):
            raise                  # some systems cannot fsync a folder; a file must
    finally:
        os.close(fd)


class BlobStore:
    def __init__(self, root: Path, *, fsync: bool = True,
                 sync_fs: Callable[[Path], bool] = sync_filesystem) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.sync_fs = sync_fs
        self._packed: dict[str, tuple[Path, int, int]] = {}    # sha -> container, off, size
        self._containers: dict[str, list[str]] = {}            # container -> live shas
        self._listing: dict[str, int] | None = None            # packed/ when last read

    def path(self, sha: str) -> Path:
        _check_sha(sha)
        return self.root / sha[:2] / sha

    def has(self, sha: str) -> bool:
        return os.path.isfile(self.path(sha)) or self._find_packed(sha) is not None

    def present(self, shas: Iterable[str]) -> set[str]:
        """Which of these blobs the store has (one look at the containers, and at each
        fan-out folder when that is fewer looks than one per blob)."""
        wanted = {_check_sha(sha) for sha in shas}
        self._scan_packed()
        found = wanted & self._packed.keys()
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
                self._scan_packed()
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
                    if _SHA.match(f.name) and f.name.startswith(sub.name):
                        seen.add(f.name)
                        yield f.name
        self._scan_packed()
        yield from sorted(set(self._packed) - seen)

    # -- containers ----------------------------------------------------------------------
    def _find_packed(self, sha: str) -> tuple[Path, int, int] | None:
        """Where a packed blob is, as ``packed/`` says now (its listing is read each
        time: a few names, and another BlobStore object or process may have changed
        them — a cached answer could name a blob that was collected)."""
        _check_sha(sha)
        self._scan_packed()
        return self._packed.get(sha)

    def _scan_packed(self) -> bool:
        """Load the indexes of containers added since the last look, forget removed ones
        (a listing of the few names in ``packed/``: another BlobStore object or process
        may have changed it). True when something changed."""
        folder = self.root / PACKED
        try:
            listing = {e.name: e.stat().st_mtime_ns for e in os.scandir(folder)}
        except FileNotFoundError:
            listing = {}
        stamp = {n: t for n, t in listing.items() if is_container(Path(n))
                 or n.endswith(DEAD_SUFFIX)}
        if stamp == self._listing:
            return False
        self._listing = stamp
        self._packed, self._containers = {}, {}
        for name in sorted(n for n in stamp if is_container(Path(n))):
            path = folder / name
            try:
                index = read_index(path)
                dead = _read_dead(folder / (name + DEAD_SUFFIX))
            except (OSError, ValueError) as exc:
                log.warning("blob container ignored: %s", exc)
                continue
            live = [sha for sha in index if sha not in dead]
            self._containers[name] = live
            for sha in live:
                offset, size = index[sha]
                self._packed.setdefault(sha, (path, offset, size))
        return True

    def collect(self, candidates: set[str], referenced: set[str]) -> None:
        """Blobs in `candidates` and not in `referenced` leave the containers: a container
        with nothing else left is deleted; one left at most half alive is rewritten with
        its live blobs (durable first, then the old one deleted); otherwise the leavers
        are listed in ``<container>.dead`` (written atomically) and no longer found."""
        self._scan_packed()
        folder = self.root / PACKED
        changed = False
        for name, live in list(self._containers.items()):
            leaving = {sha for sha in live if sha in candidates and sha not in referenced}
            if not leaving:
                continue
            path = folder / name
            changed = True
            try:
                index = read_index(path)
                staying = [sha for sha in live if sha not in leaving]
                if not staying:
                    _unlink_quietly(path, folder / (name + DEAD_SUFFIX))
                    continue
                total = sum(index[sha][1] for sha in index)
                if 2 * sum(index[sha][1] for sha in staying) <= total:
                    self._repack(path, index, staying)
                    continue
                dead = sorted(set(index) - set(staying))
                tmp = folder / f".{name}{DEAD_SUFFIX}.tmp-{secrets.token_hex(4)}"
                tmp.write_text(json.dumps(dead))
                if self.fsync:
                    _fsync_path(tmp)
                os.replace(tmp, folder / (name + DEAD_SUFFIX))
            except (OSError, ValueError) as exc:     # space is not reclaimed; no harm
                log.warning("could not collect blobs of %s: %s", path, exc)
        if changed and self.fsync and folder.is_dir():
            with contextlib.suppress(OSError):
                _fsync_path(folder)
        self._scan_packed()

    def _repack(self, path: Path, index: dict[str, tuple[int, int]], staying: list[str]
                ) -> None:
        with self.batch(pack_small=True) as batch:
            for sha in staying:
                offset, size = index[sha]
                with Slice(path, offset, size) as fh:
                    batch.put(sha, size, iter(functools.partial(fh.read, CHUNK), b""),
                              force_pack=True)
            batch.commit()
        _unlink_quietly(path, path.with_name(path.name + DEAD_SUFFIX))

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
            _check(sha, size, n, h.hexdigest())
        except PackVerifyError:
            part.unlink(missing_ok=True)
            raise
        return part

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
        """Delete the blob's loose file (a packed blob goes with its container:
        `collect`)."""
        self.path(sha).unlink(missing_ok=True)


def _check(sha: str, size: int, got_size: int, got_sha: str, label: str | None = None) -> None:
    what = f"blob for {label}" if label else f"blob {sha[:16]}…"
    if got_size != size:
        raise PackVerifyError(f"{what} has {got_size} bytes, expected {size}")
    if got_sha != sha:
        raise PackVerifyError(f"{what} was tampered with: sha256 does not match the manifest")


class BlobBatch:
    """Blobs stored together: each is size- and hash-checked into a staging folder
    (``<root>/tmp/batch-<pid>-<random>/``) as it arrives; `commit` makes them all durable
    at once, then moves them into place (so the store's rule — a file at ``path(sha)``
    has that hash — holds at every moment), then makes the moves durable. Nothing is in
    the store before `commit`; leaving the ``with`` block without it deletes the staging
    folder, and a crash leaves only a staging folder, removed by the next batch."""

    def __init__(self, store: BlobStore, *, pack_small: bool = False) -> None:
        self.store = store
        tmp = store.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        _remove_dead_batches(tmp)
        self.dir = tmp / f"batch-{os.getpid()}-{secrets.token_hex(4)}"
        self.dir.mkdir()
        self.staged: dict[str, str] = {}         # sha -> staged file
        self.placed: list[str] = []
        self._container = ContainerWriter(self.dir / f"new{SUFFIX}") if pack_small else None

    def __enter__(self) -> BlobBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def put(self, sha: str, size: int, chunks: Iterable[bytes], *, label: str | None = None,
            keep: int = 0, force_pack: bool = False) -> bytes:
        """Stage one blob from `chunks` (PackVerifyError if its size or hash differ);
        returns its first `keep` bytes (for a content check without reading it back).
        A blob staged already is not staged twice (its chunks are not consumed)."""
        _check_sha(sha)
        if sha in self.staged or (self._container and sha in self._container.index):
            return b""
        if self._container is not None and (size <= CONTAINER_MAX_BLOB or force_pack):
            return self._put_packed(self._container, sha, size, chunks, label, keep)
        name = os.path.join(self.dir, sha)
        h = hashlib.sha256()
        n = 0
        kept = bytearray()
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o644)
        try:
            with open(fd, "wb", closefd=True, buffering=0) as out:
                for chunk in chunks:
                    n += len(chunk)
                    if n > size:
                        raise PackVerifyError(f"blob for {label or sha} is larger than the "
                                              f"{size} bytes expected")
                    h.update(chunk)
                    out.write(chunk)
                    if len(kept) < keep:
                        kept += chunk[:keep - len(kept)]
            _check(sha, size, n, h.hexdigest(), label)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise
        self.staged[sha] = name
        return bytes(kept)

    @staticmethod
    def _put_packed(container: ContainerWriter, sha: str, size: int, chunks: Iterable[bytes],
                    label: str | None, keep: int) -> bytes:
        h = hashlib.sha256()
        kept = bytearray()
        container.begin()
        n = 0
        try:
            for chunk in chunks:
                n += len(chunk)
                if n > size:
                    raise PackVerifyError(f"blob for {label or sha} is larger than the "
                                          f"{size} bytes expected")
                h.update(chunk)
                container.write(chunk)
                if len(kept) < keep:
                    kept += chunk[:keep - len(kept)]
            _check(sha, size, n, h.hexdigest(), label)
        except BaseException:
            container.cancel_last()
            raise
        container.end(sha)
        return bytes(kept)

    def adopt_partial(self, sha: str, size: int) -> None:
        """Stage a completed partial download (hash-checked; PackVerifyError and the
        partial deleted when it is not the blob)."""
        part = self.store.check_partial(sha, size, durable=False)
        name = os.path.join(self.dir, sha)
        os.replace(part, name)
        self.staged[sha] = name

    def commit(self) -> list[str]:
        """Make every staged blob durable, move it into place, make the moves durable.
        Returns the blobs placed (a blob already in the store is left as it is)."""
        container = self._container
        packed = list(container.index) if container is not None else []
        if not self.staged and not packed:
            self.discard()
            return []
        todo = [sha for sha in self.staged if not os.path.isfile(self.store.path(sha))]
        try:
            files = list(self.staged.values())
            if container is not None and packed:
                container.finish()
                files.append(str(container.path))
            self._durable(files)
            folders: set[str] = set()
            if container is not None and packed:
                into = self.store.root / PACKED
                into.mkdir(exist_ok=True)
                os.replace(container.path, into / f"{secrets.token_hex(8)}{SUFFIX}")
                folders.add(str(into))
                self.placed.extend(packed)
            for sha in todo:
                folder = os.path.join(self.store.root, sha[:2])
                if folder not in folders and not os.path.isdir(folder):
                    os.makedirs(folder, exist_ok=True)
                folders.add(folder)
                os.replace(self.staged[sha], os.path.join(folder, sha))
                self.placed.append(sha)
            self._durable([*sorted(folders), str(self.store.root)])
        except OSError as exc:
            raise PackInstallError(f"{self.store.root}: storing the pack's files failed "
                                   f"({exc.strerror or exc}); the previous version is still "
                                   "in use") from None
        finally:
            self.discard()
        self.store._scan_packed()
        return list(self.placed)

    def _durable(self, paths: list[str]) -> None:
        """fsync these files/folders — or, when there are many, one syncfs: it flushes
        the whole file system (unrelated dirty data too, e.g. the .pack just copied from
        a USB stick), which pays only when it saves many fsyncs."""
        if not self.store.fsync or not paths:
            return
        if len(paths) > SYNCFS_MIN_FILES and self.store.sync_fs(self.dir):
            return
        for path in paths:
            _fsync_path(path)

    def discard(self) -> None:
        """Delete the staging folder (and whatever is still in it)."""
        if self._container is not None:
            self._container.close()
            self._container = None
        shutil.rmtree(self.dir, ignore_errors=True)
        self.staged = {}


def _remove_dead_batches(tmp: Path) -> None:
    """Staging folders left by a crashed process (its pid no longer runs)."""
    for entry in tmp.iterdir():
        parts = entry.name.split("-")
        if not (entry.name.startswith("batch-") and len(parts) == 3 and parts[1].isdigit()):
            continue
        pid = int(parts[1])
        if pid == os.getpid() or _maybe_running(pid, entry):
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _maybe_running(pid: int, folder: Path) -> bool:
    if os.name != "posix":       # no harmless "is it alive" probe: a day-old one is dead
        with contextlib.suppress(OSError):
            return time.time() - folder.stat().st_mtime < 86_400
        return True
    try:
        os.kill(pid, 0)          # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _read_dead(path: Path) -> set[str]:
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        return set()
    if not isinstance(found, list) or not all(isinstance(x, str) for x in found):
        raise ValueError(f"{path}: expected a list of blob ids")
    return set(found)


def _unlink_quietly(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
