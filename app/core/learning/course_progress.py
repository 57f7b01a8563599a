"""What the learning fold (state.py) holds per course: viewed cards, quiz attempts with
their answers, completions, time on cards; and the certificates a learner received.

Kept apart from the fold itself so each module stays one job: these are the records,
state.py decides how events change them. An attempt restored from a fold snapshot keeps
its detail packed (`pack_plain` bytes) until first read.
"""

from __future__ import annotations

import marshal
import zlib
from dataclasses import dataclass, field
from typing import Any

from app.core.learning.fold import Key

CourseKey = tuple[str, str]


@dataclass(slots=True)
class Answer:
    key: Key
    event: str
    choice: list[str]
    score: float
    #: pack version the answer was given (and scored) under
    pack_version: int | None = None


class Attempt:
    """One quiz attempt. Fields:

    - ``started``/``seed``/``number``/``questions``/``lang``/``pack_version``: of the earliest
      quiz.started (by (order_key, event id): ``started_event``);
    - ``answers``: scored item id → earliest answer (by (order_key, event id));
    - ``submitted``: earliest quiz.submitted as (order_key, score %, passed), its id
      ``submitted_event`` and ``submitted_version`` (its pass mark decided `passed`);
    - ``first``: earliest order_key of any event of this attempt.

    An attempt restored from a snapshot keeps ``questions`` and ``answers`` packed (bytes)
    until they are first read: at sign-in only the open attempt's are needed, and
    thousands of finished attempts would otherwise be tens of thousands of objects to
    build (and for the garbage collector to walk) for nothing.
    """

    __slots__ = ("id", "started", "seed", "number", "lang", "pack_version", "submitted",
                 "submitted_version", "first", "started_event", "submitted_event",
                 "_questions", "_answers", "_packed")

    def __init__(self, id: str, started: Key | None = None, seed: int | None = None,  # noqa: A002
                 questions: list[str] | None = None, lang: str | None = None,
                 pack_version: int | None = None, answers: dict[str, Answer] | None = None,
                 submitted: tuple[Key, float, bool] | None = None,
                 submitted_version: int | None = None, first: Key | None = None,
                 started_event: str = "", submitted_event: str = "",
                 number: int | None = None) -> None:
        self.id = id
        self.started = started
        self.seed = seed
        #: the learner's attempt number the draw was made for (None: drawn before item banks)
        self.number = number
        self.lang = lang
        self.pack_version = pack_version
        self.submitted = submitted
        self.submitted_version = submitted_version
        self.first = first
        self.started_event = started_event
        self.submitted_event = submitted_event
        self._questions: list[str] = questions if questions is not None else []
        self._answers: dict[str, Answer] = answers if answers is not None else {}
        self._packed: bytes | None = None

    @property
    def questions(self) -> list[str]:
        if self._packed is not None:
            self._unpack()
        return self._questions

    @questions.setter
    def questions(self, value: list[str]) -> None:
        if self._packed is not None:
            self._unpack()
        self._questions = value

    @property
    def answers(self) -> dict[str, Answer]:
        if self._packed is not None:
            self._unpack()
        return self._answers

    @property
    def first_key(self) -> Key:
        return self.first or ("", "", 0)

    def packed_detail(self) -> bytes:
        """``questions`` and ``answers`` as marshal bytes (kept as they came if unread)."""
        if self._packed is not None:
            return self._packed
        return pack_plain((self._questions, [(q, a.key, a.event, a.choice, a.score, a.pack_version)
                                        for q, a in self._answers.items()]))

    @classmethod
    def with_packed_detail(cls, packed: bytes, **fields: Any) -> Attempt:
        attempt = cls(**fields)
        attempt._packed = packed
        return attempt

    def _unpack(self) -> None:
        packed, self._packed = self._packed, None
        questions, answers = unpack_plain(packed)  # type: ignore[arg-type]
        if type(questions) is not list or type(answers) is not list:
            raise TypeError("attempt detail: expected two lists")
        self._questions = questions
        self._answers = {q: Answer(key, event, choice, score, pv)
                         for q, key, event, choice, score, pv in answers}

    def replace(self, **changes: Any) -> Attempt:
        """A copy with some fields changed (what dataclasses.replace did)."""
        fields = dict(zip(_ATTEMPT_FIELDS, self._fields(), strict=True))
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"Attempt has no field(s) {sorted(unknown)}")
        fields.update(changes)
        fields["questions"] = list(fields["questions"])
        fields["answers"] = dict(fields["answers"])
        return Attempt(**fields)

    def _fields(self) -> tuple[Any, ...]:
        return (self.id, self.started, self.seed, self.questions, self.lang, self.pack_version,
                self.answers, self.submitted, self.submitted_version, self.first,
                self.started_event, self.submitted_event, self.number)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Attempt):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return (f"Attempt(id={self.id!r}, started={self.started!r}, "
                f"submitted={self.submitted!r}, answers={len(self.answers)})")


_ATTEMPT_FIELDS = ("id", "started", "seed", "questions", "lang", "pack_version", "answers",
                   "submitted", "submitted_version", "first", "started_event", "submitted_event",
                   "number")


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


def pack_plain(value: Any) -> bytes:
    """Plain data as compressed marshal bytes: the parts of a snapshot read only when
    used (zlib level 1: about a third of the size, for little time)."""
    return zlib.compress(marshal.dumps(value), 1)


def unpack_plain(packed: bytes) -> Any:
    return marshal.loads(zlib.decompress(packed))
