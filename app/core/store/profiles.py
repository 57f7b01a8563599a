"""Learner profiles on a shared tablet: who may sign in, with which PIN.

One small TinyDB file (``profiles.json``, table ``profiles``), written with the atomic
storage. PINs are never stored: only a portable verifier (app/core/pins.py). Wrong PINs
lock the profile with a growing delay, persisted in the file so a restart does not reset
it: the first FREE_TRIES failures cost nothing, then 30 s, 60 s, 120 s … up to 1 hour.
A correct PIN resets the count. Field rules: app/core/profile_rules.py (the same rules
as the server and the admin's CSV import).

PIN changes travel with a proof (docs/sync-protocol.md §4.3). A change made here records
``pin_change``: the verifier the server knows (``base``, or the set-up code verifier
``setup`` for a first PIN) and K of its secret (``proof``, app/core/pins.py). Only the
first unpushed change records it: the server still has that base. A pulled copy whose
verifier is the base keeps the local change pending; any other verifier from the server
wins (the server would refuse the change anyway). A PIN change does not touch
``updated_at``: the proof, not the clock, decides it; name, staff number, role and
language follow "latest ``updated_at`` wins".

A profile registered by an admin on the server arrives without a verifier ("needs a
PIN"), with the verifier of a one-time set-up code the admin handed to the learner:
`set_first_pin` checks that code offline. A verifier made with an old, cheaper KDF is
replaced at the next successful sign-in (``pins.needs_upgrade``) and the new one is pushed.

Profiles made or changed here are "pending push" until the sync client calls
`mark_pushed`; `rev` guards against a change made between `pending_push()` and
`mark_pushed()` being marked as pushed.
"""

from __future__ import annotations

import builtins
import math
import threading
import time
from collections.abc import Callable, Container, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from app.core import pins, profile_rules
from app.core.clock import now_iso
from app.core.errors import (
    AuthError,
    ErrorCode,
    PinLockedError,
    PinNotSetError,
    SetupCodeError,
    StoreError,
)
from app.core.events import new_id, parse_at
from app.core.store.atomic import AtomicJSONStorage
from app.core.store.profile_merge import check_remote, merge_remote, new_remote

FREE_TRIES = 3
FIRST_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 3600
PUBLIC_FIELDS = ("id", "display_name", "staff_number", "role", "language",
                 "created_at", "updated_at")
