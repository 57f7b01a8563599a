"""``device.json``: this data folder's device id and segment size, made once.

The device id (``dev-`` + 32 hex digits) stamps every local event and names the tablet to
the server; it never changes for a data folder. The segment size is fixed per folder too:
event counts rely on full segments (segments.py).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from app.core.clock import now_iso
from app.core.errors import StoreError
from app.core.store.atomic import AtomicJSONStorage


def load_device_file(root: Path, segment_capacity: int, *,
                     recorded_default: int) -> tuple[str, int]:
    """(device id, segment capacity) of the store folder `root`, made on first open with
    a new id and `segment_capacity`; a file from before the capacity was recorded has
    `recorded_default`. StoreError when the file is damaged."""
    storage = AtomicJSONStorage(root / "device.json", "device")
    tables = storage.read()
    if tables is None:
        device_id = "dev-" + uuid.uuid4().hex
        storage.write({"device": {"1": {"id": device_id, "created_at": now_iso(),
                                        "segment_capacity": segment_capacity}}})
        return device_id, segment_capacity
    doc = tables.get("device", {}).get("1", {})
    found = doc.get("id") if isinstance(doc, dict) else None
    if not isinstance(found, str) or not found.startswith("dev-"):
        raise StoreError(f"{root / 'device.json'}: device.id: missing or malformed")
    capacity = doc.get("segment_capacity", recorded_default)
    if not isinstance(capacity, int) or capacity < 1:
        raise StoreError(f"{root / 'device.json'}: device.segment_capacity: malformed")
    return found, capacity
