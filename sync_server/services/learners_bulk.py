"""Bulk actions on learners (the console's learners page, issue 21): deactivate,
reactivate, move to a facility, or issue new PIN set-up codes for several learners.

Two steps, like every console action that is hard to undo: `plan_bulk` says who the
action would change and who it would skip (and why: a stable reason code), the admin
confirms the named people, and `apply_bulk` checks the plan again and does it for all of
them in ONE transaction with one audit entry per learner (db/learners_bulk.py) — if
anyone changed meanwhile, nothing is done. At most `MAX_BULK` learners per action.

A reactivated learner, or one whose PIN is reset, gets a new one-time PIN set-up code
(shown once, printed on slips: app/core/pins.py); a deactivated one loses their PIN and
code, so no tablet lets them sign in after its next sync (their records are kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from app.core import pins, profile_rules
from app.core.clock import now_iso, now_utc
from app.core.events import format_at
from sync_server.db.repository import (
    AuditEntry,
    BulkConflict,
    Facility,
    Learner,
    PinSetupChange,
    Repository,
)
from sync_server.errors import ServerError
from sync_server.services import audit
from sync_server.services.learners import PinSetup, Registered

MAX_BULK = 500
ACTIONS = ("deactivate", "reactivate", "move", "pin_reset")
#: the audit action of each bulk action (one entry per learner)
AUDIT_ACTION = {"deactivate": "learner.deactivate", "reactivate": "learner.reactivate",
                "move": "learner.move", "pin_reset": "learner.pin_reset"}


class BulkError(ServerError):
    """A bulk action cannot be planned or done. `reason` (stable): `none_selected`,
    `too_many`, `bad_action`, `no_facility`, `unknown_learner`,
    `changed` (someone changed since the confirmation: nothing was done)."""

    def __init__(self, reason: str, message: str, *, count: int = 0) -> None:
        self.reason, self.count = reason, count
        super().__init__(message)


@dataclass(frozen=True)
class BulkPlan:
    """Who the action changes (`people`) and who it leaves out, with a reason code
    (`deactivated_already`, `active_already`, `deactivated`, `there_already`,
    `staff_number_taken`)."""

    action: str
    people: list[Learner]
    skipped: list[tuple[Learner, str]] = field(default_factory=list)
    facility: Facility | None = None       # where a move goes


@dataclass(frozen=True)
class BulkDone:
    plan: BulkPlan
    setups: list[Registered]               # new PIN set-up codes (reactivate, pin_reset)


def _ids(learner_ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(str(i)[:100] for i in learner_ids if str(i).strip()))
    if not ids:
        raise BulkError("none_selected", "no learner selected: tick the learners first")
    if len(ids) > MAX_BULK:
        raise BulkError("too_many", f"{len(ids)} learners selected: at most {MAX_BULK} per "
                                    "action (filter the list, then act on each part)",
                        count=len(ids))
    return ids


def plan_bulk(*, repo: Repository, learner_ids: Sequence[str], action: str,
              facility_id: str = "") -> BulkPlan:
    """The plan of `action` on the selected learners (BulkError when it cannot be one)."""
    if action not in ACTIONS:
        raise BulkError("bad_action", f"unknown bulk action {action[:40]!r}: one of "
                                      f"{', '.join(ACTIONS)}")
    ids = _ids(learner_ids)
    found = repo.learners_by_ids(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise BulkError("unknown_learner", f"{len(missing)} of the selected learners no "
                                           "longer exist (erased?): reload the list",
                        count=len(missing))
    chosen = sorted(found.values(), key=lambda lr: (lr.display_name.casefold(),
                                                    lr.staff_number))
    target = None
    if action == "move":
        target = repo.get_facility(facility_id) if facility_id else None
        if target is None:
            raise BulkError("no_facility", "move: choose the facility to move them to")
    people, skipped = [], []
    taken = ({profile_rules.staff_key(lr.staff_number) for lr in repo.list_learners(target.id)}
             if target else set())
    for learner in chosen:
        why = _skip_reason(action, learner, target, taken)
        if why:
            skipped.append((learner, why))
        else:
            people.append(learner)
            if target:
                taken.add(profile_rules.staff_key(learner.staff_number))
    return BulkPlan(action, people, skipped, target)


def _skip_reason(action: str, learner: Learner, target: Facility | None,
                 taken: set[str]) -> str:
    if action == "deactivate":
        return "" if learner.active else "deactivated_already"
    if action == "reactivate":
        return "active_already" if learner.active else ""
    if action == "pin_reset":
        return "" if learner.active else "deactivated"
    assert target is not None
    if learner.facility_id == target.id:
        return "there_already"
    return "staff_number_taken" if profile_rules.staff_key(learner.staff_number) in taken else ""


def apply_bulk(*, repo: Repository, learner_ids: Sequence[str], action: str,
               facility_id: str = "", setup_ttl_s: int, by: str = audit.SERVER) -> BulkDone:
    """Do a confirmed bulk action on exactly the learners confirmed (`learner_ids`, the
    plan's people): BulkError `changed` when the plan is no longer the same for them."""
    plan = plan_bulk(repo=repo, learner_ids=learner_ids, action=action,
                     facility_id=facility_id)
    if plan.skipped:
        raise BulkError("changed", f"{len(plan.skipped)} of the learners changed since you "
                                   "confirmed: nothing was done; review again",
                        count=len(plan.skipped))
    try:
        return BulkDone(plan, _apply(repo, plan, setup_ttl_s, by))
    except BulkConflict as exc:
        raise BulkError("changed", str(exc), count=len(exc.learner_ids)) from None


def _apply(repo: Repository, plan: BulkPlan, setup_ttl_s: int, by: str) -> list[Registered]:
    action, people, n = plan.action, plan.people, len(plan.people)

    def entries() -> list[AuditEntry]:
        return [audit.entry(by, AUDIT_ACTION[action], target=lr.id, learner_id=lr.id,
                            bulk=n) for lr in people]

    setups: list[Registered] = []
    if action == "deactivate":
        repo.deactivate_learners([lr.id for lr in people], now_iso(), audits=entries())
    elif action == "move":
        assert plan.facility is not None
        moves = [(lr.id, lr.facility_id) for lr in people]
        repo.move_learners(moves, plan.facility.id, now_iso(), audits=[
            audit.entry(by, "learner.move", target=lr.id, learner_id=lr.id, bulk=n,
                        to=plan.facility.id, **{"from": lr.facility_id}) for lr in people])
    else:
        expires = format_at(now_utc() + timedelta(seconds=setup_ttl_s))
        changes = []
        for lr in people:
            code = pins.new_setup_code()
            verifier = pins.make_setup_verifier(code)
            changes.append(PinSetupChange(lr.id, verifier, expires))
            setups.append(Registered(lr, PinSetup(lr.id, code, expires)))
        if action == "reactivate":
            repo.reactivate_learners(changes, audits=entries())
        else:
            repo.reset_learner_pins(changes, audits=entries())
    return setups
