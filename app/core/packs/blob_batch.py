"""Many blobs stored together with one durability flush (`BlobStore.batch()`).

Each blob is size- and hash-checked into a staging folder
(``<blobs>/tmp/batch-<pid>-<random>/``) as it arrives; `commit` makes them all durable
at once — one ``syncfs(2)`` when they are many files, else one fsync each
(durability.py) — then moves them into place (so the store's rule, a file at
``path(sha)`` has that hash, holds at every moment), then makes the moves durable.
Nothing is in the store before `commit`; leaving the ``with`` block without it deletes
the staging folder, and a crash leaves only a staging folder, removed by the next batch.

A batch of an install from a .pack file (``pack_small=True``) writes its blobs of up to
CONTAINER_MAX_BLOB bytes into one container file (containers.py): even without fsyncs,
creating 3,000 files costs more than hashing them. See docs/pack-format.md §4.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from app.core.errors import PackInstallError
from app.core.packs.blob_ids import check_sha, copy_checked
from app.core.packs.containers import SUFFIX, ContainerWriter
from app.core.packs.durability import datasync_file, fsync_path
from app.core.packs.packed import PACKED

#: a batch that packs puts blobs up to this size into its container (larger ones cost
#: their bytes, not their file creation, and an image view would copy them out)
CONTAINER_MAX_BLOB = 256 * 1024
#: a batch with more files than this is flushed with one syncfs, else file by file.
#: Each fsync ends in a flush of the device's write cache (≈ 2–10 ms on this machine's
#: virtual disk, more on a tablet's eMMC), whatever it had to write, while one syncfs
#: flushes once: from a handful of files on, one syncfs is cheaper even with unrelated
#: dirty data around (a 5 %-changed update of a 1 GB pack: 10 blobs in 10 folders, 21
#: fsyncs ≈ 60–300 ms under load against 2 syncfs ≈ 15–25 ms; benchmarks/pack_import.py)
SYNCFS_MIN_FILES = 8


class BatchTarget(Protocol):
    """What a batch needs of the blob store it fills (blobs.BlobStore)."""

    root: Path
    fsync: bool
    sync_fs: Callable[[Path], bool]

    def path(self, sha: str) -> Path: ...

    def check_partial(self, sha: str, size: int, *, durable: bool) -> Path: ...

    def rescan(self) -> None: ...


class BlobBatch:
    """Blobs staged, then placed together (see the module docstring)."""

    def __init__(self, store: BatchTarget, *, pack_small: bool = False) -> None:
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
        check_sha(sha)
        if sha in self.staged or (self._container and sha in self._container.index):
            return b""
        if self._container is not None and (size <= CONTAINER_MAX_BLOB or force_pack):
            return self._put_packed(self._container, sha, size, chunks, label, keep)
        name = os.path.join(self.dir, sha)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o644)
        try:
            with open(fd, "wb", closefd=True, buffering=0) as out:
                kept = copy_checked(chunks, out.write, sha=sha, size=size, label=label,
                                    keep=keep)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise
        self.staged[sha] = name
        return kept

    @staticmethod
    def _put_packed(container: ContainerWriter, sha: str, size: int, chunks: Iterable[bytes],
                    label: str | None, keep: int) -> bytes:
        container.begin()
        try:
            kept = copy_checked(chunks, container.write, sha=sha, size=size, label=label,
                                keep=keep)
        except BaseException:
            container.cancel_last()
            raise
        container.end(sha)
        return kept

    def adopt_partial(self, sha: str, size: int) -> None:
        """Stage a completed partial download (hash-checked; PackVerifyError and the
        partial deleted when it is not the blob)."""
        part = self.store.check_partial(sha, size, durable=False)
        name = os.path.join(self.dir, sha)
        os.replace(part, name)
        os.utime(name)      # it enters the store now: a sweep spares it (install._sweep)
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
            self._durable(files, data_only=True)
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
        self.store.rescan()
        return list(self.placed)

    def _durable(self, paths: list[str], *, data_only: bool = False) -> None:
        """fsync these files/folders — or, when there are many, one syncfs: it flushes
        the whole file system (unrelated dirty data too, e.g. the .pack just copied from
        a USB stick), which pays only when it saves many fsyncs. `data_only` (files
        before their renames): their bytes, not a journal commit each
        (durability.datasync_file); the folder fsyncs after the renames commit those."""
        if not self.store.fsync or not paths:
            return
        if len(paths) > SYNCFS_MIN_FILES and self.store.sync_fs(self.dir):
            return
        for path in paths:
            if data_only:
                datasync_file(path)
            else:
                fsync_path(path)

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
