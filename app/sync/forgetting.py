"""What the server tells a tablet to forget (docs/sync-protocol.md §4.7, docs/privacy.md):

* tombstones of learners erased on the server → `erase` purges each of them
  (app/core/store/erasure.py);
* ``device_revoked`` → `revoked` wipes every learner's data (app/core/store/wipe.py),
  resets the pull cursors (a re-enrolled tablet pulls its learners' progress back) and
  moves the device token aside — last, so a crash half-way hears ``device_revoked``
  again. The revoked token opens nothing on the server any more; it is kept only as the
  tablet's proof of its device id when an admin re-admits it with a new enrolment code
  (without it, re-enrolment would be refused as "device id taken").
"""

from __future__ import annotations

import logging
from typing import Any

from app.core.application.sync_report import SyncReport
from app.core.store import Store, erasure, wipe

log = logging.getLogger(__name__)


def erase(store: Store, tombstones: list[Any], report: SyncReport) -> None:
    """Purge the learners the server erased: their events, outbox entries, profile and
    caches leave this tablet before the cursor moves past the tombstone."""
    ids = [t.get("learner") for t in tombstones if isinstance(t, dict)]
    done = erasure.purge(store, ids)
    if done.learners:
        report.notes.append(f"{len(done.learners)} learner(s) erased on the server were "
                            "removed from this tablet")


def revoked(store: Store, *, token_secret: str, proof_secret: str,
            cursors: tuple[str, ...]) -> wipe.WipeReport:
    """The server revoked this tablet: wipe the learners' data, then set the token aside
    as the re-enrolment proof (module docstring)."""
    done = wipe.wipe_learner_data(store)
    store.settings.update({key: 0 for key in cursors})
    token = store.settings.get_secret(token_secret)
    if token is not None:
        store.settings.set_secret(proof_secret, token.reveal())
        store.settings.set_secret(token_secret, None)
    log.warning("this tablet was revoked by the server: removed the data of %d learner(s), "
                "%d event(s), %d of them never sent", done.learners, done.events, done.unsent)
    return done
