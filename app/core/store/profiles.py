"""Learner profiles on a shared tablet: who may sign in, with which PIN.

One small TinyDB file (``profiles.json``, table ``profiles``), written with the atomic
storage. PINs are never stored: only a portable scrypt verifier (pins.py). Wrong PINs
lock the profile with a growing delay, persisted in the file so a restart does not reset
it: the first FREE_TRIES failures cost nothing, then 30 s, 60 s, 120 s … up to 1 hour.
A correct PIN resets the count.

A profile registered by an admin on the server arrives without a verifier ("needs a
PIN"): nobody can sign in to it until the learner sets a first PIN here
(`set_first_pin`), which only works while no PIN is set.

Profiles made or changed here are "pending push" until the sync client calls
`mark_pushed`; `rev` guards against a change made between `pending_push()` and
`mark_pushed()` being marked as pushed.
"""

from __future__ import annotations

import builtins
import math
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from app.core.errors import AuthError, PinLockedError, PinNotSetError, StoreError
from app.core.events import new_id, parse_at, utc_now_iso
from app.core.store import pins, validate
from app.core.store.atomic import AtomicJSONStorage

FREE_TRIES = 3
FIRST_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 3600
PUBLIC_FIELDS = ("id", "display_name", "staff_number", "role", "language",
                 "created_at", "updated_at")
EDITABLE = {"display_name": validate.display_name, "staff_number": validate.staff_number,
            "role": validate.role, "language": validate.language}


def lock_delay(failures: int) -> int:
    """Seconds to wait after `failures` consecutive wrong PINs."""
    if failures < FREE_TRIES:
        return 0
    delay: int = FIRST_DELAY_SECONDS * 2 ** min(failures - FREE_TRIES, 20)  # `**` types as Any
    return min(delay, MAX_DELAY_SECONDS)


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """Public fields plus `needs_pin` (True until a PIN verifier is set)."""
    out = {k: doc[k] for k in PUBLIC_FIELDS if k in doc}
    out["needs_pin"] = not doc.get("pin_verifier")
    return out


