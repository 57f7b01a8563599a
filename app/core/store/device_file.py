"""``device.json``: this data folder's device id and segment size, made once.

The device id (``dev-`` + 32 hex digits) stamps every local event and names the tablet to
the server; it never changes for a data folder. The segment size is fixed per folder too:
event counts rely on full segments (segments.py).

A folder that already holds data but whose file is gone — an encrypted folder moves a
file that does not open aside — is not made anew with a fresh id and the default size:
the size would then miscount every learner's segments (a rewrite "got 18 documents,
expected 762"). Both are found again in what the folder holds (`_recovered`).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from pathlib import Path

from app.core.clock import now_iso
from app.core.errors import StoreError
from app.core.store import segment_rewrite
from app.core.store.atomic import AtomicJSONStorage, load_tables
from app.core.store.journal import Journal

log = logging.getLogger("app.core.store.store")


def load_device_file(root: Path, segment_capacity: int, *,
                     recorded_default: int) -> tuple[str, int]:
    """(device id, segment capacity) of the store folder `root`, made on first open with
    a new id and `segment_capacity`; a file from before the capacity was recorded has
    `recorded_default`. StoreError when the file is damaged."""
    storage = AtomicJSONStorage(root / "device.json", "device")
    existed = (root / "device.json").exists()      # (a read may move it aside)
    tables = storage.read()
    if tables is None:
        found_id, capacity = None, segment_capacity
        segments = _segment_files(root)
        if existed or any(segments.values()) or Journal(root / "journal", 1).numbers():
            found_id, capacity = _recovered(root, segments, recorded_default)
            log.error("%s: missing or unreadable in a folder that holds data; made again "
                      "from it: %s, segment size %d", root / "device.json",
                      found_id or "no local event names this device: a new id (enrol the "
                      "tablet again)", capacity)
        device_id = found_id or "dev-" + uuid.uuid4().hex
        storage.write({"device": {"1": {"id": device_id, "created_at": now_iso(),
                                        "segment_capacity": capacity}}})
        return device_id, capacity
    doc = tables.get("device", {}).get("1", {})
    found = doc.get("id") if isinstance(doc, dict) else None
    if not isinstance(found, str) or not found.startswith("dev-"):
        raise StoreError(f"{root / 'device.json'}: device.id: missing or malformed")
    capacity = doc.get("segment_capacity", recorded_default)
    if not isinstance(capacity, int) or capacity < 1:
        raise StoreError(f"{root / 'device.json'}: device.segment_capacity: malformed")
    return found, capacity


def _segment_files(root: Path) -> dict[Path, list[Path]]:
    """Each learner folder's segment files, in order."""
    folders = (root / "learners").iterdir() if (root / "learners").is_dir() else []
    return {f: [f / f"{n:06d}.json" for n in segment_rewrite.listed(f)]
            for f in folders if f.is_dir()}


def _recovered(root: Path, segments: dict[Path, list[Path]], default: int
               ) -> tuple[str | None, int]:
    """(device id, segment size) as the folder's own data says: the id that stamps its
    local events (every journal event is local; in the segments, ``local: true``), the
    size of its learners' full segments — every segment but a learner's last is full —
    or, with none full, the default or the largest segment if that holds more (a
    segment never holds more than the size; positions in a learner's only segment do
    not depend on it). Files that do not read are passed."""
    ids: Counter[str] = Counter()
    journal = Journal(root / "journal", 1)
    for number in journal.numbers():
        try:
            ids.update(str(e.get("device")) for e in journal.read(number).events)
        except StoreError:
            continue
    capacity = largest = 0
    for files in segments.values():
        for index, path in enumerate(files):
            try:
                docs = (load_tables(path, segment_rewrite.KIND) or {}).get("events", {})
            except StoreError:
                continue
            largest = max(largest, len(docs))
            if index < len(files) - 1:
                capacity = max(capacity, len(docs))
            if not ids:
                ids.update(str(d["event"].get("device")) for d in docs.values()
                           if isinstance(d, dict) and d.get("local")
                           and isinstance(d.get("event"), dict))
    found = next((i for i, _ in ids.most_common() if i.startswith("dev-")), None)
    return found, capacity or max(default, largest)
