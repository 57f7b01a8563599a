"""What the learning engine hands to the UI: plain frozen dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.learning.course_progress import Certificate
from app.core.learning.quiz import QuestionView
from app.core.learning.text import Text

NOT_STARTED, IN_PROGRESS, DONE = "not_started", "in_progress", "done"


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where to continue. kind "lesson": open `lesson` at `card`; kind "quiz": resume
    `attempt` at scored item `question` (0-based index in the attempt's order) or, with
    attempt None, start a new attempt; kind "done": the course is completed."""

    pack: str
    course: str
    kind: str
    lesson: str | None = None
    card: int | None = None
    attempt: str | None = None
    question: int | None = None


@dataclass(frozen=True, slots=True)
class QuizState:
    questions: int            # questions per attempt (draw N, else the whole bank)
    pass_mark: float
    max_attempts: int         # 0 = unlimited
    attempts_used: int
    attempts_left: int | None  # None = unlimited
    best_score: float | None
    passed: bool
    open_attempt: str | None


@dataclass(frozen=True, slots=True)
class LessonState:
    id: str
    title: Text
    cards: int
    viewed: int
    state: str                # not_started | in_progress | done


@dataclass(frozen=True, slots=True)
class Outline:
    pack: str
    course: str
    title: Text
    summary: Text
    minutes: int
    lessons: tuple[LessonState, ...]
    quiz: QuizState | None
    completed: bool
    resume: ResumePoint


@dataclass(frozen=True, slots=True)
class CourseEntry:
    pack: str
    course: str
    title: Text
    summary: Text
    minutes: int
    lessons_done: int
    lessons_total: int
    progress: float           # lessons done / lessons (0.0–1.0)
    best_score: float | None
    passed: bool
    completed: bool

    @property
    def fallback(self) -> bool:
        return self.title.fallback


@dataclass(frozen=True, slots=True)
class Library:
    courses: tuple[CourseEntry, ...]
    resume: ResumePoint | None
    review_due: int


@dataclass(frozen=True, slots=True)
class CardView:
    index: int
    title: str
    anchor: str
    markdown: str
    viewed: bool


@dataclass(frozen=True, slots=True)
class LessonView:
    pack: str
    course: str
    lesson: str
    title: str
    lang: str
    fallback: bool
    cards: tuple[CardView, ...]
    toc: tuple[dict[str, Any], ...]
    resume_card: int


@dataclass(frozen=True, slots=True)
class AttemptView:
    pack: str
    course: str
    attempt: str
    number: int               # 1-based attempt number
    seed: int
    questions: tuple[QuestionView, ...]   # scored items, in display order
    current: int | None        # index of the first unanswered item; None = all answered
    submitted: bool
    score: float | None


@dataclass(frozen=True, slots=True)
class Step:
    """Result of an action: the events to append (in this order) and what to show."""

    events: list[dict[str, Any]]
    attempt: str | None = None
    feedback: QuestionView | None = None
    score: float | None = None
    passed: bool | None = None
    completed: bool = False


@dataclass(frozen=True, slots=True)
class ReviewItem:
    pack: str
    course: str
    course_title: Text
    box: int
    due: str                  # ISO date
    question: QuestionView


@dataclass(frozen=True, slots=True)
class AttemptScore:
    attempt: str
    number: int
    at: str
    score: float | None
    passed: bool | None


@dataclass(frozen=True, slots=True)
class CourseRecord:
    pack: str
    course: str
    title: Text
    completed_at: str | None
    best_score: float | None
    attempts: tuple[AttemptScore, ...]
    seconds: float


@dataclass(frozen=True, slots=True)
class MyProgress:
    completed: tuple[CourseRecord, ...]
    courses: tuple[CourseRecord, ...]   # every course with any activity
    seconds: float
    certificates: tuple[Certificate, ...] = field(default_factory=tuple)
