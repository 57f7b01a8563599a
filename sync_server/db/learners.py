"""Learner profiles (staff, never prisoners).

Rules kept here, in one write transaction each (the service, sync_server/services/
profiles.py, decides everything else):

* Staff numbers are unique **per facility**, compared by `profile_rules.staff_key`
  (no case, no spaces). A staff number of another facility neither blocks a registration
  nor shows up in any answer; `existing_id` is only ever a learner of the same facility.
* `save_profile` registers a learner, or updates name, staff number, role and language
  of a learner of the same facility when the pushed `updated_at` is newer. It never
  changes the PIN verifier of an existing learner.
* `set_pin_verifier` is a compare-and-set: it changes the verifier only if the stored one
  is still the one the change was proven against (or, for a first PIN, the learner still
  has no PIN and the same set-up code), so two racing changes cannot both win.
* Every change gives the learner a new `rev` (the profile pull cursor); writers of `rev`
  are serialised (LOCK_LEARNERS), so a pull never skips a revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from app.core.profile_rules import staff_key
from sync_server.db.aggregates import move_totals
from sync_server.db.audit import AuditEntry, audit_in
from sync_server.db.base import SqlBase, in_lists, placeholders
from sync_server.db.locks import LOCK_EVENTS, LOCK_LEARNERS
from sync_server.errors import AlreadyExistsError, NotFoundError


@dataclass(frozen=True)
class Learner:
    """A learner profile. `pin_verifier` None = no PIN yet: the learner sets one on a
    tablet with the one-time set-up code whose verifier and expiry are kept here
    (app/core/pins.py)."""

    id: str
    staff_number: str
    facility_id: str
    role: str
    language: str
    display_name: str
    pin_verifier: str | None
    updated_at: str
    rev: int = 0
    pin_setup_verifier: str | None = None
    pin_setup_expires_at: str | None = None
    deactivated_at: str | None = None     # a leaver (schema 10): no PIN, cannot sign in

    @property
    def active(self) -> bool:
        return self.deactivated_at is None


@dataclass(frozen=True)
class ProfileResult:
    """Outcome of saving a learner profile pushed by a device.

    status: registered (new learner) | updated | unchanged (server copy is as new or
    newer) | rejected (reason: staff_number_taken, other_facility, unknown_role,
    bad_field, pin_not_proven); `existing_id` is the learner of the same facility that
    already holds the staff number, so the device can re-attribute; `detail` says what
    is wrong; `current` is the server's copy after a refused PIN change (same facility).
    """

    id: str
    status: Literal["registered", "updated", "unchanged", "rejected"]
    reason: str | None = None
    existing_id: str | None = None
    detail: str | None = None
    current: Learner | None = None


class LearnerStore(Protocol):
    def get_learner(self, learner_id: str) -> Learner | None: ...
    def learners_by_ids(self, ids: list[str]) -> dict[str, Learner]: ...
    def list_learners(self, facility_id: str | None = None) -> list[Learner]: ...

    def save_profile(self, profile: Learner, *, audit: AuditEntry | None = None) -> ProfileResult:
        """Register or update a learner (rules in the module docstring)."""
        ...

    def set_pin_verifier(self, learner_id: str, verifier: str, *, expected: str | None,
                         expected_setup: str | None) -> bool:
        """Replace the verifier if it is still `expected` (None: no PIN yet and the
        set-up code `expected_setup`, which is used up). False if it changed meanwhile."""
        ...

    def set_pin_setup(self, learner_id: str, verifier: str, expires_at: str, *,
                      audit: AuditEntry | None = None) -> bool:
        """An admin reset: the learner's PIN is removed and a new one-time set-up code
        (its verifier) replaces any earlier one. False for an unknown learner."""
        ...

    def move_learner(self, learner_id: str, facility_id: str, now: str, *,
                     audit: AuditEntry | None = None) -> None:
        """Move a learner (and their events) to another facility.

        The profile gets a new revision and every event of the learner a new `seq` at the
        end of the log, so the new facility's tablets pull the whole history after the
        cursors they already hold; the old facility's tablets keep what they have. A
        staff number already used in the new facility is refused (AlreadyExistsError);
        NotFoundError for an unknown learner or facility.
        """
        ...

    def profiles_after(self, facility_id: str, after_rev: int, limit: int) -> list[Learner]:
        """A facility's profiles changed after the revision cursor, in rev order."""
        ...

    def set_deactivated(self, learner_id: str, deactivated_at: str | None) -> bool:
        """Deactivate (a time) or reactivate (None) a learner, with a new rev. Deactivating
        also removes the PIN and any set-up code, so no tablet lets them sign in after
        its next sync. False for an unknown learner or no change."""
        ...


_COLS = ("id, staff_number, facility_id, role, language, display_name, pin_verifier, "
                "updated_at, rev, pin_setup_verifier, pin_setup_expires_at, deactivated_at")


