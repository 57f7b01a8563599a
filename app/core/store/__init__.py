"""The durable device store (TinyDB files, crash-safe): see docs/store.md.

    from app.core.store import Store
    store = Store.open(data_dir)
"""

from app.core.store.atomic import AtomicJSONStorage
from app.core.store.profiles import Profiles
from app.core.store.settings import Secret, Settings
from app.core.store.snapshots import HistoryMark, Snapshot
from app.core.store.store import JOURNAL_CAPACITY, SEGMENT_CAPACITY, Store

__all__ = ["AtomicJSONStorage", "HistoryMark", "JOURNAL_CAPACITY", "Profiles",
           "SEGMENT_CAPACITY", "Secret", "Settings", "Snapshot", "Store"]