class Profiles:
    def __init__(self, path: Path, lock: threading.RLock,
                 clock: Callable[[], float] = time.time) -> None:
        self._storage = AtomicJSONStorage(path, "profiles")
        self._lock = lock
        self._clock = clock
        self._pushed_revs: dict[str, int] = {}
        self._storage.read()  # fail early on a damaged file

    # -- file access ---------------------------------------------------------------
    def _table(self) -> dict[str, dict[str, Any]]:
        return (self._storage.read() or {}).get("profiles", {})

    def _find(self, profile_id: str) -> tuple[str, dict[str, Any]] | None:
        for key, doc in self._table().items():
            if doc.get("id") == profile_id:
                return key, doc
        return None

    def _require(self, profile_id: object) -> tuple[str, dict[str, Any]]:
        found = self._find(profile_id) if isinstance(profile_id, str) else None
        if found is None:
            raise StoreError(f"profile {profile_id!r}: not found")
        return found

    def _save(self, changes: dict[str, dict[str, Any]]) -> None:
        """Write changed/new documents (TinyDB doc key -> document) in one atomic write."""
        tables = self._storage.read() or {}
        table = dict(tables.get("profiles", {}))
        table.update(changes)
        self._storage.write({**tables, "profiles": table})

    def _new_key(self, table: dict[str, Any]) -> str:
        return str(max((int(k) for k in table), default=0) + 1)

    def _check_staff_unique(self, staff: str, profile_id: str | None) -> None:
        for doc in self._table().values():
            if doc.get("staff_number") == staff and doc.get("id") != profile_id:
                raise StoreError(f"staff_number: {staff!r} is already used by another profile")

    # -- public API ------------------------------------------------------------------
    def create(self, display_name: str, staff_number: str, role: str, language: str,
               pin: str) -> dict[str, Any]:
        """A new local profile (id = new learner UUID); pending push to the server."""
        doc: dict[str, Any] = {
            "id": new_id(),
            "display_name": validate.display_name(display_name),
            "staff_number": validate.staff_number(staff_number),
            "role": validate.role(role),
            "language": validate.language(language),
        }
        verifier = pins.make_verifier(pins.check_pin_format(pin))
        now = utc_now_iso()
        doc.update(pin_verifier=verifier, created_at=now, updated_at=now, failed_attempts=0,
                   locked_until=0.0, rev=1, dirty=True)
        with self._lock:
            self._check_staff_unique(doc["staff_number"], None)
            self._save({self._new_key(self._table()): doc})
        return _public(doc)

    def list(self) -> list[dict[str, Any]]:
        """All profiles, by display name; no PIN verifiers or lock-out state, but
        `needs_pin` (the learner must set a first PIN before signing in)."""
        with self._lock:
            docs = [_public(d) for d in self._table().values()]
        return sorted(docs, key=lambda d: (d["display_name"].casefold(), d["id"]))

    def get(self, profile_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._find(profile_id) if isinstance(profile_id, str) else None
            return _public(found[1]) if found else None

    def update(self, profile_id: str, **fields: Any) -> dict[str, Any]:
        """Change display_name, staff_number, role and/or language (not the PIN)."""
        clean: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "pin" or name == "pin_verifier":
                raise StoreError(f"{name}: change a PIN with set_pin(id, old, new)")
            if name not in EDITABLE:
                raise StoreError(f"{name}: not a field that can be changed; "
                                 f"allowed: {', '.join(EDITABLE)}")
            clean[name] = EDITABLE[name](value)
        with self._lock:
            key, doc = self._require(profile_id)
            if "staff_number" in clean:
                self._check_staff_unique(clean["staff_number"], profile_id)
            if not clean:
                return _public(doc)
            new = {**doc, **clean, "updated_at": utc_now_iso(), "rev": doc.get("rev", 0) + 1,
                   "dirty": True}
            self._save({key: new})
            return _public(new)

    def verify_pin(self, profile_id: str, pin: str) -> bool:
        """True for the right PIN; AuthError for a wrong one, PinLockedError (an
        AuthError with `wait_seconds`) while locked. Failures are persisted."""
        with self._lock:
            found = self._find(profile_id) if isinstance(profile_id, str) else None
            if found is None:
                raise AuthError("unknown profile")
            _key, doc = found
            verifier = doc.get("pin_verifier")
            if not verifier:
                raise PinNotSetError("this profile has no PIN yet: set your first PIN")
            self._raise_if_locked(doc)
        if not isinstance(pin, str) or not pins.PIN_RE.match(pin):
            raise AuthError("a PIN is 4 to 8 digits")
        ok = pins.verify(verifier, pin)  # slow on purpose: outside the store lock
        with self._lock:
            key, doc = self._require(profile_id)
            self._raise_if_locked(doc)  # another thread may have failed meanwhile
            if ok:
                if doc.get("failed_attempts") or doc.get("locked_until"):
                    self._save({key: {**doc, "failed_attempts": 0, "locked_until": 0.0}})
                return True
            failures = int(doc.get("failed_attempts", 0)) + 1
            delay = lock_delay(failures)
            self._save({key: {**doc, "failed_attempts": failures,
                              "locked_until": self._clock() + delay if delay else 0.0}})
        if delay:
            raise PinLockedError(f"wrong PIN; locked: try again in {delay} seconds",
                                 wait_seconds=delay)
        left = FREE_TRIES - failures
        raise AuthError(f"wrong PIN; {left} more {'try' if left == 1 else 'tries'} "
                        f"before a {FIRST_DELAY_SECONDS} second wait")

    def locked_seconds(self, profile_id: str) -> int:
        """Seconds left before this profile may try a PIN again (0 = not locked)."""
        with self._lock:
            _key, doc = self._require(profile_id)
            return self._wait_of(doc)

    def _wait_of(self, doc: dict[str, Any]) -> int:
        until = float(doc.get("locked_until") or 0.0)
        now = self._clock()
        # a clock set back must not lock a profile for longer than the longest delay
        return max(0, min(math.ceil(until - now), MAX_DELAY_SECONDS))

    def _raise_if_locked(self, doc: dict[str, Any]) -> None:
        wait = self._wait_of(doc)
        if wait > 0:
            raise PinLockedError(f"too many wrong PINs: try again in {wait} seconds",
                                 wait_seconds=wait)

    def set_pin(self, profile_id: str, old: str, new: str) -> None:
        """Change the PIN after checking the old one (a wrong old PIN counts as a try)."""
        pins.check_pin_format(new, "new PIN")
        self.verify_pin(profile_id, old)
        verifier = pins.make_verifier(new)
        with self._lock:
            key, doc = self._require(profile_id)
            self._save({key: {**doc, "pin_verifier": verifier, "updated_at": utc_now_iso(),
                              "rev": doc.get("rev", 0) + 1, "dirty": True}})

    def set_first_pin(self, profile_id: str, pin: str) -> None:
        """Set the PIN of a profile that has none (registered by an admin on the server).

        AuthError when the profile already has a PIN (change it with `set_pin`, which
        checks the old one) or does not exist; StoreError for a badly formed PIN. The
        profile becomes pending push, so the server learns the verifier.
        """
        with self._lock:
            found = self._find(profile_id) if isinstance(profile_id, str) else None
            if found is None:
                raise AuthError("unknown profile")
            if found[1].get("pin_verifier"):
                raise AuthError("this profile already has a PIN")
        verifier = pins.make_verifier(pins.check_pin_format(pin))  # slow: outside the lock
        with self._lock:
            key, doc = self._require(profile_id)
            if doc.get("pin_verifier"):   # set by another thread or a pull meanwhile
                raise AuthError("this profile already has a PIN")
            self._save({key: {**doc, "pin_verifier": verifier, "updated_at": utc_now_iso(),
                              "failed_attempts": 0, "locked_until": 0.0,
                              "rev": doc.get("rev", 0) + 1, "dirty": True}})

    def upsert_remote(self, profiles: Iterable[dict[str, Any]]) -> int:
        """Store profiles pulled from the server (with `pin_verifier`, never a PIN).

        `pin_verifier` may be missing or null: a learner an admin registered, who sets a
        first PIN here. A remote copy without a verifier never removes a local one (a first
        PIN set here and not yet pushed stays, and stays pending push).

        The whole batch is checked first (StoreError names ``profiles[i].field``). A local
        profile with unpushed changes newer than the remote copy is kept. Lock-out state
        stays local. Returns how many profiles were added or changed.
        """
        if isinstance(profiles, dict) or not isinstance(profiles, Iterable):
            raise StoreError("profiles: expected a list of profile objects")
        incoming: list[dict[str, Any]] = []
        for i, raw in enumerate(profiles):
            where = f"profiles[{i}]"
            if not isinstance(raw, dict):
                raise StoreError(f"{where}: expected an object")
            if "pin" in raw:
                raise StoreError(f"{where}.pin: a clear-text PIN is never accepted")
            clean: dict[str, Any] = {"id": validate.uuid_str(raw.get("id"), f"{where}.id")}
            for name, check in EDITABLE.items():
                clean[name] = check(raw.get(name), f"{where}.{name}")
            if raw.get("pin_verifier") is None:
                clean["pin_verifier"] = None
            else:
                pins.parse_verifier(raw.get("pin_verifier"), f"{where}.pin_verifier")
                clean["pin_verifier"] = raw["pin_verifier"]
            for stamp in ("created_at", "updated_at"):
                if raw.get(stamp) is not None:
                    try:
                        parse_at(raw[stamp])
                    except StoreError as exc:
                        raise StoreError(f"{where}.{stamp}: {exc}") from None
                    clean[stamp] = raw[stamp]
            incoming.append(clean)
        with self._lock:
            table = self._table()
            changes: dict[str, dict[str, Any]] = {}
            by_id = {doc.get("id"): key for key, doc in table.items()}
            for clean in incoming:
                key = by_id.get(clean["id"])
                if key is None:
                    key = str(max((int(k) for k in (*table, *changes)), default=0) + 1)
                    now = utc_now_iso()
                    new = {"created_at": now, "updated_at": now, **clean, "failed_attempts": 0,
                           "locked_until": 0.0, "rev": 0, "dirty": False}
                else:
                    old = changes.get(key, table[key])
                    if old.get("dirty") and old.get("updated_at", "") > clean.get("updated_at", ""):
                        continue  # our newer change goes up with the next push
                    new = {**old, **clean, "dirty": False}
                    if clean["pin_verifier"] is None and old.get("pin_verifier"):
                        # never lose a PIN set here: keep it, and keep it going up
                        new.update(pin_verifier=old["pin_verifier"], dirty=True)
                    if all(old.get(k) == new.get(k) for k in new):
                        continue
                changes[key] = new
                by_id[clean["id"]] = key
            if changes:
                self._save(changes)
            return len(changes)

    def retire(self, profile_id: str, merged_into: str) -> bool:
        """Take a profile off this tablet after its work was re-attributed to
        `merged_into` (app/core/store/reattribute.py). A record is kept in `retired()`.
        Returns False when the profile is not here (already retired)."""
        with self._lock:
            tables = self._storage.read() or {}
            table = dict(tables.get("profiles", {}))
            key = next((k for k, d in table.items() if d.get("id") == profile_id), None)
            if key is None:
                return False
            doc = table.pop(key)
            retired = dict(tables.get("retired", {}))
            retired[self._new_key(retired)] = {
                **_public(doc), "merged_into": merged_into, "retired_at": utc_now_iso()}
            self._storage.write({**tables, "profiles": table, "retired": retired})
            self._pushed_revs.pop(profile_id, None)
            return True

    def retired(self) -> builtins.list[dict[str, Any]]:  # `list` is a method here
        """Profiles retired by re-attribution: public fields + merged_into, retired_at."""
        with self._lock:
            rows = ((self._storage.read() or {}).get("retired", {})).values()
            return sorted((dict(r) for r in rows), key=lambda r: r.get("retired_at", ""))

    def pending_push(self) -> builtins.list[dict[str, Any]]:
        """Profiles made or changed here and not yet acknowledged by the server, with
        their `pin_verifier` (the server needs it so colleagues can sign in elsewhere)."""
        with self._lock:
            out = []
            for doc in self._table().values():
                if doc.get("dirty"):
                    self._pushed_revs[doc["id"]] = doc.get("rev", 0)
                    out.append({**_public(doc), "pin_verifier": doc.get("pin_verifier")})
            return sorted(out, key=lambda d: d["created_at"])

    def mark_pushed(self, ids: Iterable[str]) -> int:
        """The server stored these profiles. A profile changed again after
        `pending_push()` handed it out stays pending. Returns how many were marked."""
        if isinstance(ids, str) or not isinstance(ids, Iterable):
            raise StoreError("ids: expected a list of profile ids")
        with self._lock:
            changes = {}
            for profile_id in ids:
                found = self._find(profile_id) if isinstance(profile_id, str) else None
                if found is None:
                    continue
                key, doc = found
                if doc.get("dirty") and self._pushed_revs.get(profile_id) == doc.get("rev", 0):
                    changes[key] = {**doc, "dirty": False}
            if changes:
                self._save(changes)
            return len(changes)
