"""What a sync does for the tablet once the events were exchanged, in its worker thread
(so nobody waits for it):

* the fold snapshots the pull made due are refreshed (app/core/learning/upkeep.py), so
  no sign-in pays for folding what came from other tablets;
* once a day, raw events older than the retention period that the server has are aged
  out, their effect on the learners' progress kept (app/core/learning/retention.py).

Neither may fail the sync: the events are exchanged already; a failure is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from app.core.clock import now_utc
from app.core.errors import StoreError
from app.core.learning import retention, upkeep
from app.core.store import Store

log = logging.getLogger(__name__)


def after_sync(store: Store, merged_learners: Iterable[str]) -> None:
    """`merged_learners`: the learners whose events this sync's pull merged."""
    try:
        upkeep.refresh_due(store, sorted(set(merged_learners)))
        retention.run(store, now=now_utc())
    except StoreError as exc:      # e.g. the disk is full: the next sync tries again
        log.warning("after the sync: %s", exc)
