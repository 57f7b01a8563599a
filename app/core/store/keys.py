"""Custody of the store's data-encryption key: the `KeyProvider` seam, and the key file
used where the platform offers no secure storage (web mode, desktop).

The Store never chooses where its key lives: the composition root (app/ui/main.py)
passes a KeyProvider — on a phone or tablet one backed by the platform's secure storage
(Android Keystore / iOS Keychain, app/ui/secure_keys.py), elsewhere a `KeyFile` outside
the data folder. What each protects and what it does not: docs/security.md
"Encryption at rest".
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.core.errors import StoreError
from app.core.store.sealed import KEY_BYTES

log = logging.getLogger(__name__)

KEY_FILE_PREFIX = b"shift-data-key/1 "


@dataclass(frozen=True, slots=True)
class DataKey:
    """A 256-bit data key; `created` is True when the provider made it just now (the
    store may then encrypt a folder of plaintext files: sealing.py)."""

    key: bytes
    created: bool
    #: where it is kept, for error messages ("key file /…", "Android Keystore")
    where: str

    def __repr__(self) -> str:
        return f"DataKey(created={self.created}, where={self.where!r}, key=********)"


class KeyProvider(Protocol):
    """Gives the data key of one data folder, making it on first use."""

    def data_key(self) -> DataKey: ...


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> bytes:
    return KEY_FILE_PREFIX + base64.b64encode(key) + b"\n"


def decode_key(raw: bytes, where: str) -> bytes:
    if not raw.startswith(KEY_FILE_PREFIX):
        raise StoreError(f"{where}: not a Shift Learning data key")
    try:
        key = base64.b64decode(raw[len(KEY_FILE_PREFIX):].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise StoreError(f"{where}: the data key is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise StoreError(f"{where}: expected a {KEY_BYTES * 8}-bit key")
    return key


class KeyFile:
    """A key kept in a file of its own (mode 0600, folder 0700), made on first use.

    Put it outside the data folder (and ideally on another volume): a copy of the data
    folder, a backup or a removed SD card is then ciphertext only. Anyone who can read
    this file on the running machine (its user, root) can read the data too."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def data_key(self) -> DataKey:
        where = f"key file {self.path}"
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return DataKey(self._create(where), True, where)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read the data key: {exc.strerror}") from exc
        with contextlib.suppress(OSError, AttributeError):
            mode = stat.S_IMODE(self.path.stat().st_mode)
            if mode & 0o077 and os.name == "posix":
                log.warning("%s: readable by others (mode %o); chmod 600 it", self.path, mode)
        return DataKey(decode_key(raw, where), False, where)

    def _create(self, where: str) -> bytes:
        key = new_key()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_BINARY", 0), 0o600)
        except FileExistsError:            # made meanwhile by another process: use it
            return decode_key(self.path.read_bytes(), where)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the data key "
                             f"({exc.strerror}); set SHIFT_KEY_FILE to a writable place"
                             ) from exc
        try:
            data = encode_key(key)
            if os.write(fd, data) != len(data):
                raise OSError(errno.EIO, "short write")
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise StoreError(f"{self.path}: cannot write the data key: {exc}") from exc
        os.close(fd)
        with contextlib.suppress(OSError):
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        log.info("made a new data key: %s", self.path)
        return key


class FixedKey:
    """A key held in memory (tests, and providers that fetched it elsewhere)."""

    def __init__(self, key: bytes, *, created: bool = False, where: str = "memory") -> None:
        if len(key) != KEY_BYTES:
            raise StoreError(f"data key: expected {KEY_BYTES} bytes")
        self._key, self._created, self._where = key, created, where

    def data_key(self) -> DataKey:
        created, self._created = self._created, False
        return DataKey(self._key, created, self._where)


def default_key_file(data_dir: str | os.PathLike[str]) -> Path:
    """Where the key of `data_dir` lives when nothing else is configured: a file next to
    the data folder, ``<data folder>.key`` — outside it, so a copy of the folder alone is
    unreadable (docs/security.md says what this does and does not protect)."""
    folder = Path(os.path.abspath(data_dir))
    return folder.with_name(folder.name + ".key")


def key_file_for(data_dir: str | os.PathLike[str],
                 env: Mapping[str, str] | None = None) -> KeyFile:
    """The key file of a data folder where no secure storage is used (web mode, desktop,
    the CLI): ``SHIFT_KEY_FILE``, else `default_key_file` (docs/deployment.md §3)."""
    env = os.environ if env is None else env
    path = env.get("SHIFT_KEY_FILE")
    return KeyFile(Path(path).expanduser() if path else default_key_file(data_dir))
