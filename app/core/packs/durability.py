"""Making written files durable: fsync of one file or folder, and one ``syncfs(2)`` for
a whole batch (the blob store and its batches, blobs.py and blob_batch.py).

Why both: one fsync per blob cost ≈ 0.6 ms each here — 3,000 files took 7–13× a
``sha256sum`` of the pack — while one syncfs flushes the whole file system at once (also
unrelated dirty data, so it pays only for many files; blob_batch.SYNCFS_MIN_FILES).
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path
from typing import Any


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


def fsync_path(path: Path | str) -> None:
    """fsync a file or a folder (some systems cannot fsync a folder: that is skipped;
    a file must be)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not os.path.isdir(path):
            raise
    finally:
        os.close(fd)


def datasync_file(path: Path | str) -> None:
    """Make a file's bytes durable — its data and what is needed to read them back
    (size, block map) — without waiting for a journal commit of its other metadata:
    `fdatasync` where the system has it, else fsync.

    Why: a blob batch (blob_batch.py) flushes files that were read for hashing and
    renamed a moment ago, so their access and change times are dirty. A full fsync
    commits the file system journal for that, once per file (≈ 3–5 ms each here, far
    more on a busy disk) — for a downloaded blob already on disk, nothing else. The
    renames themselves are made durable by the folder fsyncs that follow, together.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        getattr(os, "fdatasync", os.fsync)(fd)
    finally:
        os.close(fd)

