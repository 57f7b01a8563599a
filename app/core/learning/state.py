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

from app.core.learning.fold import EventFold, Key, utc_day
from app.core.learning.payloads import MAX_SECONDS_PER_CARD
from app.core.learning.review import Encounter, Leitner, leitner

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
    #: pack version the answer was given (and scored) under
    pack_version: int | None = None


@dataclass(slots=True)
class Attempt:
    id: str
    started: Key | None = None
    seed: int | None = None
    #: the learner's attempt number the draw was made for (None: drawn before item banks)
    number: int | None = None
    questions: list[str] = field(default_factory=list)
    lang: str | None = None
    pack_version: int | None = None
    #: scored item id → earliest answer (by order_key)
    answers: dict[str, Answer] = field(default_factory=dict)
    #: earliest quiz.submitted: (order_key, score %, passed)
    submitted: tuple[Key, float, bool] | None = None
    #: pack version of that quiz.submitted (its pass mark decided `passed`)
    submitted_version: int | None = None

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
    #: time on cards, Σ data.seconds capped per card (kept as `millis` for an exact sum)
    seconds: float = 0.0
    #: bumped on every change, used as a cache key by the views
    version: int = 0
    millis: int = 0

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


class LearnerState(EventFold):
    """Fold of one learner's learning events (selfassessment.* are folded by
    app.core.assessment.AssessmentState)."""

    types = LEARNING_TYPES

    def __init__(self, learner: str | None = None) -> None:
        super().__init__(learner)
        self.courses: dict[CourseKey, CourseProgress] = {}
        self.encounters: dict[tuple[str, str, str], list[Encounter]] = {}
        self._leitner: dict[tuple[str, str, str], Leitner] = {}
        self.certificates: dict[str, Certificate] = {}

    # -- folding ---------------------------------------------------------------------
    def _admit(self, event: dict[str, Any], etype: str) -> date:
        return utc_day(event["at"])          # the day of a review encounter; checks `at`

    def _fold(self, event: dict[str, Any], event_id: str, etype: str, key: Key,
              day: date) -> None:
        ref = event["ref"]
        if etype == "certificate.received":
            data = event.get("data") or {}
            self.certificates[event_id] = Certificate(
                id=ref["certificate"], event=event_id, at=event["at"], pack=event.get("pack"),
                course=ref.get("course"), credential=data.get("credential"),
                title=data.get("title") if isinstance(data.get("title"), str) else None)
            return
        pack = event["pack"]
        course = self.courses.get((pack, ref["course"]))
        if course is None:
            course = self.courses[(pack, ref["course"])] = CourseProgress(pack, ref["course"])
        course.version += 1
        data = event.get("data") or {}
        if etype in POSITION_TYPES:
            last = course.last
            if last is None or key > last[0] or (key == last[0] and event_id > last[1]):
                course.last = (key, event_id, etype, dict(ref))
        if etype == "card.viewed":
            lesson = ref["lesson"]
            viewed = course.viewed.get(lesson)
            if viewed is None:
                viewed = course.viewed[lesson] = set()
            viewed.add(int(ref["card"]))
            course.opened.add(lesson)
            seconds = data.get("seconds")
            if seconds:
                # integer milliseconds: a float sum would depend on the order of events
                course.millis += round(min(float(seconds), MAX_SECONDS_PER_CARD) * 1000)
                course.seconds = course.millis / 1000
        elif etype == "lesson.opened":
            course.opened.add(ref["lesson"])
        elif etype == "answer.given":
            attempt = self._attempt(course, ref["attempt"], key)
            qid = ref["question"]
            old = attempt.answers.get(qid)
            if old is None or (key, event_id) < (old.key, old.event):
                attempt.answers[qid] = Answer(key, event_id, list(data["choice"]),
                                              float(data["score"]), event.get("pack_version"))
            self._encounter(pack, ref["course"], qid,
                            Encounter(key, day, data["score"] >= 1.0, False))
        elif etype == "quiz.started":
            attempt = self._attempt(course, ref["attempt"], key)
            if attempt.started is None or key < attempt.started:
                attempt.started, attempt.seed = key, data["seed"]
                attempt.number = data.get("number")
                attempt.questions = list(data["questions"])
                attempt.lang = data.get("lang") if isinstance(data.get("lang"), str) else None
                attempt.pack_version = event.get("pack_version")
        elif etype == "quiz.submitted":
            attempt = self._attempt(course, ref["attempt"], key)
            if attempt.submitted is None or key < attempt.submitted[0]:
                attempt.submitted = (key, float(data["score"]), bool(data["passed"]))
                attempt.submitted_version = event.get("pack_version")
        elif etype == "course.completed":
            course.completions[event_id] = key
        elif etype == "review.answered":
            self._encounter(pack, ref["course"], ref["question"],
                            Encounter(key, day, data["score"] >= 1.0, True))

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
