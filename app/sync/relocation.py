"""A tablet enrolled into another facility, or by another server, than before.

What it held of the previous facility goes before the new token is kept — the learners'
profiles, events (unsent ones too), snapshots and logs: a wipe, as for a revoked tablet
(app/core/store/wipe.py, docs/privacy.md §4). Their staff's records must not travel to
another prison or another server, and nothing of them could be delivered any more: their
pushes would be refused as another facility's learners, or go to a server that never knew
them (which would register them in the new facility). The sync state starts afresh: the
pull cursors (numbers of the previous facility's or server's log), the server epoch
(another server's would read as "restored from a backup") and any re-offer plan. A crash
half-way is finished when the device opens its folder (wipe.finish_pending).
"""

from __future__ import annotations

from typing import Any

from app.core.store import Store, wipe
from app.sync import recovery

#: (the server the token came from, the facility) as enrolled before
Enrolled = tuple[str | None, str | None]


def enrolled(settings: Any, token_server_key: str, server_url: str | None) -> Enrolled:
    return settings.get(token_server_key, None) or server_url, settings.get("facility_id", None)


def moved(was: Enrolled, server_url: str, facility_id: str) -> bool:
    """Whether an enrolment at `server_url` into `facility_id` leaves the one before."""
    return was[1] is not None and (was[1] != facility_id or was[0] != server_url)


def leave(store: Store, sync_keys: tuple[str, ...]) -> dict[str, str]:
    """Wipe what the tablet held of the previous facility; forget its sync state."""
    report = wipe.wipe_learner_data(store, reason="enrolled elsewhere")
    for key in (*sync_keys, recovery.EPOCH, recovery.PENDING):
        store.settings.delete(key)
    return {"left_learners": str(report.learners), "left_unsent": str(report.unsent)}
