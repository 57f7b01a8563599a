"""Staff roles: the audience vocabulary of packs, profiles and learners.

Labels are translated by the UI (gettext); these ids are stable and appear in packs,
events and the server database.
"""

from __future__ import annotations

ROLES: tuple[str, ...] = (
    "prison_officer",
    "reintegration_specialist",
    "psychologist",
    "social_worker",
    "medical_staff",
    "ngo_staff",
    "trainer",
    "manager",
    "mentor",
)

ROLE_LABELS_EN: dict[str, str] = {
    "prison_officer": "Prison officer",
    "reintegration_specialist": "Reintegration specialist",
    "psychologist": "Psychologist",
    "social_worker": "Social worker",
    "medical_staff": "Medical staff",
    "ngo_staff": "NGO staff",
    "trainer": "Trainer",
    "manager": "Manager",
    "mentor": "Mentor",
}


#: roles that may confirm a colleague's workplace task as observed, or validate their
#: self-rating (docs/events.md ``practice.observed``); checked on the tablet and again by
#: the server, which decides what an observation is worth
MENTOR_ROLES: frozenset[str] = frozenset({"mentor", "trainer"})


def is_role(value: object) -> bool:
    return isinstance(value, str) and value in ROLES
