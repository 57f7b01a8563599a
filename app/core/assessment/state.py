"""AssessmentState: self-assessments as a fold over selfassessment.* events.

Like the learning fold it is order-independent and idempotent: ratings of a task keep
the latest by (order_key, event id); start and completion keep the earliest.
`FOLD_VERSION` names what it computes: bump it whenever a change can change the state
some events fold to, so saved snapshots (app.core.learning.history) are recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.learning.fold import EventFold, Key

#: what the self-assessment fold computes: bump on any change of it
FOLD_VERSION = 1

TYPES = frozenset({"selfassessment.started", "selfassessment.rated",
                   "selfassessment.completed"})


@dataclass(slots=True)
class Rating:
    key: Key
    event: str
    level: int
    duty: str | None


@dataclass(slots=True)
class AssessmentRecord:
    id: str
    pack: str
    profile: str
    role: str | None = None
    lang: str | None = None
    started: tuple[Key, str] | None = None
    ratings: dict[str, Rating] = field(default_factory=dict)
    completions: dict[str, Key] = field(default_factory=dict)

    @property
    def completed(self) -> Key | None:
        return min(self.completions.values()) if self.completions else None

    @property
    def first_key(self) -> Key:
        keys = [k for k in (self.started[0] if self.started else None,
                            *(r.key for r in self.ratings.values()),
                            *self.completions.values()) if k]
        return min(keys) if keys else ("", "", 0)

    def levels(self) -> dict[str, int]:
        return {task: r.level for task, r in self.ratings.items()}


class AssessmentState(EventFold):
    types = TYPES

    def __init__(self, learner: str | None = None) -> None:
        super().__init__(learner)
        #: (pack, profile, assessment id) → record; keyed by all three so a hostile
        #: event reusing an id under another profile cannot make the fold order-dependent
        self.assessments: dict[tuple[str, str, str], AssessmentRecord] = {}

    def _fold(self, event: dict[str, Any], event_id: str, etype: str, key: Key,
              extra: Any) -> None:
        ref, data = event["ref"], event.get("data") or {}
        where = (event["pack"], ref["profile"], ref["assessment"])
        record = self.assessments.get(where)
        if record is None:
            record = self.assessments[where] = AssessmentRecord(ref["assessment"], *where[:2])
        if etype == "selfassessment.started":
            if record.started is None or (key, event_id) < record.started:
                record.started = (key, event_id)
                record.role = data["role"]
                record.lang = data.get("lang") if isinstance(data.get("lang"), str) else None
        elif etype == "selfassessment.rated":
            old = record.ratings.get(ref["task"])
            if old is None or (key, event_id) > (old.key, old.event):
                record.ratings[ref["task"]] = Rating(key, event_id, int(data["level"]),
                                                     ref.get("duty"))
        else:
            record.completions[event_id] = key

    # -- plain data (snapshots) ------------------------------------------------------
    def to_plain(self) -> tuple[Any, ...]:
        """The whole state as tuples, lists, dicts, sets and scalars (for marshal)."""
        records = [(r.id, r.pack, r.profile, r.role, r.lang, r.started,
                    [(task, x.key, x.event, x.level, x.duty) for task, x in r.ratings.items()],
                    r.completions)
                   for r in self.assessments.values()]
        return (*self._base_plain(), records)

    @classmethod
    def from_plain(cls, learner: str | None, plain: Any) -> AssessmentState:
        *base, records = plain
        state = cls(learner)
        state._restore_base(base)
        for aid, pack, profile, role, lang, started, ratings, completions in records:
            if type(completions) is not dict:
                raise TypeError("assessment completions: expected a dict")
            state.assessments[(pack, profile, aid)] = AssessmentRecord(
                aid, pack, profile, role, lang, started,
                {task: Rating(key, event, level, duty)
                 for task, key, event, level, duty in ratings},
                completions)
        return state

    def get(self, pack: str, profile: str, assessment: str) -> AssessmentRecord | None:
        return self.assessments.get((pack, profile, assessment))

    def of_profile(self, pack: str, profile: str) -> list[AssessmentRecord]:
        """Assessments of one profile, oldest first."""
        return sorted((a for a in self.assessments.values()
                       if (a.pack, a.profile) == (pack, profile)),
                      key=lambda a: (a.first_key, a.id))
