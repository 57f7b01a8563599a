"""Bulk changes of learners (the console's bulk actions, issue 21): deactivate,
reactivate, move to a facility or give a new PIN set-up code to several learners —
all of them or none, in ONE write transaction with one audit row per learner.

Each statement is a compare-and-set on the state the admin confirmed (active or not,
the facility they were in): when any learner changed meanwhile, `BulkConflict` names
them and the transaction rolls back, so nothing half-done is left and the admin reviews
again. Every changed learner gets a new `rev`, so tablets pull the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sync_server.db.aggregates import move_totals
from sync_server.db.audit import AuditEntry, audit_in
from sync_server.db.base import SqlBase
from sync_server.db.learners import last_rev
from sync_server.db.locks import LOCK_EVENTS, LOCK_LEARNERS
from sync_server.errors import AlreadyExistsError, ServerError

#: stands for "a new revision" in the rows of `_bulk`
REV = object()


class BulkConflict(ServerError):
    """Learners changed since the action was confirmed (`learner_ids`); nothing was done."""

    def __init__(self, learner_ids: list[str]) -> None:
        self.learner_ids = learner_ids
        super().__init__(f"{len(learner_ids)} of the learners changed since you confirmed "
                         "(another admin or a tablet): nothing was done; review again")


@dataclass(frozen=True)
class PinSetupChange:
    """A learner's new one-time PIN set-up code (its verifier) and expiry."""

    learner_id: str
    verifier: str
    expires_at: str


class LearnerBulkStore(Protocol):
    def deactivate_learners(self, learner_ids: Sequence[str], at: str, *,
                            audits: Sequence[AuditEntry]) -> None:
        """Deactivate active learners (PIN and set-up code removed), all or none."""
        ...

    def reactivate_learners(self, setups: Sequence[PinSetupChange], *,
                            audits: Sequence[AuditEntry]) -> None:
        """Reactivate deactivated learners, each with a new PIN set-up code; all or none."""
        ...

    def reset_learner_pins(self, setups: Sequence[PinSetupChange], *,
                           audits: Sequence[AuditEntry]) -> None:
        """New PIN set-up codes for active learners (PINs removed); all or none."""
        ...

    def move_learners(self, moves: Sequence[tuple[str, str]], facility_id: str, now: str, *,
                      audits: Sequence[AuditEntry]) -> None:
        """Move learners (id, the facility they are in now) with their events to
        `facility_id`; all or none. AlreadyExistsError when a staff number is taken
        there."""
        ...


class LearnerBulkSql(SqlBase):
    def _bulk(self, cur: Any, sql: str, rows: list[tuple[Any, ...]], ids: list[str]) -> None:
        """Run `sql` once per row, `REV` in a row replaced by a new revision each;
        BulkConflict with the learners whose row matched nothing."""
        rev = last_rev(cur)
        missed = []
        for i, (row, learner_id) in enumerate(zip(rows, ids, strict=True), 1):
            cur.execute(self._sql(sql), tuple(rev + i if v is REV else v for v in row))
            if cur.rowcount != 1:
                missed.append(learner_id)
        if missed:
            raise BulkConflict(missed)

    def deactivate_learners(self, learner_ids: Sequence[str], at: str, *,
                            audits: Sequence[AuditEntry]) -> None:
        ids = list(learner_ids)
        with self._write(LOCK_LEARNERS) as cur:
            self._bulk(cur, "UPDATE learners SET deactivated_at = ?, pin_verifier = NULL, "
                            "pin_setup_verifier = NULL, pin_setup_expires_at = NULL, rev = ? "
                            "WHERE id = ? AND deactivated_at IS NULL",
                       [(at, REV, lid) for lid in ids], ids)
            for entry in audits:
                audit_in(cur, self.dialect, entry)

    def reactivate_learners(self, setups: Sequence[PinSetupChange], *,
                            audits: Sequence[AuditEntry]) -> None:
        ids = [s.learner_id for s in setups]
        with self._write(LOCK_LEARNERS) as cur:
            self._bulk(cur, "UPDATE learners SET deactivated_at = NULL, pin_verifier = NULL, "
                            "pin_setup_verifier = ?, pin_setup_expires_at = ?, rev = ? "
                            "WHERE id = ? AND deactivated_at IS NOT NULL",
                       [(s.verifier, s.expires_at, REV, s.learner_id) for s in setups], ids)
            for entry in audits:
                audit_in(cur, self.dialect, entry)

    def reset_learner_pins(self, setups: Sequence[PinSetupChange], *,
                           audits: Sequence[AuditEntry]) -> None:
        ids = [s.learner_id for s in setups]
        with self._write(LOCK_LEARNERS) as cur:
            self._bulk(cur, "UPDATE learners SET pin_verifier = NULL, pin_setup_verifier = ?, "
                            "pin_setup_expires_at = ?, rev = ? "
                            "WHERE id = ? AND deactivated_at IS NULL",
                       [(s.verifier, s.expires_at, REV, s.learner_id) for s in setups], ids)
            for entry in audits:
                audit_in(cur, self.dialect, entry)

    def move_learners(self, moves: Sequence[tuple[str, str]], facility_id: str, now: str, *,
                      audits: Sequence[AuditEntry]) -> None:
        self._require_facility(facility_id)
        ids = [lid for lid, _ in moves]
        try:
            with self._write(LOCK_EVENTS, LOCK_LEARNERS) as cur:
                self._bulk(cur, "UPDATE learners SET facility_id = ?, updated_at = ?, rev = ? "
                                "WHERE id = ? AND facility_id = ?",
                           [(facility_id, now, REV, lid, was) for lid, was in moves], ids)
                for lid in ids:
                    move_totals(cur, self.dialect, lid, facility_id)
                    self._renumber_events(cur, lid, facility_id)
                for entry in audits:
                    audit_in(cur, self.dialect, entry)
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExistsError(f"facility {facility_id!r} already has a learner with "
                                         "the staff number of one of them") from None
            raise