def _learner(row: tuple[Any, ...]) -> Learner:
    values = list(row)
    values[8] = int(values[8])
    return Learner(*values)


#: server_meta row: the highest `rev` an erased learner's row had (db/erasure.py)
ERASED_REV = "erased_learner_rev"


def last_rev(cur: Any) -> int:
    """The highest learner revision ever given — also an erased learner's, whose row is
    gone: a revision given again would sort at or below a tablet's profiles cursor, and
    the learner who got it would never be pulled there."""
    cur.execute("SELECT COALESCE(MAX(rev), 0) FROM learners")
    highest = int(cur.fetchone()[0])
    cur.execute(f"SELECT value FROM server_meta WHERE name = '{ERASED_REV}'")
    row = cur.fetchone()
    return max(highest, int(row[0]) if row and str(row[0]).isdigit() else 0)


def keep_last_rev(cur: Any, dialect: str) -> None:
    """Before a learner row is deleted (an erasure): remember the highest revision."""
    cur.execute(placeholders(dialect, "INSERT INTO server_meta (name, value) VALUES (?, ?) "
                                      "ON CONFLICT (name) DO UPDATE SET value = excluded.value"),
                (ERASED_REV, str(last_rev(cur))))


class LearnerSql(SqlBase):
    def get_learner(self, learner_id: str) -> Learner | None:
        row = self._one(f"SELECT {_COLS} FROM learners WHERE id = ?", (learner_id,))
        return _learner(row) if row else None

    def learners_by_ids(self, ids: list[str]) -> dict[str, Learner]:
        out: dict[str, Learner] = {}
        unique = sorted(set(ids))
        for part, marks in in_lists(unique):
            for row in self._all(f"SELECT {_COLS} FROM learners WHERE id IN ({marks})", part):
                out[row[0]] = _learner(row)
        return out

    def list_learners(self, facility_id: str | None = None) -> list[Learner]:
        if facility_id is None:
            rows = self._all(f"SELECT {_COLS} FROM learners "
                             "ORDER BY facility_id, staff_key")
        else:
            rows = self._all(f"SELECT {_COLS} FROM learners WHERE facility_id = ? "
                             "ORDER BY staff_key", (facility_id,))
        return [_learner(r) for r in rows]

    @staticmethod
    def _next_rev(cur: Any) -> int:
        return last_rev(cur) + 1

    def save_profile(self, profile: Learner, *, audit: AuditEntry | None = None) -> ProfileResult:
        key = staff_key(profile.staff_number)
        with self._write(LOCK_LEARNERS) as cur:
            # an erased learner never comes back (checked here, in the transaction that
            # would register them, so an erasure cannot race it: db/erasure.py)
            cur.execute(self._sql("SELECT 1 FROM erasures WHERE learner_id = ?"), (profile.id,))
            if cur.fetchone() is not None:
                return ProfileResult(profile.id, "rejected", "erased",
                                     detail="this learner's record was erased")
            cur.execute(self._sql(f"SELECT {_COLS} FROM learners WHERE id = ?"),
                        (profile.id,))
            row = cur.fetchone()
            existing = _learner(row) if row else None
            if existing is not None and existing.facility_id != profile.facility_id:
                return ProfileResult(profile.id, "rejected", "other_facility")
            cur.execute(self._sql("SELECT id FROM learners WHERE facility_id = ? AND "
                                  "staff_key = ?"), (profile.facility_id, key))
            holder = cur.fetchone()
            if holder is not None and holder[0] != profile.id:
                return ProfileResult(profile.id, "rejected", "staff_number_taken", holder[0])
            if existing is not None and profile.updated_at <= existing.updated_at:
                return ProfileResult(profile.id, "unchanged")
            rev = self._next_rev(cur)
            if existing is None:
                cur.execute(self._sql(
                    "INSERT INTO learners (id, facility_id, staff_number, staff_key, role, "
                    "language, display_name, pin_verifier, updated_at, rev, pin_setup_verifier, "
                    "pin_setup_expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"),
                    (profile.id, profile.facility_id, profile.staff_number, key, profile.role,
                     profile.language, profile.display_name, profile.pin_verifier,
                     profile.updated_at, rev, profile.pin_setup_verifier,
                     profile.pin_setup_expires_at))
                audit_in(cur, self.dialect, audit)
                return ProfileResult(profile.id, "registered")
            cur.execute(self._sql(
                "UPDATE learners SET staff_number = ?, staff_key = ?, role = ?, language = ?, "
                "display_name = ?, updated_at = ?, rev = ? WHERE id = ?"),
                (profile.staff_number, key, profile.role, profile.language,
                 profile.display_name, profile.updated_at, rev, profile.id))
            return ProfileResult(profile.id, "updated")

    def set_pin_verifier(self, learner_id: str, verifier: str, *, expected: str | None,
                         expected_setup: str | None) -> bool:
        with self._write(LOCK_LEARNERS) as cur:
            rev = self._next_rev(cur)
            if expected is None:
                cur.execute(self._sql(
                    "UPDATE learners SET pin_verifier = ?, pin_setup_verifier = NULL, "
                    "pin_setup_expires_at = NULL, rev = ? WHERE id = ? AND pin_verifier IS NULL "
                    "AND pin_setup_verifier = ?"), (verifier, rev, learner_id, expected_setup))
            else:
                cur.execute(self._sql(
                    "UPDATE learners SET pin_verifier = ?, pin_setup_verifier = NULL, "
                    "pin_setup_expires_at = NULL, rev = ? WHERE id = ? AND pin_verifier = ?"),
                    (verifier, rev, learner_id, expected))
            return bool(cur.rowcount == 1)

    def set_pin_setup(self, learner_id: str, verifier: str, expires_at: str, *,
                      audit: AuditEntry | None = None) -> bool:
        with self._write(LOCK_LEARNERS) as cur:
            rev = self._next_rev(cur)
            cur.execute(self._sql(
                "UPDATE learners SET pin_verifier = NULL, pin_setup_verifier = ?, "
                "pin_setup_expires_at = ?, rev = ? WHERE id = ?"),
                (verifier, expires_at, rev, learner_id))
            changed = bool(cur.rowcount == 1)
            if changed:
                audit_in(cur, self.dialect, audit)
            return changed

    def move_learner(self, learner_id: str, facility_id: str, now: str, *,
                     audit: AuditEntry | None = None) -> None:
        self._require_facility(facility_id)
        try:
            with self._write(LOCK_EVENTS, LOCK_LEARNERS) as cur:
                rev = self._next_rev(cur)
                cur.execute(self._sql("UPDATE learners SET facility_id = ?, updated_at = ?, "
                                      "rev = ? WHERE id = ?"), (facility_id, now, rev, learner_id))
                if cur.rowcount != 1:
                    raise NotFoundError(f"learner {learner_id!r} does not exist")
                move_totals(cur, self.dialect, learner_id, facility_id)
                self._renumber_events(cur, learner_id, facility_id)
                audit_in(cur, self.dialect, audit)
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExistsError(f"facility {facility_id!r} already has a learner with "
                                         "this staff number") from None
            raise

    def set_deactivated(self, learner_id: str, deactivated_at: str | None) -> bool:
        with self._write(LOCK_LEARNERS) as cur:
            rev = self._next_rev(cur)
            if deactivated_at is not None:
                cur.execute(self._sql(
                    "UPDATE learners SET deactivated_at = ?, pin_verifier = NULL, "
                    "pin_setup_verifier = NULL, pin_setup_expires_at = NULL, rev = ? "
                    "WHERE id = ? AND deactivated_at IS NULL"), (deactivated_at, rev, learner_id))
            else:
                cur.execute(self._sql(
                    "UPDATE learners SET deactivated_at = NULL, rev = ? WHERE id = ? "
                    "AND deactivated_at IS NOT NULL"), (rev, learner_id))
            return bool(cur.rowcount == 1)

    def profiles_after(self, facility_id: str, after_rev: int, limit: int) -> list[Learner]:
        rows = self._all(f"SELECT {_COLS} FROM learners WHERE facility_id = ? AND "
                         "rev > ? ORDER BY rev LIMIT ?", (facility_id, after_rev, limit))
        return [_learner(r) for r in rows]


