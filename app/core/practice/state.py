"""PracticeState: a learner's ``practice.*`` events as a fold (order-independent,
idempotent, like the learning and self-assessment folds).

Every ``practice.observed`` is kept (one task may be observed several times, by several
mentors); a mentor-validated rating of a profile task keeps the latest by
(order_key, event id), as self-ratings do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.learning.fold import EventFold, Key

TYPES = frozenset({"practice.observed", "practice.rated"})


@dataclass(frozen=True, slots=True)
class Observation:
    event: dict[str, Any]
    pack: str
    course: str
    task: str
    mentor: str
    date: str
    checklist: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ValidatedRating:
    key: Key
    event: str
    level: int
    mentor: str


class PracticeState(EventFold):
    types = TYPES

    def __init__(self, learner: str | None = None) -> None:
        super().__init__(learner)
        self.observations: dict[str, Observation] = {}
        #: (pack, profile, task) → the latest mentor-validated level
        self.ratings: dict[tuple[str, str, str], ValidatedRating] = {}

    def _fold(self, event: dict[str, Any], event_id: str, etype: str, key: Key,
              extra: Any) -> None:
        ref, data = event["ref"], event.get("data") or {}
        if etype == "practice.observed":
            self.observations[event_id] = Observation(
                event=event, pack=event["pack"], course=ref["course"], task=ref["task"],
                mentor=ref["mentor"], date=data["date"], checklist=tuple(data["checklist"]))
            return
        where = (event["pack"], ref["profile"], ref["task"])
        old = self.ratings.get(where)
        if old is None or (key, event_id) > (old.key, old.event):
            self.ratings[where] = ValidatedRating(key, event_id, int(data["level"]),
                                                  ref["mentor"])

    def of_task(self, pack: str, course: str, task: str) -> list[Observation]:
        """Observations of one task, oldest date first."""
        return sorted((o for o in self.observations.values()
                       if (o.pack, o.course, o.task) == (pack, course, task)),
                      key=lambda o: (o.date, o.event["id"]))

    def validated_levels(self, pack: str, profile: str) -> dict[str, ValidatedRating]:
        return {task: r for (p, prof, task), r in self.ratings.items()
                if (p, prof) == (pack, profile)}
