"""What one stored event adds to the report aggregates (db/aggregates.py), as pure merges.

Every merge is commutative, associative and idempotent — a set union, a maximum or a
minimum — so the aggregates do not depend on the order events arrive in, on which
tablet sent them first, or on a batch being applied in pieces; and applying an event
twice changes nothing (the ingest applies only rows it newly stored anyway). The
definitions are those of the dashboard fold (services/stats.py, docs/admin-guide.md):

* per learner × pack × course — cards viewed = distinct (lesson, card) of ``card.viewed``;
  attempts = distinct ``ref.attempt`` (else the event id) of ``quiz.submitted``; best
  score = the highest numeric ``data.score`` of them; passed = any with
  ``data.passed is True``; completed_at = the earliest ``at`` of ``course.completed``;
  last_at = the latest ``at`` of any of these three;
* per learner × profile × task — the latest integer ``selfassessment.rated`` level, latest
  by the order key (at, device, seq), the event id breaking a tie.

A best score is kept as its JSON spelling (``85`` or ``85.5``), so reports print it as
the device sent it; of two equal values the shorter spelling wins (order-free).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

COURSE_TYPES = ("card.viewed", "quiz.submitted", "course.completed")
RATING_TYPE = "selfassessment.rated"
#: the event types that change an aggregate (others only count towards the totals)
AGGREGATE_TYPES = (*COURSE_TYPES, RATING_TYPE)

CourseKey = tuple[str, str, str]          # learner, pack, course
RatingKey = tuple[str, str, str]          # learner, profile, task
RatingOrder = tuple[str, str, int, str]   # at, device, seq, event id


@dataclass
class CourseAgg:
    """One learner × course row of `course_progress`."""
    cards: set[tuple[str, str]] = field(default_factory=set)
    attempts: set[str] = field(default_factory=set)
    best_score: str | None = None
    passed: bool = False
    completed_at: str | None = None
    last_at: str | None = None

    def merge(self, other: CourseAgg) -> None:
        self.cards |= other.cards
        self.attempts |= other.attempts
        self.best_score = best_of(self.best_score, other.best_score)
        self.passed = self.passed or other.passed
        self.completed_at = _min(self.completed_at, other.completed_at)
        self.last_at = _max(self.last_at, other.last_at)

    def columns(self) -> tuple[Any, ...]:
        """(cards_viewed, attempts, best_score, passed, completed_at, last_at) as stored
        in `course_progress`."""
        return (len(self.cards), len(self.attempts), self.best_score, int(self.passed),
                self.completed_at, self.last_at)

    def set_columns(self) -> tuple[str, str]:
        """(cards, attempt_ids) as stored in `course_sets` (JSON lists, sorted)."""
        return (json.dumps(sorted(self.cards), separators=(",", ":")),
                json.dumps(sorted(self.attempts), separators=(",", ":")))

    @classmethod
    def from_columns(cls, cards: str, attempts: str, best_score: str | None, passed: Any,
                     completed_at: str | None, last_at: str | None) -> CourseAgg:
        return cls({(str(a), str(b)) for a, b in json.loads(cards)},
                   {str(a) for a in json.loads(attempts)}, best_score, bool(passed),
                   completed_at, last_at)


@dataclass(frozen=True)
class Rating:
    """One learner × profile × task row of `self_ratings`: the winning event."""
    order: RatingOrder
    level: int


def best_of(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a if b is None else b
    fa, fb = float(a), float(b)
    if fa != fb:
        return a if fa > fb else b
    return min(a, b, key=lambda s: (len(s), s))


def _min(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class Contribution:
    """What a batch of events adds: course rows and winning ratings, by key."""
    courses: dict[CourseKey, CourseAgg] = field(default_factory=dict)
    ratings: dict[RatingKey, Rating] = field(default_factory=dict)

    def add(self, event: dict[str, Any]) -> None:
        """Fold one event in (events of other types, or without a usable key, are skipped
        exactly as the dashboard fold skips them)."""
        etype = event.get("type")
        learner = event.get("learner")
        ref = event.get("ref") or {}
        if not isinstance(learner, str) or not isinstance(ref, dict):
            return
        if etype == RATING_TYPE:
            data = event.get("data")
            level = data.get("level") if isinstance(data, dict) else None
            if isinstance(level, int) and not isinstance(level, bool):
                key = (learner, str(ref.get("profile")), str(ref.get("task")))
                rating = Rating((str(event.get("at", "")), str(event.get("device", "")),
                                 int(event.get("seq") or 0), str(event.get("id", ""))), level)
                self.add_rating(key, rating)
            return
        course = ref.get("course")
        if etype not in COURSE_TYPES or not isinstance(course, str):
            return
        key = (learner, str(event.get("pack") or ""), course)
        agg = self.courses.get(key)
        if agg is None:
            agg = self.courses[key] = CourseAgg()
        at = str(event.get("at"))
        agg.last_at = _max(agg.last_at, at)         # merged in place: the same merges
        data = event.get("data")
        if etype == "card.viewed":
            agg.cards.add((str(ref.get("lesson")), str(ref.get("card"))))
        elif etype == "quiz.submitted":
            agg.attempts.add(str(ref.get("attempt") or event.get("id")))
            score = data.get("score") if isinstance(data, dict) else None
            if isinstance(score, int | float) and not isinstance(score, bool):
                agg.best_score = best_of(agg.best_score, str(score))
            agg.passed = agg.passed or (isinstance(data, dict) and data.get("passed") is True)
        else:
            agg.completed_at = _min(agg.completed_at, at)

    def add_course(self, key: CourseKey, agg: CourseAgg) -> None:
        mine = self.courses.get(key)
        if mine is None:
            self.courses[key] = agg
        else:
            mine.merge(agg)

    def add_rating(self, key: RatingKey, rating: Rating) -> None:
        mine = self.ratings.get(key)
        if mine is None or rating.order > mine.order:
            self.ratings[key] = rating

    @property
    def learners(self) -> set[str]:
        return {k[0] for k in self.courses} | {k[0] for k in self.ratings}


def parsed(content: str) -> dict[str, Any]:
    """A stored event's content as an object ({} for text that is not one: the store
    accepts any text, and an aggregate never fails an insert)."""
    try:
        event = json.loads(content)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def fold(events: Iterable[dict[str, Any]]) -> Contribution:
    """The aggregates of `events` alone (a full recompute is this over every event)."""
    out = Contribution()
    for event in events:
        out.add(event)
    return out
