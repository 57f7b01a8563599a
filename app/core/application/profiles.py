"""Learner profiles on a shared tablet, as the screens see them.

Before sign-in the "Who is learning?" screen may show a name, initials and role — a
:class:`ProfileTile` — and nothing else. After sign-in the session holds the learner's
:class:`LearnerProfile` (public fields only: never a PIN verifier or lock-out state).
Both are read from the store's profiles (app/core/store/profiles.py), which owns the
field rules (app/core/profile_rules.py) and the PINs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.application.forms import NewProfile
from app.core.errors import AuthError
from app.core.i18n import N_
from app.core.pins import PIN_MIN_DIGITS
from app.core.roles import ROLES
from app.core.store import Store, reattribute

#: Labels of staff roles (app/core/roles.py ids), translated where shown.
ROLE_LABELS: dict[str, str] = {
    "prison_officer": N_("Prison officer"),
    "reintegration_specialist": N_("Reintegration specialist"),
    "psychologist": N_("Psychologist"),
    "social_worker": N_("Social worker"),
    "medical_staff": N_("Medical staff"),
    "ngo_staff": N_("NGO staff"),
    "trainer": N_("Trainer"),
    "mentor": N_("Mentor"),
    "manager": N_("Manager"),
}
assert set(ROLE_LABELS) == set(ROLES)


@dataclass(frozen=True)
class LearnerProfile:
    """The public fields of one learner's profile."""

    id: str
    display_name: str
    staff_number: str
    role: str
    language: str
    needs_pin: bool = False   # registered by an admin: the learner sets a first PIN

    @classmethod
    def from_store(cls, doc: dict[str, Any]) -> LearnerProfile:
        return cls(id=str(doc["id"]), display_name=str(doc.get("display_name") or ""),
                   staff_number=str(doc.get("staff_number") or ""),
                   role=str(doc.get("role") or ""), language=str(doc.get("language") or ""),
                   needs_pin=bool(doc.get("needs_pin", False)))


@dataclass(frozen=True)
class ProfileTile:
    """What the "Who is learning?" screen may show about a profile before sign-in."""

    id: str
    name: str
    initials: str
    role: str
    needs_pin: bool = False


def initials(name: str) -> str:
    """"Ona Petraitytė" → "OP"; a name without letters → its first character or "?"."""
    parts = [p for p in name.split() if p[:1].isalpha()]
    if not parts:
        return (name.strip()[:1] or "?").upper()
    return (parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")).upper()


class Profiles:
    """The profiles of one tablet's store (shared by all its sessions)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def tiles(self) -> list[ProfileTile]:
        tiles = []
        for doc in self.store.profiles.list():
            profile = LearnerProfile.from_store(doc)
            tiles.append(ProfileTile(id=profile.id, name=profile.display_name,
                                     initials=initials(profile.display_name),
                                     role=profile.role, needs_pin=profile.needs_pin))
        return sorted(tiles, key=lambda t: t.name.casefold())

    def get(self, profile_id: str) -> LearnerProfile:
        doc = self.store.profiles.get(profile_id)
        if doc is None:
            raise AuthError(f"profile {profile_id!r}: not on this device")
        return LearnerProfile.from_store(doc)

    def needs_pin(self, profile_id: str) -> bool:
        """True while this profile has no PIN (the who screen opens "Set your PIN")."""
        doc = self.store.profiles.get(profile_id)
        return doc is not None and bool(doc.get("needs_pin"))

    def create(self, form: NewProfile, *, min_digits: int = PIN_MIN_DIGITS) -> str:
        """Create a checked "new profile" form offline; returns the new learner id."""
        created = self.store.profiles.create(form.display_name, form.staff_number, form.role,
                                             form.language, form.pin, min_digits=min_digits)
        return str(created["id"])

    def take_reattribution_notice(self) -> bool:
        """True once after a sync moved a refused profile's work to the learner who
        already held the staff number (app/core/store/reattribute.py): the who screen
        tells her to sign in with the PIN she set on the other tablet."""
        return bool(reattribute.take_notices(self.store))