EDITABLE = profile_rules.CHECKS


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
                 clock: Callable[[], float] = time.time, *,
                 lock_floor: Callable[[], float] = lambda: 0.0,
                 erased: Callable[[], Container[str]] = frozenset) -> None:
        self._storage, self._erased = AtomicJSONStorage(path, "profiles"), erased
        self._lock = lock
        self._clock = clock
        #: no PIN before this time: a lock-out file was tampered with (sealing.py)
        self._lock_floor = lock_floor
        self._pushed_revs: dict[str, int] = {}
        self._storage.read()  # fail early on a damaged file

    # -- file access ---------------------------------------------------------------
    def _table(self) -> dict[str, dict[str, Any]]:
        return (self._storage.read() or {}).get("profiles", {})

    def _find(self, profile_id: object) -> tuple[str, dict[str, Any]] | None:
        if not isinstance(profile_id, str):
            return None
        for key, doc in self._table().items():
            if doc.get("id") == profile_id:
                return key, doc
        return None

    def _require(self, profile_id: object) -> tuple[str, dict[str, Any]]:
        found = self._find(profile_id)
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
        key = profile_rules.staff_key(staff)
        for doc in self._table().values():
            if (profile_rules.staff_key(str(doc.get("staff_number", ""))) == key
                    and doc.get("id") != profile_id):
                raise StoreError(f"staff_number: {staff!r} is already used by another profile",
                                 code=ErrorCode.STAFF_NUMBER_TAKEN)

    # -- public API ------------------------------------------------------------------
    def create(self, display_name: str, staff_number: str, role: str, language: str,
               pin: str, *, min_digits: int = pins.PIN_MIN_DIGITS) -> dict[str, Any]:
        """A new local profile (id = new learner UUID); pending push to the server.
        `min_digits`: the PIN policy the device knows (docs/security.md "PIN policy")."""
        doc: dict[str, Any] = {"id": new_id(), **profile_rules.check_fields(
            {"display_name": display_name, "staff_number": staff_number, "role": role,
             "language": language})}
        verifier = pins.make_verifier(pins.check_pin_format(pin, min_digits=min_digits))
        now = now_iso()
        doc.update(pin_verifier=verifier, pin_digits=len(pin), pin_setup=None, pin_change=None,
                   created_at=now,
                   updated_at=now, failed_attempts=0, locked_until=0.0, rev=1, dirty=True)
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
            found = self._find(profile_id)
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
            new = {**doc, **clean, "updated_at": now_iso(), "rev": doc.get("rev", 0) + 1,
                   "dirty": True}
            self._save({key: new})
            return _public(new)

    # -- PINs ---------------------------------------------------------------------------
    def verify_pin(self, profile_id: str, pin: str) -> bool:
        """True for the right PIN; AuthError for a wrong one, PinLockedError (an
        AuthError with `wait_seconds`) while locked. Failures are persisted. A verifier
        made with an old, cheaper KDF is replaced by a current one (pending push)."""
        self._check_pin(profile_id, pin)
        return True

    def _check_pin(self, profile_id: str, pin: str) -> bytes:
        """K of the right PIN (app/core/pins.py), after the lock-out rules."""
        with self._lock:
            found = self._find(profile_id)
            if found is None:
                raise AuthError("unknown profile")
            _key, doc = found
            verifier = doc.get("pin_verifier")
            if not verifier:
                raise PinNotSetError("this profile has no PIN yet: set your first PIN")
            self._raise_if_locked(doc)
        if not isinstance(pin, str) or not pins.PIN_RE.match(pin):
            raise AuthError("a PIN is 4 to 8 digits")
        key = pins.key_if_matches(verifier, pin)  # slow on purpose: outside the store lock
        with self._lock:
            doc_key, doc = self._require(profile_id)
            self._raise_if_locked(doc)  # another thread may have failed meanwhile
            if key is not None:
                if doc.get("failed_attempts") or doc.get("locked_until"):
                    self._save({doc_key: {**doc, "failed_attempts": 0, "locked_until": 0.0}})
            else:
                self._count_failure(doc_key, doc)
        if pins.needs_upgrade(verifier):
            self._upgrade(profile_id, verifier, pin, key)
        return key

    def _count_failure(self, doc_key: str, doc: dict[str, Any]) -> NoReturn:
        """Persist one more wrong PIN (or code) and raise the matching AuthError."""
        failures = int(doc.get("failed_attempts", 0)) + 1
        delay = lock_delay(failures)
        self._save({doc_key: {**doc, "failed_attempts": failures,
                              "locked_until": self._clock() + delay if delay else 0.0}})
        if delay:
            raise PinLockedError(f"wrong PIN; locked: try again in {delay} seconds",
                                 wait_seconds=delay)
        left = FREE_TRIES - failures
        raise AuthError(f"wrong PIN; {left} more {'try' if left == 1 else 'tries'} "
                        f"before a {FIRST_DELAY_SECONDS} second wait")

    def _upgrade(self, profile_id: str, old: str, pin: str, key: bytes) -> None:
        """Replace a verifier of an old KDF after a successful sign-in (never fails the
        sign-in: if the profile changed meanwhile, the next sign-in tries again)."""
        new = pins.make_verifier(pin)
        with self._lock:
            found = self._find(profile_id)
            if found is None or found[1].get("pin_verifier") != old:
                return
            # the same PIN, re-hashed: no digit claim (the server cannot tell an upgrade
            # from a change, and a shorter PIN keeps working until the person changes it)
            self._save({found[0]: self._with_pin(found[1], new, key, digits=None)})

    @staticmethod
    def _with_pin(doc: dict[str, Any], verifier: str, key: bytes,
                  digits: int | None) -> dict[str, Any]:
        """`doc` with a new verifier; the pending change keeps its first base (the
        verifier the server still has) or records the current one with K as proof.
        `digits` (the new PIN's length, or None for a re-hash of the same PIN) travels
        with the push as ``pin_digits`` so the server can hold it to the PIN policy."""
        change = doc.get("pin_change") or {"base": doc.get("pin_verifier"),
                                           "setup": (doc.get("pin_setup") or {}).get("verifier"),
                                           "proof": pins.encode_proof(key)}
        return {**doc, "pin_verifier": verifier, "pin_change": change, "pin_digits": digits,
                "rev": doc.get("rev", 0) + 1}

    def locked_seconds(self, profile_id: str) -> int:
        """Seconds left before this profile may try a PIN again (0 = not locked)."""
        with self._lock:
            _key, doc = self._require(profile_id)
            return self._wait_of(doc)

    def _wait_of(self, doc: dict[str, Any]) -> int:
        until = max(float(doc.get("locked_until") or 0.0), self._lock_floor())
        now = self._clock()
        # a clock set back must not lock a profile for longer than the longest delay
        return max(0, min(math.ceil(until - now), MAX_DELAY_SECONDS))

    def _raise_if_locked(self, doc: dict[str, Any]) -> None:
        wait = self._wait_of(doc)
        if wait > 0:
            raise PinLockedError(f"too many wrong PINs: try again in {wait} seconds",
                                 wait_seconds=wait)

    def set_pin(self, profile_id: str, old: str, new: str, *,
                min_digits: int = pins.PIN_MIN_DIGITS) -> None:
        """Change the PIN after checking the old one (a wrong old PIN counts as a try).
        The change goes to the server with K of the old PIN as its proof. The new PIN
        follows the PIN policy (`min_digits`); the old one may be shorter."""
        pins.check_pin_format(new, "new PIN", min_digits=min_digits)
        key = self._check_pin(profile_id, old)
        verifier = pins.make_verifier(new)
        with self._lock:
            doc_key, doc = self._require(profile_id)
            self._save({doc_key: self._with_pin(doc, verifier, key, digits=len(new))})

    def set_first_pin(self, profile_id: str, pin: str, code: str, *,
                      min_digits: int = pins.PIN_MIN_DIGITS) -> None:
        """Set the PIN of a profile that has none (registered by an admin on the server)
        with the one-time set-up code the admin handed to the learner.

        AuthError when the profile already has a PIN (change it with `set_pin`, which
        checks the old one) or does not exist; SetupCodeError (an AuthError, ``reason``
        missing / expired / wrong) when the code cannot be used — a wrong code counts as
        a wrong PIN for the lock-out; PinLockedError while locked; StoreError for a badly
        formed PIN. The code is checked here, offline; the server checks its proof again
        (once, before it expires) when the profile is pushed.
        """
        with self._lock:
            found = self._find(profile_id)
            if found is None:
                raise AuthError("unknown profile")
            doc = found[1]
            if doc.get("pin_verifier"):
                raise AuthError("this profile already has a PIN")
            self._raise_if_locked(doc)
            setup = doc.get("pin_setup") or {}
        pins.check_pin_format(pin, min_digits=min_digits)
        if not setup.get("verifier"):
            raise SetupCodeError("no PIN set-up code was issued for this profile: ask your "
                                 "administrator for one", reason="missing")
        expires = setup.get("expires_at")
        if expires and parse_at(expires) < datetime.fromtimestamp(self._clock(), parse_at(
                expires).tzinfo):
            raise SetupCodeError("this PIN set-up code has expired: ask your administrator "
                                 "for a new one", reason="expired")
        key = pins.key_if_matches(setup["verifier"], pins.normalise_code(code))
        with self._lock:
            doc_key, doc = self._require(profile_id)
            self._raise_if_locked(doc)
            if doc.get("pin_verifier"):   # set by another thread or a pull meanwhile
                raise AuthError("this profile already has a PIN")
            if key is None or (doc.get("pin_setup") or {}).get("verifier") != setup["verifier"]:
                try:
                    self._count_failure(doc_key, doc)
                except PinLockedError:
                    raise
                except AuthError:
                    raise SetupCodeError("wrong PIN set-up code", reason="wrong") from None
        verifier = pins.make_verifier(pin)  # slow: outside the lock
        with self._lock:
            doc_key, doc = self._require(profile_id)
            if doc.get("pin_verifier"):
                raise AuthError("this profile already has a PIN")
            new = self._with_pin(doc, verifier, key, digits=len(pin))
            self._save({doc_key: {**new, "failed_attempts": 0, "locked_until": 0.0}})

    # -- sync -----------------------------------------------------------------------------
    def upsert_remote(self, profiles: Iterable[dict[str, Any]], *,
                      server_pin_wins: bool = False) -> int:
        """Store profiles pulled from the server (with `pin_verifier`, never a PIN).

        `pin_verifier` may be missing or null: a learner an admin registered, who sets a
        first PIN here with the set-up code whose verifier comes along
        (`pin_setup_verifier`, `pin_setup_expires_at`). The server's verifier replaces
        the local one unless a local PIN change is still pending against exactly that
        verifier (or, for a first PIN, against that set-up code). `server_pin_wins`
        drops a pending local change in any case (the server refused it).

        The whole batch is checked first (StoreError names ``profiles[i].field``). Name,
        staff number, role and language: a local change newer than the remote copy is
        kept until pushed. Lock-out state stays local; it starts afresh when the PIN
        itself changed elsewhere (a new verifier, or none after an admin reset: the
        wrong tries were against a PIN that no longer exists, and the owner must be able
        to type the reset code here). Returns how many profiles were added or changed.
        """
        if isinstance(profiles, dict) or not isinstance(profiles, Iterable):
            raise StoreError("profiles: expected a list of profile objects")
        incoming = [check_remote(raw, f"profiles[{i}]") for i, raw in enumerate(profiles)]
        with self._lock:      # not an erased learner's (a server restored from a backup)
            incoming = [c for c in incoming if c["id"] not in self._erased()]
            table = self._table()
            changes: dict[str, dict[str, Any]] = {}
            by_id = {doc.get("id"): key for key, doc in table.items()}
            for clean in incoming:
                key = by_id.get(clean["id"])
                if key is None:
                    key = str(max((int(k) for k in (*table, *changes)), default=0) + 1)
                    new = new_remote(clean)
                else:
                    old = changes.get(key, table[key])
                    new = merge_remote(old, clean, server_pin_wins)
                    if new.get("pin_verifier") != old.get("pin_verifier"):
                        new = {**new, "failed_attempts": 0, "locked_until": 0.0}
                    if new == old:
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
                **_public(doc), "merged_into": merged_into, "retired_at": now_iso()}
            self._storage.write({**tables, "profiles": table, "retired": retired})
            self._pushed_revs.pop(profile_id, None)
            return True

    def retired(self) -> builtins.list[dict[str, Any]]:  # `list` is a method here
        """Profiles retired by re-attribution: public fields + merged_into, retired_at."""
        with self._lock:
            rows = ((self._storage.read() or {}).get("retired", {})).values()
            return sorted((dict(r) for r in rows), key=lambda r: r.get("retired_at", ""))

    def pending_push(self) -> builtins.list[dict[str, Any]]:
        """Profiles made or changed here (fields or PIN) and not yet acknowledged by the
        server, with their `pin_verifier` (the server needs it so colleagues can sign in
        elsewhere) and `pin_proof` (K of the PIN or code the server knows; None when
        the PIN did not change)."""
        with self._lock:
            out = []
            for doc in self._table().values():
                if doc.get("dirty") or doc.get("pin_change"):
                    self._pushed_revs[doc["id"]] = doc.get("rev", 0)
                    change = doc.get("pin_change") or {}
                    out.append({**_public(doc), "pin_verifier": doc.get("pin_verifier"),
                                "pin_proof": change.get("proof"),
                                # the length of the last PIN set here (the server
                                # checks it against its PIN policy only when the
                                # verifier is new to it); None when unknown
                                "pin_digits": doc.get("pin_digits")})
            return sorted(out, key=lambda d: d["created_at"])

    def mark_all_pending(self) -> int:
        """Make every profile pending push again — after the server was restored from a
        backup it may lack profiles it had acknowledged (app/sync/recovery.py). A pull
        that brings the server's copy clears the flag again (see `upsert_remote`).
        Returns how many profiles were marked."""
        with self._lock:
            changes = {key: {**doc, "dirty": True} for key, doc in self._table().items()
                       if not doc.get("dirty")}
            if changes:
                self._save(changes)
            return len(changes)

    def mark_pushed(self, ids: Iterable[str]) -> int:
        """The server stored these profiles. A profile changed again after
        `pending_push()` handed it out stays pending. Returns how many were marked."""
        if isinstance(ids, str) or not isinstance(ids, Iterable):
            raise StoreError("ids: expected a list of profile ids")
        with self._lock:
            changes = {}
            for profile_id in ids:
                found = self._find(profile_id)
                if found is None:
                    continue
                key, doc = found
                pending = doc.get("dirty") or doc.get("pin_change")
                if pending and self._pushed_revs.get(profile_id) == doc.get("rev", 0):
                    changes[key] = {**doc, "dirty": False, "pin_change": None,
                                    "pin_setup": None if doc.get("pin_verifier")
                                    else doc.get("pin_setup")}
            if changes:
                self._save(changes)
            return len(changes)
