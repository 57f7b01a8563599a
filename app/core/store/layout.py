"""The store's data folder: what lives where, and making the folders.

Layout (all under ``<data_dir>/store/``; docs/store.md has the why and the measurements)::

    store.lock            exclusive lock while a Store is open (lock.py)
    device.json           the device id, made once (device_file.py)
    journal/NNNNNNNN.log  append journal of local events = the outbox (journal.py)
    journal/index.log     ids of each closed journal file: the outbox index (journal.py)
    learners/<key>/NNNNNN.json   per-learner TinyDB segments (segments.py)
    learners/<key>/<name>.snap   a learner's fold snapshot (snapshots.py)
    index/ids.bin ids.log        id → (learner, position) of every stored event (idindex.py)
    outbox.json           ids acknowledged while their journal file still exists + last seq
    rejected.json         events the server rejected, with the reason (rejected.py)
    conflicts.json        pulled events whose id was stored with other content (conflicts.py)
    quarantine.json       pulled items refused as malformed or over the limits (quarantine.py)
    profiles.json settings.json secrets.json
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from app.core.errors import StoreError
from app.core.store.atomic import clean_stale_temps, fsync_dir

SUBFOLDERS = ("journal", "learners", "index")


def store_root(data_dir: str | os.PathLike[str]) -> Path:
    """``<data_dir>/store``, made if missing (StoreError when it cannot be)."""
    root = Path(data_dir) / "store"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise StoreError(f"{data_dir}: not a folder") from None
    except OSError as exc:
        raise StoreError(f"{root}: cannot create the store folder: {exc.strerror}") from exc
    return root


def prepare_folders(root: Path) -> None:
    """Make the store's folders (durably: a new folder survives a power loss) and remove
    the temporary files an interrupted atomic write left in them."""
    created = False
    for folder in (root, *(root / name for name in SUBFOLDERS)):
        if not folder.is_dir():
            folder.mkdir()
            created = True
        clean_stale_temps(folder)
    if created:
        fsync_dir(root.parent)
        fsync_dir(root)


def folder_bytes(root: Path) -> int:
    """Bytes of every file under `root` (files vanishing meanwhile are skipped)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(dirpath, name))
    return total
