"""Wipe every learner's data from a tablet the server revoked (docs/privacy.md §4).

An admin revokes a tablet that was lost, stolen or taken out of service. At its next
contact the server answers its token with ``device_revoked`` (never to anyone else: only
the holder of the real token gets that answer), and the tablet removes everything
personal it holds:

* every learner's events — segments, fold snapshots, the journal files (= the outbox:
  events not yet sent are lost on purpose: the server refuses a revoked tablet's pushes)
  and the id and journal indexes;
* every profile (with its PIN verifier and lock-out counters) and retired record, the
  per-learner display preferences, re-attribution plans and notices;
* the rejected, conflict and quarantine logs (they hold events);
* the device token (done by the caller, last: see below).

Kept: the device id and the device's own settings (server address, facility, the device
admin PIN — what an admin needs to enrol the tablet again), installed packs (content,
not personal data) and the list of learners erased on the server (ids only; it keeps a
re-enrolled tablet from taking an erased learner's events back).

Unlike an erasure (erasure.py) nothing is recorded as erased: the learners are fine on
the server, and a re-enrolled tablet pulls their progress back.

Crash safety: ``wipe.json`` is written first and removed last; `finish_pending` (called
when the device opens its data folder) completes a wipe a crash interrupted, even with
no network. The caller drops the token only after the wipe, so a tablet that crashed
half-way hears ``device_revoked`` again at its next sync.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.clock import now_iso
from app.core.store import erasure, reattribute
from app.core.store.atomic import atomic_write_bytes, fsync_dir

if TYPE_CHECKING:
    from app.core.store.store import Store

MARKER = "wipe.json"
#: per-learner settings (learner id → …) that go with the learners
LEARNER_SETTINGS = (erasure.LEARNER_DISPLAY, reattribute.PENDING, reattribute.NOTICES)


@dataclass
class WipeReport:
    learners: int = 0       # learners whose data left the tablet
    events: int = 0         # their events (segments + journal)
    unsent: int = 0         # of them, never received by the server


def pending(store: Store) -> bool:
    """Did a wipe start and not finish (a crash half-way)?"""
    return (store.root / MARKER).exists()


def wipe_learner_data(store: Store, reason: str = "device_revoked") -> WipeReport:
    """Remove every learner's data from `store` (module docstring). Idempotent."""
    with store._lock:
        store._check_open()
        marker = store.root / MARKER
        if not marker.exists():
            body = {"reason": reason[:64], "at": now_iso()}
            atomic_write_bytes(marker, json.dumps(body).encode())
        report = _wipe(store)
        marker.unlink()
        fsync_dir(store.root)
        return report


def finish_pending(store: Store) -> WipeReport | None:
    """Complete an interrupted wipe (None when there is none)."""
    return wipe_learner_data(store) if pending(store) else None


def _learners(store: Store) -> set[str]:
    """Every learner id the tablet holds something of: events (the open journal is
    folded into the segments first, by `erasure._purge_events`), profiles, retired."""
    ids = set(store._learners.learner_ids())
    tables = store.profiles._storage.read() or {}
    for table in ("profiles", "retired"):
        for doc in tables.get(table, {}).values():
            if isinstance(doc, dict) and isinstance(doc.get("id"), str):
                ids.add(doc["id"])
    for journal_number in store._journal.numbers():
        for event in store._journal.read(journal_number).events:
            if isinstance(event.get("learner"), str):
                ids.add(event["learner"])
    return ids


def _wipe(store: Store) -> WipeReport:
    gone = _learners(store)
    report = WipeReport(learners=len(gone))
    if gone:
        report.events, report.unsent = erasure._purge_events(store, gone)
    # what no learner id leads to any more: a folder whose segments a wipe cut short had
    # already deleted (its snapshots stay behind: `_learners` finds no one there)
    folder = store._learners.folder
    if folder.is_dir():
        left = [d for d in folder.iterdir() if d.is_dir()]
        for d in left:
            shutil.rmtree(d)
        if left:
            fsync_dir(folder)
    erasure.drop_damaged_copies(store)
    _clear_logs(store)
    store.profiles._storage.write({})            # profiles, retired, lock-out counters
    store.profiles._pushed_revs.clear()
    for key in LEARNER_SETTINGS:
        store.settings.delete(key)
    return report


def _clear_logs(store: Store) -> None:
    rejected = store._rejected
    if rejected._db is not None:
        rejected._db.table("rejected").truncate()
        rejected.ids = set()
    everything: Any = lambda _row: True          # noqa: E731 - one-line predicate
    erasure._rewrite(store._conflicts, "conflicts", everything)
    erasure._rewrite(store._quarantine, "quarantine", everything)