def upgrade_learners_v6(cur: Any, dialect: str, now: str) -> None:
    """Schema version 6 data step (sql.apply_schema; a restore runs it too): wrap old
    `scrypt$` verifiers (they hold K, the proof of a PIN change) and bring `updated_at`
    stamps from the future back to now; both get a new rev so tablets pull them."""
    from app.core import pins
    from app.core.errors import StoreError

    cur.execute("SELECT id, pin_verifier, updated_at FROM learners")
    changes = []
    for learner_id, verifier, updated_at in cur.fetchall():
        new_verifier = verifier
        if verifier:
            try:
                new_verifier = pins.canonical(verifier)
            except StoreError:
                new_verifier = None   # unusable: the learner needs a set-up code
        new_at = min(updated_at, now)
        if (new_verifier, new_at) != (verifier, updated_at):
            changes.append((learner_id, new_verifier, new_at))
    if not changes:
        return
    cur.execute("SELECT COALESCE(MAX(rev), 0) + 1 FROM learners")
    rev = int(cur.fetchone()[0])
    sql = "UPDATE learners SET pin_verifier = ?, updated_at = ?, rev = ? WHERE id = ?"
    cur.executemany(placeholders(dialect, sql),
                    [(v, at, rev + i, lid) for i, (lid, v, at) in enumerate(changes)])
