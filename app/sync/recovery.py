"""When the server was restored from a backup: pull everything again and offer this
tablet's history, so the server gets back what it had acknowledged after the backup
(docs/sync-protocol.md §4.5, docs/sync-client.md "After a server restore").

Why it is needed: acknowledged events leave the outbox (they stay in the history). A
server restored from last night's backup has lost what tablets pushed since, and the
pull cursors the tablets hold point past its last event, so without this step those
events would be missing on the server for good and the tablets would skip the first
events pushed after the restore.

How it is noticed: every pull answer carries `server_epoch`, a random id that a restore
replaces. The tablet keeps the last one it saw (setting `server_epoch`). A different
value means a restore (or another server at the same address):

1. every local profile becomes pending push again (a pull that brings the server's copy
   clears that again — only what the server lacks goes up);
2. both pull cursors go back to 0 — merging is a set union by id, so pulling again
   changes nothing but fills in what this tablet missed;
3. the plan `reoffer_pending = {"epoch": E, "after": ""}` is saved — one settings write
   with 1 and 2, so a crash cannot leave half of it;
4. after the normal push, every event in the history (own and pulled, learner by learner
   in id order) is pushed again; the server answers `duplicate` for what it has and
   stores what it lost. A learner's `certificate.received` events go first: the server
   puts those certificates back under their own ids (sync_server/admin/issuing.py)
   before it sees the completion, so it does not issue a second one. `after` moves past
   each learner once the server has answered for all of their events; an interrupted
   re-offer resumes there. When every learner is done the plan is removed.

Nothing is sent twice in the outbox sense: the outbox is untouched (ids the re-offer got
acknowledged are dropped from it), and the server stores each id once. Events the server
refuses during a re-offer (e.g. of a learner of another facility) are only counted.
"""

from __future__ import annotations

import re
from typing import Any

from app.core.errors import SyncProtocolError

EPOCH = "server_epoch"
PENDING = "reoffer_pending"
EPOCH_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CERTIFICATE = "certificate.received"


def epoch_of(answer: dict[str, Any]) -> str | None:
    """The pull answer's `server_epoch` (None from a server that sends none)."""
    value = answer.get("server_epoch")
    if value is None:
        return None
    if not isinstance(value, str) or not EPOCH_RE.match(value):
        raise SyncProtocolError("pull.server_epoch: expected 1-64 letters, digits, - or _")
    return value


def observe(store: Any, epoch: str, cursor_keys: tuple[str, ...]) -> bool:
    """Compare the server's epoch with the one seen before. True when the server was
    restored: then profiles are pending push, the cursors are 0 and a re-offer is planned
    (all durable). The first epoch a tablet sees is only recorded."""
    settings = store.settings
    known = settings.get(EPOCH, None)
    if known == epoch:
        return False
    if known is None:
        settings.set(EPOCH, epoch)
        return False
    store.profiles.mark_all_pending()
    settings.update({EPOCH: epoch, **dict.fromkeys(cursor_keys, 0),
                     PENDING: {"epoch": epoch, "after": ""}})
    return True


def pending(store: Any) -> dict[str, str] | None:
    plan = store.settings.get(PENDING, None)
    if (isinstance(plan, dict) and isinstance(plan.get("epoch"), str)
            and isinstance(plan.get("after"), str)):
        return {"epoch": plan["epoch"], "after": plan["after"]}
    return None


def learners_left(store: Any, plan: dict[str, str]) -> list[str]:
    """Learners whose history is still to be offered, in id order."""
    return [lid for lid in store.learner_ids() if lid > plan["after"]]


def offer_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A learner's events with the certificates first (see the module docstring)."""
    return sorted(events, key=lambda e: e.get("type") != CERTIFICATE)


def learner_done(store: Any, plan: dict[str, str], learner_id: str) -> None:
    plan["after"] = learner_id
    store.settings.set(PENDING, dict(plan))


def finish(store: Any) -> None:
    store.settings.delete(PENDING)
