"""Learner profiles pushed by tablets (the admin side is learners.py).

The principle (docs/security.md): a tablet reports a profile; the server decides what it
may change. Every field is checked by the shared rules (app/core/profile_rules.py) — the
same the tablet and the CSV import use — and a refused profile is answered per profile,
so one bad profile never blocks the events of other learners.

Pushed profiles (docs/sync-protocol.md §4.3):

* `updated_at` is clamped to the server's clock (the receive time): a tablet clock ahead,
  or a forged ``9999-12-31``, cannot make a copy "newer" than every later real change.
* Name, staff number, role and language: the latest `updated_at` wins, per facility.
* The PIN verifier is not decided by time but by a proof: a new verifier for a known
  learner is taken only with ``pin_proof`` = K of the PIN the server has (or, for the
  first PIN of a learner an admin registered, K of the one-time set-up code, unexpired;
  taking it uses the code up). Otherwise ``rejected`` / ``pin_not_proven`` with the
  server's ``current`` copy, which the tablet takes. A new verifier must be argon2id at
  OWASP cost (``pins.is_strong``). Old ``scrypt$`` verifiers are stored wrapped.
* PIN policy (SHIFT_PIN_DIGITS): the verifier hides the PIN, so the server cannot count
  its digits. A tablet that set the PIN sends ``pin_digits`` (its length) with the new
  verifier; a claim below the policy is refused (``pin_too_short``). A verifier without
  a claim (an older app, or a re-hash of an existing PIN) is taken: an honest app
  enforces the policy itself, a modified one could lie anyway (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from app.core import pins, profile_rules
from app.core.clock import now_utc
from app.core.errors import ErrorCode, ProfileFieldError, StoreError
from app.core.events import format_at, parse_at
from sync_server.db.repository import Device, Learner, ProfileResult, Repository


@dataclass(frozen=True)
class Pushed:
    """One pushed profile after the field rules."""

    learner: Learner
    proof: bytes | None
    pin_digits: int | None = None


def check_pushed(raw: dict[str, Any], device: Device, now: datetime) -> Pushed:
    """Apply the shared field rules; ProfileFieldError names the field."""
    lid = profile_rules.learner_id(raw.get("id"))
    fields = profile_rules.check_fields(raw)
    verifier = raw.get("pin_verifier")
    if verifier is not None:
        verifier = profile_rules.pin_verifier(verifier)
    proof = None
    if raw.get("pin_proof") is not None:
        try:
            proof = pins.decode_proof(raw["pin_proof"])
        except StoreError as exc:
            raise ProfileFieldError("pin_proof", ErrorCode.FIELD_BAD_FORMAT,
                                    str(exc).split(": ", 1)[-1]) from None
    try:
        updated = parse_at(raw.get("updated_at"))   # type: ignore[arg-type]
    except (StoreError, TypeError):
        raise ProfileFieldError("updated_at", ErrorCode.FIELD_BAD_FORMAT, "expected a time like "
                                "2026-11-23T08:00:00.000Z") from None
    digits = raw.get("pin_digits")
    if digits is not None and (not isinstance(digits, int) or isinstance(digits, bool)
                               or not 1 <= digits <= pins.PIN_MAX_DIGITS):
        raise ProfileFieldError("pin_digits", ErrorCode.FIELD_BAD_FORMAT,
                                f"expected a whole number 1..{pins.PIN_MAX_DIGITS}")
    stamp = format_at(min(updated, now))            # the server's clock bounds it
    return Pushed(Learner(id=lid, facility_id=device.facility_id,
                          staff_number=fields["staff_number"], role=fields["role"],
                          language=fields["language"], display_name=fields["display_name"],
                          pin_verifier=verifier, updated_at=stamp), proof, digits)


def _proof_problem(existing: Learner, proof: bytes | None, now: datetime) -> str | None:
    """Why `proof` does not allow a new verifier for `existing` (None: it does)."""
    if existing.pin_verifier:
        if proof is None or not pins.proof_matches(existing.pin_verifier, proof):
            return "pin_proof: a PIN change must prove the current PIN"
        return None
    if not existing.pin_setup_verifier:
        return ("pin_proof: no PIN set-up code is open for this learner; the admin makes one "
                "(console or POST /api/v1/admin/learners/{id}/pin-setup)")
    expires = existing.pin_setup_expires_at
    if expires and parse_at(expires) < now:
        return f"pin_proof: the PIN set-up code expired at {expires}; the admin makes a new one"
    if proof is None or not pins.proof_matches(existing.pin_setup_verifier, proof):
        return "pin_proof: a first PIN must prove the one-time set-up code"
    return None


def save_pushed(repo: Repository, device: Device, profiles: list[dict[str, Any]], *,
                now: datetime | None = None, pin_min_digits: int = 4) -> list[ProfileResult]:
    moment = now or now_utc()
    return [_save_one(repo, device, raw, moment, pin_min_digits) for raw in profiles]


def _save_one(repo: Repository, device: Device, raw: dict[str, Any],
              now: datetime, pin_min_digits: int = 4) -> ProfileResult:
    pid = raw.get("id") if isinstance(raw.get("id"), str) else ""
    try:
        pushed = check_pushed(raw, device, now)
    except ProfileFieldError as exc:
        reason = "unknown_role" if exc.field == "role" else "bad_field"
        return ProfileResult(str(pid), "rejected", reason, detail=str(exc))
    profile, verifier = pushed.learner, pushed.learner.pin_verifier
    existing = repo.get_learner(profile.id)
    if existing is not None and existing.facility_id != device.facility_id:
        return ProfileResult(profile.id, "rejected", "other_facility")
    changes_pin = verifier is not None and (existing is None
                                            or not pins.same(verifier, existing.pin_verifier))
    if existing is None and verifier is None:
        return ProfileResult(profile.id, "rejected", "bad_field",
                             detail="pin_verifier: a new profile needs a PIN verifier")
    if changes_pin and not pins.is_strong(verifier):   # type: ignore[arg-type]
        return ProfileResult(profile.id, "rejected", "bad_field",
                             detail="pin_verifier: weaker than argon2id at OWASP cost "
                                    f"(m ≥ {pins.MIN_ARGON2_M} KiB); update the app")
    if changes_pin and pushed.pin_digits is not None and pushed.pin_digits < pin_min_digits:
        return ProfileResult(profile.id, "rejected", "pin_too_short",
                             detail=f"pin_digits: this deployment requires new PINs of at "
                                    f"least {pin_min_digits} digits",
                             current=existing)
    if existing is None:
        return repo.save_profile(replace(profile, pin_verifier=pins.canonical(verifier)))  # type: ignore[arg-type]
    if changes_pin:
        problem = _proof_problem(existing, pushed.proof, now)
        if problem is not None:
            return ProfileResult(profile.id, "rejected", "pin_not_proven", detail=problem,
                                 current=existing)
    result = repo.save_profile(profile)
    if result.status == "rejected" or not changes_pin:
        return result
    if not repo.set_pin_verifier(profile.id, pins.canonical(verifier),  # type: ignore[arg-type]
                                 expected=existing.pin_verifier,
                                 expected_setup=existing.pin_setup_verifier):
        return ProfileResult(profile.id, "rejected", "pin_not_proven",
                             detail="pin_proof: the PIN changed meanwhile",
                             current=repo.get_learner(profile.id))
    return ProfileResult(profile.id, "updated")


def profile_json(p: Learner) -> dict[str, Any]:
    """A learner as the pull (and a refused PIN change) sends it to a tablet of its
    facility: the PIN verifier, never a PIN; the set-up code's verifier while the learner
    has no PIN."""
    return {"id": p.id, "staff_number": p.staff_number, "display_name": p.display_name,
            "role": p.role, "language": p.language, "pin_verifier": p.pin_verifier,
            "updated_at": p.updated_at, "facility_id": p.facility_id,
            "pin_setup_verifier": None if p.pin_verifier else p.pin_setup_verifier,
            "pin_setup_expires_at": None if p.pin_verifier else p.pin_setup_expires_at}
