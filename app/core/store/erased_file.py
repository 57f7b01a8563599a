"""`erased.json`: the learners erased on the server that this tablet has purged or is
purging (app/core/store/erasure.py). Read by `Store.open` so that `append` refuses and
`merge` ignores their events from the first moment on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.errors import StoreError
from app.core.store.atomic import atomic_write_bytes, encode_store_file, load_tables

FILE = "erased.json"
KIND = "erased"
TABLE = "erased"


def read_rows(root: Path) -> dict[str, dict[str, Any]]:
    """{key: {"learner", "at", "done"}} of the store folder `root`."""
    tables = load_tables(root / FILE, KIND) or {}
    table = tables.get(TABLE, {})
    if not isinstance(table, dict):
        raise StoreError(f"{root / FILE}: {TABLE}: expected a table")
    return {str(k): v for k, v in table.items() if isinstance(v, dict)
            and isinstance(v.get("learner"), str)}


def write_rows(root: Path, rows: dict[str, dict[str, Any]]) -> None:
    atomic_write_bytes(root / FILE, encode_store_file({TABLE: rows}, KIND))


def erased_ids(root: Path) -> frozenset[str]:
    """Every learner erased on this tablet."""
    return frozenset(r["learner"] for r in read_rows(root).values())
