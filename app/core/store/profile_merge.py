"""Profiles pulled from the server: checked, then merged into the tablet's copy.

Pure functions (a document in, a document out) used by ``Profiles.upsert_remote``
(app/core/store/profiles.py, which holds the lock and writes the file):

* fields (name, staff number, role, language) — the latest ``updated_at`` wins; a newer
  local change is kept until it is pushed;
* the PIN — the server's verifier wins, unless a local PIN change is still pending against
  exactly the verifier (or, for a first PIN, the set-up code) the server still has
  (docs/sync-protocol.md §4.3); lock-out state stays local.
"""

from __future__ import annotations

from typing import Any

from app.core import pins, profile_rules
from app.core.clock import now_iso
from app.core.errors import StoreError
from app.core.events import parse_at


def _stamp(raw: dict[str, Any], name: str, where: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    try:
        parse_at(value)
    except StoreError as exc:
        raise StoreError(f"{where}.{name}: {exc}") from None
    return str(value)


def check_remote(raw: object, where: str) -> dict[str, Any]:
    """One profile as the server sends it, checked by the shared rules (StoreError names
    ``<where>.<field>``)."""
    if not isinstance(raw, dict):
        raise StoreError(f"{where}: expected an object")
    if "pin" in raw:
        raise StoreError(f"{where}.pin: a clear-text PIN is never accepted")
    clean: dict[str, Any] = {"id": profile_rules.learner_id(raw.get("id"), f"{where}.id")}
    clean.update(profile_rules.check_fields(raw, where))
    for name in ("pin_verifier", "pin_setup_verifier"):
        value = raw.get(name)
        clean[name] = None if value is None else profile_rules.pin_verifier(value, f"{where}.{name}")
    for stamp in ("created_at", "updated_at", "pin_setup_expires_at"):
        clean[stamp] = _stamp(raw, stamp, where)
    return clean


def setup_of(clean: dict[str, Any]) -> dict[str, Any] | None:
    if clean.get("pin_verifier") or not clean.get("pin_setup_verifier"):
        return None
    return {"verifier": clean["pin_setup_verifier"],
            "expires_at": clean.get("pin_setup_expires_at")}


def new_remote(clean: dict[str, Any]) -> dict[str, Any]:
    now = now_iso()
    fields = {k: clean[k] for k in ("id", *profile_rules.FIELDS)}
    return {**fields, "created_at": clean["created_at"] or now,
            "updated_at": clean["updated_at"] or now, "pin_verifier": clean["pin_verifier"],
            "pin_setup": setup_of(clean), "pin_change": None, "failed_attempts": 0,
            "locked_until": 0.0, "rev": 0, "dirty": False}


def merge_remote(old: dict[str, Any], clean: dict[str, Any],
                  server_pin_wins: bool) -> dict[str, Any]:
    new = dict(old)
    # fields: the latest updated_at wins; a newer local change waits for its push
    if not (old.get("dirty") and old.get("updated_at", "") > (clean["updated_at"] or "")):
        new.update({k: clean[k] for k in profile_rules.FIELDS}, dirty=False)
        for stamp in ("created_at", "updated_at"):
            if clean[stamp]:
                new[stamp] = clean[stamp]
    # the PIN: the server's verifier, unless our change is pending against it
    remote, setup = clean["pin_verifier"], setup_of(clean)
    change = old.get("pin_change")
    if change and not server_pin_wins and still_pending(change, remote, setup):
        return new
    if not pins.same(remote, old.get("pin_verifier")):
        new["pin_verifier"] = remote
    new.update(pin_setup=setup, pin_change=None)
    return new


def still_pending(change: dict[str, Any], remote: str | None,
                   setup: dict[str, Any] | None) -> bool:
    """Whether the server still has what a local PIN change was proven against."""
    if remote is None:
        return (change.get("base") is None and setup is not None
                and change.get("setup") == setup["verifier"])
    return pins.same(remote, change.get("base"))
