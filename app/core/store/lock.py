"""One Store per data folder: an exclusive lock file, held while the Store is open.

`flock` locks belong to an open file description, so a second open of the same folder is
refused both from another process and from this one; the in-process registry only makes
the message clearer. The lock dies with the process, so a crash never leaves it stuck.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from app.core.errors import StoreError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

_OPEN: set[str] = set()
_OPEN_GUARD = threading.Lock()


class DirLock:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "store.lock"
        self._key = str(folder.resolve())
        self._fd: int | None = None

    def acquire(self) -> None:
        with _OPEN_GUARD:
            if self._key in _OPEN:
                raise StoreError(f"{self._key}: store is already open in this process "
                                 "(use the one Store object, or close it first)")
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StoreError(f"{self.path}: cannot open the lock file: {exc.strerror}") from exc
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                else:
                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                holder = ""
                with contextlib.suppress(OSError, AttributeError):
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                raise StoreError(f"{self._key}: store is open in another process"
                                 + (f" (pid {holder})" if holder else "")) from None
            with contextlib.suppress(OSError, AttributeError):  # only a hint for the message
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
            self._fd = fd
            _OPEN.add(self._key)

    def release(self) -> None:
        with _OPEN_GUARD:
            if self._fd is None:
                return
            try:
                if fcntl is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
                _OPEN.discard(self._key)
