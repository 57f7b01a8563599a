"""Opening an encrypted store folder: check the key, encrypt a plaintext folder once
(crash-safely), and keep PIN lock-outs from being reset by editing or deleting files.

``store/sealed.json`` is itself a sealed file (sealed.py): opening it is the key check,
so a wrong key is a clear StoreError before any file is read, moved or written — never
a folder of "damaged" files. Its payload::

    {"state": "migrating" | "sealed", "lock_floor": <unix time>}

Cases on open (`open_sealed`):

* marker present — it must open with the key (else: wrong key, nothing touched);
* no marker, no files — a new folder: "migrating" (nothing to encrypt), the lock-out
  files made, then "sealed";
* no marker, plaintext files, a key made just now — the first open after an update:
  the marker says "migrating", every file is encrypted by an atomic replace (a crash
  leaves each file old or new; the next open carries on), then "sealed";
* no marker, plaintext files, an older key — refused (someone may have put plaintext
  files into an encrypted folder and removed the marker);
* no marker, sealed files — the marker was removed: recreated, with a lock floor.

Once "sealed", a plaintext file is never read (sealed.py moves it aside).

**Lock-outs.** The PIN failure counters live in ``profiles.json`` (learners) and
``settings.json`` (device admin PIN), both sealed: an edited file does not open. Both
files always exist in a sealed folder (made empty when the folder is sealed), so a file
that is missing, does not open, or was plaintext means tampering: the *lock floor* is set
to now + the longest lock-out (1 hour) and every PIN of the tablet waits until then
(fail closed). Rolling a file back to an older copy of itself cannot be detected without
a trusted counter (docs/security.md "Encryption at rest" says what that allows).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag

from app.core.errors import StoreError
from app.core.store.atomic import TEMP_MARK, atomic_write_bytes, encode_store_file
from app.core.store.keys import KeyProvider
from app.core.store.profiles import MAX_DELAY_SECONDS
from app.core.store.sealed import (
    Sealer,
    is_record_file,
    is_sealed,
    make_sealer,
    register,
    unregister,
)

log = logging.getLogger(__name__)

MARKER = "sealed.json"
#: files holding PIN lock-out counters: (name, TinyDB kind of an empty one)
GUARDED = (("profiles.json", "profiles"), ("settings.json", "settings"))
_SKIP = frozenset({"store.lock", MARKER})


@dataclass
class SealState:
    sealer: Sealer
    state: str
    lock_floor: float

    @property
    def marker(self) -> Path:
        return self.sealer.root / MARKER

    def write(self) -> None:
        atomic_write_bytes(self.marker, json.dumps(
            {"state": self.state, "lock_floor": self.lock_floor}).encode())


def store_files(root: Path) -> list[Path]:
    """Every file of the store folder but its lock, the marker and temp files."""
    out = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if (Path(folder) == root and name in _SKIP) or \
                    (name.startswith(".") and TEMP_MARK in name):
                continue
            out.append(path)
    return sorted(out)


def _survey(root: Path) -> tuple[bool, bool]:
    """(any plaintext file, any sealed file) in the folder (empty files are neither)."""
    plain = sealed = False
    for path in store_files(root):
        with open(path, "rb") as fh:
            head = fh.read(8)
        if head:
            sealed = sealed or is_sealed(head)
            plain = plain or not is_sealed(head)
    return plain, sealed


def _read_marker(sealer: Sealer, where: str, created: bool) -> dict[str, Any] | None:
    path = sealer.root / MARKER
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        payload = json.loads(sealer.open_file(path, raw)) if is_sealed(raw) else None
    except InvalidTag:
        hint = (f" A new key was just made ({where}): the key this folder was encrypted "
                "with is missing — restore it (docs/security.md \"Encryption at rest\")."
                if created else f" ({where})")
        raise StoreError(f"{sealer.root}: this data folder does not open with this key; "
                         f"nothing was read or changed.{hint}") from None
    if not isinstance(payload, dict) or payload.get("state") not in ("migrating", "sealed"):
        raise StoreError(f"{path}: not an encryption marker")
    return payload


def migrate(state: SealState, on_file: Callable[[Path], None] | None = None) -> int:
    """Encrypt every plaintext file of the folder, one atomic replace each; returns how
    many. Safe to interrupt and run again (sealed files are skipped)."""
    done = 0
    for path in store_files(state.sealer.root):
        raw = path.read_bytes()
        if not raw or is_sealed(raw):
            continue
        if is_record_file(path) and not raw.endswith(b"\n"):
            raw = raw[:raw.rfind(b"\n") + 1]     # a torn last line: as a repair cuts it
        atomic_write_bytes(path, raw, mode=path.stat().st_mode & 0o777)
        done += 1
        if on_file is not None:
            on_file(path)
    return done


def open_sealed(root: Path, keys: KeyProvider, *, clock: Callable[[], float] = time.time,
                on_file: Callable[[Path], None] | None = None) -> SealState:
    """Check the key, encrypt a plaintext folder (see the module docstring) and register
    the folder's Sealer. StoreError for a wrong or missing key, nothing touched."""
    data_key = keys.data_key()
    sealer = make_sealer(root, data_key.key)
    marker = _read_marker(sealer, data_key.where, data_key.created)
    if marker is None:
        plain, sealed = _survey(sealer.root)
        if sealed and data_key.created:
            raise StoreError(f"{root}: the files are encrypted but the key was just made "
                             f"({data_key.where}): the original key is missing; nothing "
                             "was changed")
        if plain and not data_key.created:
            raise StoreError(f"{root}: holds unencrypted files but its key already exists "
                             f"({data_key.where}); refused (plaintext is never trusted in an "
                             "encrypted folder). If an update's first start was interrupted "
                             "before it began encrypting, remove the key file and start "
                             "again (docs/security.md \"Encryption at rest\")")
        floor = clock() + MAX_DELAY_SECONDS if sealed else 0.0
        if sealed:
            log.error("%s: the encryption marker was missing; PINs wait until %s", root, floor)
        # a new or plaintext folder is "migrating" until every file is sealed and the
        # lock-out files exist: a crash at any step is carried on by the next open
        marker = {"state": "sealed" if sealed else "migrating", "lock_floor": floor}
    state = SealState(sealer, str(marker["state"]), float(marker.get("lock_floor") or 0.0))
    register(sealer)
    try:
        if state.state == "migrating" or not state.marker.exists():
            state.write()                   # migrating: plaintext may still be met
            count = migrate(state, on_file)
            if count:
                log.info("%s: encrypted %d file(s) of the store folder", root, count)
            for name, kind in GUARDED:
                if not (sealer.root / name).exists():
                    atomic_write_bytes(sealer.root / name, encode_store_file({}, kind))
            state.state = "sealed"
            state.write()
    except BaseException:
        unregister(root)
        raise
    return state


def check_guarded(state: SealState, clock: Callable[[], float] = time.time) -> float:
    """After the store read its files: a lock-out file that was moved aside (did not
    open, or was plaintext) or is missing sets the lock floor (fail closed); returns it."""
    root = state.sealer.root
    names = {name for name, _kind in GUARDED}
    hit = sorted({d.path.name for d in state.sealer.damaged
                  if d.path.parent == root and d.path.name in names}
                 | {name for name in names if not (root / name).exists()})
    if hit:
        state.lock_floor = max(state.lock_floor, clock() + MAX_DELAY_SECONDS)
        log.error("%s: lock-out file(s) %s tampered with or missing: every PIN of this "
                  "tablet waits until %s", root, ", ".join(hit), state.lock_floor)
        for name, kind in GUARDED:
            if not (root / name).exists():
                atomic_write_bytes(root / name, encode_store_file({}, kind))
        state.write()
    return state.lock_floor


def close_sealed(state: SealState | None) -> None:
    if state is not None:
        unregister(state.sealer.root)
