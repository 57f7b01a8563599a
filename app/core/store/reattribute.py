"""Re-attribution: move the work of a local profile the server refused to the learner
who already holds the staff number (docs/sync-protocol.md §4.3, `staff_number_taken`).

Events are immutable, so nothing is rewritten: each event of the refused profile L is
copied as a NEW event of the existing learner E (new id, seq and device = this tablet;
same type, `at`, pack, ref and data, plus ``data.reattributed_from = <old id>``). The
copies enter the outbox like any local event. L's old events then leave the outbox
through `store.reject` with the reason "re-attributed to learner E" (kept, never lost),
and profile L is retired (off the tiles, a record kept in `profiles.retired()`).

Exactly once, even when interrupted: the plan L → E is a durable setting
(`reattribution_pending`) written before anything else and removed last; a re-run
skips events whose id already appears as `reattributed_from` in E's history, and
`reject`/`retire` ignore what is already done. Why wait for E's profile: the learner
must be able to sign in as E here (its PIN verifier comes with the pull) before her
work is moved there.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import StoreError

PENDING = "reattribution_pending"        # {old profile id: existing learner id}
NOTICES = "reattribution_notices"        # [learner id] — the who screen tells them once
FROM_KEY = "reattributed_from"
COPIED_FIELDS = ("type", "at", "pack", "pack_version", "ref")


def reason_for(to_id: str) -> str:
    return f"re-attributed to learner {to_id}"


def pending(store: Any) -> dict[str, str]:
    value = store.settings.get(PENDING, {})
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def plan(store: Any, from_id: str, to_id: str) -> bool:
    """Record (durably) that `from_id`'s work belongs to `to_id`. False when `from_id`
    is not a local profile (already retired) or the two are the same."""
    if not all(isinstance(x, str) and x for x in (from_id, to_id)) or from_id == to_id:
        raise StoreError(f"re-attribution {from_id!r} → {to_id!r}: expected two different ids")
    if store.profiles.get(from_id) is None:
        return False
    todo = pending(store)
    if todo.get(from_id) != to_id:
        todo[from_id] = to_id
        store.settings.set(PENDING, todo)
    return True


def ready(store: Any, to_id: str) -> bool:
    """The existing learner's profile, with its PIN verifier, is on this tablet."""
    profile = store.profiles.get(to_id)
    return profile is not None and not profile.get("needs_pin", True)


def run(store: Any, from_id: str, to_id: str) -> int:
    """Carry out one planned re-attribution; returns how many events were copied now
    (0 on a repeat). Safe to call again after an interruption at any point."""
    done = _copied(store, to_id)
    old_events = store.events(from_id)
    copied = 0
    for event in old_events:
        if event["id"] in done:
            continue
        fresh: dict[str, Any] = {k: event[k] for k in COPIED_FIELDS if k in event}
        fresh["learner"] = to_id
        fresh["data"] = {**(event.get("data") or {}), FROM_KEY: event["id"]}
        store.append(fresh)
        copied += 1
    why = reason_for(to_id)
    store.reject({e["id"]: why for e in old_events})
    store.profiles.retire(from_id, to_id)
    todo = pending(store)
    if todo.pop(from_id, None) is not None:      # first completion: tell her once
        notices = store.settings.get(NOTICES, [])
        notices = [n for n in notices if isinstance(n, str)] if isinstance(notices, list) \
            else []
        if to_id not in notices:
            notices.append(to_id)
        store.settings.update({PENDING: todo, NOTICES: notices})
    return copied


def run_ready(store: Any) -> dict[str, str]:
    """Run every planned re-attribution whose target profile has arrived. Returns
    {old id: learner id} of those carried out."""
    out = {}
    for from_id, to_id in pending(store).items():
        if ready(store, to_id):
            run(store, from_id, to_id)
            out[from_id] = to_id
    for record in store.profiles.retired():
        # work saved under a retired profile after it was moved (she was still signed
        # in on it during a background sync) follows the rest at the next sync
        from_id, to_id = record.get("id"), record.get("merged_into")
        if not isinstance(from_id, str) or not isinstance(to_id, str) or from_id in out:
            continue
        late = {e["id"] for e in store.events(from_id)} - _copied(store, to_id)
        if late and ready(store, to_id):
            run(store, from_id, to_id)
            out[from_id] = to_id
    return out


def _copied(store: Any, to_id: str) -> set[Any]:
    return {(e.get("data") or {}).get(FROM_KEY) for e in store.events(to_id)}


def take_notices(store: Any) -> list[str]:
    """Learner ids whose one-time "your work has been moved" notice is due; clears them."""
    notices = store.settings.get(NOTICES, [])
    if not isinstance(notices, list) or not notices:
        return []
    store.settings.set(NOTICES, [])
    return [n for n in notices if isinstance(n, str)]
