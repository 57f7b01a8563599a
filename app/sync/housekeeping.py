"""What a sync does for the tablet once the events were exchanged, in its worker thread
(so nobody waits for it):

* the fold snapshots the pull made due are refreshed (app/core/learning/upkeep.py), so
  no sign-in pays for folding what came from other tablets.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.core.learning import upkeep
from app.core.store import Store


def after_sync(store: Store, merged_learners: Iterable[str]) -> None:
    """`merged_learners`: the learners whose events this sync's pull merged."""
    upkeep.refresh_due(store, sorted(set(merged_learners)))
