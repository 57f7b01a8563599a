"""LearnerState: a learner's progress as an incremental fold over their events.

Every aggregate is built from commutative pieces (set unions, minimum / maximum by
order_key), and events are de-duplicated by id, so the state is the same for any order of
the same events, with duplicates, and after merging two tablets' logs. `apply` is O(1)
per event apart from the few per-question review encounters, so the Store can call it
for every new event and the views stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.core.errors import EventError
from app.core.events import order_key, parse_at
from app.core.learning.payloads import MAX_SECONDS_PER_CARD, check_payload
from app.core.learning.review import Encounter, Leitner, leitner

Key = tuple[str, str, int]
CourseKey = tuple[str, str]
LEARNING_TYPES = frozenset({"lesson.opened", "card.viewed", "quiz.started", "answer.given",
                            "quiz.submitted", "course.completed", "review.answered",
                            "certificate.received"})
POSITION_TYPES = frozenset({"lesson.opened", "card.viewed", "quiz.started", "answer.given",
                            "quiz.submitted"})


@dataclass(slots=True)
class Answer:
    key: Key
    event: str
    choice: list[str]
    score: float


@dataclass(slots=True)
class Attempt:
    id: str
    started: Key | None = None
    seed: int | None = None
    questions: list[str] = field(default_factory=list)
    lang: str | None = None
    pack_version: int | None = None
    #: scored item id → earliest answer (by order_key)
    answers: dict[str, Answer] = field(default_factory=dict)
    #: earliest quiz.submitted: (order_key, score %, passed)
    submitted: tuple[Key, float, bool] | None = None

    #: earliest order_key of any event of this attempt (kept by the fold)
    first: Key | None = None

    @property
    def first_key(self) -> Key:
        return self.first or ("", "", 0)


@dataclass(slots=True)
class CourseProgress:
    pack: str
    course: str
    viewed: dict[str, set[int]] = field(default_factory=dict)
    opened: set[str] = field(default_factory=set)
    attempts: dict[str, Attempt] = field(default_factory=dict)
    #: course.completed event id → order_key; the earliest one counts
    completions: dict[str, Key] = field(default_factory=dict)
    #: latest position event: (order_key, event id, type, ref)
    last: tuple[Key, str, str, dict[str, str]] | None = None
    seconds: float = 0.0
    #: bumped on every change, used as a cache key by the views
    version: int = 0

    @property
    def completed(self) -> tuple[str, Key] | None:
        if not self.completions:
            return None
        event_id, key = min(self.completions.items(), key=lambda kv: (kv[1], kv[0]))
        return event_id, key

    def attempts_in_order(self) -> list[Attempt]:
        return sorted(self.attempts.values(), key=lambda a: (a.first_key, a.id))

    @property
    def best_score(self) -> float | None:
        scores = [a.submitted[1] for a in self.attempts.values() if a.submitted]
        return max(scores) if scores else None

    @property
    def passed(self) -> bool:
        return any(a.submitted and a.submitted[2] for a in self.attempts.values())


@dataclass(frozen=True, slots=True)
class Certificate:
    id: str
    event: str
    at: str
    pack: str | None
    course: str | None
    credential: Any
    title: str | None


class LearnerState:
    """Fold of one learner's learning events (selfassessment.* are folded by
    app.core.assessment.AssessmentState)."""

    def __init__(self, learner: str | None = None) -> None:
        self.learner = learner
        self.seen: set[str] = set()
        self.courses: dict[CourseKey, CourseProgress] = {}
        self.encounters: dict[tuple[str, str, str], list[Encounter]] = {}
        self._leitner: dict[tuple[str, str, str], Leitner] = {}
        self.certificates: dict[str, Certificate] = {}
        #: event id → why it was ignored (bad payload, another learner…)
        self.ignored: dict[str, str] = {}
        self.version = 0

    # -- folding ---------------------------------------------------------------------
    def apply_many(self, events: Any) -> int:
        """Apply events; returns how many were new. Order does not matter."""
        return sum(1 for e in events if self.apply(e))

    def apply(self, event: dict[str, Any]) -> bool:
        """Fold one event in. Returns False for a duplicate or an event that is not a
        learning event; a malformed one is recorded in `ignored` (never raises)."""
        event_id = event.get("id") if isinstance(event, dict) else None
        if not isinstance(event_id, str) or event_id in self.seen:
            return False
        etype = event.get("type")
        if etype not in LEARNING_TYPES:
            return False
        self.seen.add(event_id)
        try:
            if self.learner is not None and event.get("learner") != self.learner:
                raise EventError(f"learner: event of {event.get('learner')!r}, "
                                 f"not of {self.learner!r}")
            check_payload(event)
            key = order_key(event)
            day = parse_at(event["at"]).date()
        except (EventError, KeyError, TypeError) as exc:
            self.ignored[event_id] = str(exc)
            return True
        self.version += 1
        ref = event["ref"]
        if etype == "certificate.received":
            data = event.get("data") or {}
            self.certificates[event_id] = Certificate(
                id=ref["certificate"], event=event_id, at=event["at"], pack=event.get("pack"),
                course=ref.get("course"), credential=data.get("credential"),
                title=data.get("title") if isinstance(data.get("title"), str) else None)
            return True
        course = self._course(event["pack"], ref["course"])
        course.version += 1
        data = event.get("data") or {}
        if etype in POSITION_TYPES and (
                course.last is None or (key, event_id) > (course.last[0], course.last[1])):
            course.last = (key, event_id, etype, dict(ref))
        if etype == "lesson.opened":
            course.opened.add(ref["lesson"])
        elif etype == "card.viewed":
            course.viewed.setdefault(ref["lesson"], set()).add(int(ref["card"]))
            course.opened.add(ref["lesson"])
            course.seconds += min(float(data.get("seconds", 0)), MAX_SECONDS_PER_CARD)
        elif etype == "quiz.started":
            attempt = self._attempt(course, ref["attempt"], key)
            if attempt.started is None or key < attempt.started:
                attempt.started, attempt.seed = key, data["seed"]
                attempt.questions = list(data["questions"])
                attempt.lang = data.get("lang") if isinstance(data.get("lang"), str) else None
                attempt.pack_version = event.get("pack_version")
        elif etype == "answer.given":
            attempt = self._attempt(course, ref["attempt"], key)
            qid = ref["question"]
            old = attempt.answers.get(qid)
            if old is None or (key, event_id) < (old.key, old.event):
                attempt.answers[qid] = Answer(key, event_id, list(data["choice"]),
                                              float(data["score"]))
            self._encounter(event["pack"], ref["course"], qid,
                            Encounter(key, day, data["score"] >= 1.0, False))
        elif etype == "quiz.submitted":
            attempt = self._attempt(course, ref["attempt"], key)
            if attempt.submitted is None or key < attempt.submitted[0]:
                attempt.submitted = (key, float(data["score"]), bool(data["passed"]))
        elif etype == "course.completed":
            course.completions[event_id] = key
        elif etype == "review.answered":
            self._encounter(event["pack"], ref["course"], ref["question"],
                            Encounter(key, day, data["score"] >= 1.0, True))
        return True

    def _course(self, pack: str, course: str) -> CourseProgress:
        progress = self.courses.get((pack, course))
        if progress is None:
            progress = self.courses[(pack, course)] = CourseProgress(pack, course)
        return progress

    @staticmethod
    def _attempt(course: CourseProgress, attempt_id: str, key: Key) -> Attempt:
        attempt = course.attempts.get(attempt_id)
        if attempt is None:
            attempt = course.attempts[attempt_id] = Attempt(attempt_id)
        if attempt.first is None or key < attempt.first:
            attempt.first = key
        return attempt

    def _encounter(self, pack: str, course: str, question: str, enc: Encounter) -> None:
        self.encounters.setdefault((pack, course, question), []).append(enc)
        self._leitner.pop((pack, course, question), None)

    # -- queries ---------------------------------------------------------------------
    def course(self, pack: str, course: str) -> CourseProgress:
        """Progress of a course (an empty one if the learner never touched it)."""
        return self.courses.get((pack, course)) or CourseProgress(pack, course)

    def leitner(self, pack: str, course: str, question: str) -> Leitner:
        item = (pack, course, question)
        cached = self._leitner.get(item)
        if cached is None:
            cached = self._leitner[item] = leitner(self.encounters.get(item, []))
        return cached

    def review_items(self) -> list[tuple[tuple[str, str, str], Leitner]]:
        """Every question currently in a Leitner box, with its box and due day."""
        out = []
        for item in self.encounters:
            state = self.leitner(*item)
            if state.box is not None:
                out.append((item, state))
        return out

    def due(self, today: date) -> list[tuple[tuple[str, str, str], Leitner]]:
        """Questions due on or before `today`, most overdue first (then lowest box)."""
        items = [(i, s) for i, s in self.review_items() if s.due is not None and s.due <= today]
        items.sort(key=lambda x: (x[1].due, x[1].box, x[0]))
        return items
