"""What a signed-in learner does with courses: read cards, take quizzes, review, see
progress. The use cases of the learning screens, on top of the learning engine.

Each action asks the engine (app/core/learning/engine.py) for a step and commits it
through :class:`~app.core.application.learner_work.LearnerWork` (events on disk before
the screen moves on). Where a screen goes next is answered with a *place* — a
:class:`CardPlace` or a :class:`CoursePlace` — never with a UI route: the UI turns places
into routes (app/ui/routes.py).

Every call resolves the learner's current work first (``work()``): it raises
``AuthError(NOT_SIGNED_IN)`` after a lock, and reloads both engines when a pack was
installed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from app.core.application.cards import lesson_link_target
from app.core.application.certificates import CertificateTrust
from app.core.application.learner_work import LearnerWork
from app.core.clock import MonotonicClock
from app.core.credential_status import ReceivedCheck
from app.core.errors import LearningError, ShiftError
from app.core.i18n import Translator
from app.core.learning.course_progress import Certificate
from app.core.learning.views import (
    AttemptView,
    LessonView,
    Library,
    MyProgress,
    Outline,
    ResumePoint,
    ReviewItem,
    Step,
)

#: Longest reading time one card view may count (a tablet left open over night).
MAX_CARD_SECONDS = 86_400.0


@dataclass(frozen=True)
class CardPlace:
    """A card of a lesson (0-based)."""

    pack: str
    course: str
    lesson: str
    card: int


@dataclass(frozen=True)
class CoursePlace:
    """A course's outline."""

    pack: str
    course: str


class Learning:
    """The learning actions of whoever is signed in to one session."""

    def __init__(self, work: Callable[[], LearnerWork], clock: MonotonicClock,
                 trust: CertificateTrust) -> None:
        self._work = work
        self._clock = clock
        self._trust = trust
        self._lesson_key: tuple[str, str, str] | None = None
        self._card_shown_at = 0.0

    def forget(self) -> None:
        """Drop what this object remembers of the learner (on lock and reload)."""
        self._lesson_key = None

    # -- reading ----------------------------------------------------------------------
    def library(self) -> Library:
        return self._work().engine.library(today=date.today())

    def outline(self, pack: str, course: str) -> Outline:
        return self._work().engine.outline(pack, course)

    def open_lesson(self, pack: str, course: str, lesson: str) -> LessonView:
        """The lesson's cards; records lesson.opened when the learner enters it (not on
        every card of the same visit)."""
        work = self._work()
        view = work.engine.lesson(pack, course, lesson)
        key = (pack, course, lesson)
        if key != self._lesson_key:
            work.commit(work.engine.open_lesson(pack, course, lesson))
            self._lesson_key = key
        self._card_shown_at = self._clock()
        return view

    def finish_card(self, pack: str, course: str, lesson: str,
                    card: int) -> CardPlace | CoursePlace:
        """The learner read ``card`` and tapped Next/Finish: record it (with the reading
        time), and say where to go: the next card, else the course outline."""
        work = self._work()
        seconds = max(0.0, min(MAX_CARD_SECONDS, self._clock() - self._card_shown_at))
        view = work.engine.lesson(pack, course, lesson)
        work.commit(work.engine.view_card(pack, course, lesson, card, seconds=seconds))
        if card + 1 < len(view.cards):
            return CardPlace(pack, course, lesson, card + 1)
        self._lesson_key = None
        return CoursePlace(pack, course)

    def link_target(self, pack: str, href: str) -> CardPlace | None:
        """The card an in-pack lesson link (``lesson:course/lesson#anchor``) points at,
        or None (a web link, or a lesson that is not there)."""
        target = lesson_link_target(href)
        if target is None:
            return None
        course, lesson, anchor = target
        try:
            view = self._work().engine.lesson(pack, course, lesson)
        except ShiftError:
            return None
        card = next((c.index for c in view.cards if anchor and c.anchor == anchor), 0)
        return CardPlace(pack, course, lesson, card)

    def resume_label(self, point: ResumePoint, tr: Translator) -> str:
        """ "Lesson 2: Title · card 3 of 5" / "Quiz · question 4" for a ResumePoint."""
        if point.kind == "lesson" and point.lesson:
            outline = self.outline(point.pack, point.course)
            for i, lesson in enumerate(outline.lessons, start=1):
                if lesson.id == point.lesson:
                    return tr.gettext("Lesson {n}: {title} · card {card} of {cards}").format(
                        n=i, title=lesson.title.text, card=(point.card or 0) + 1,
                        cards=lesson.cards)
        if point.kind == "quiz":
            if point.attempt is not None and point.question is not None:
                return tr.gettext("Quiz · question {n}").format(n=point.question + 1)
            return tr.gettext("Quiz")
        return ""

    # -- quiz ---------------------------------------------------------------------------
    def current_attempt(self, pack: str, course: str, *,
                        start: bool = False) -> AttemptView | None:
        """The open attempt of a course's quiz, or None. Only an explicit ``start``
        begins a new one: revisiting the quiz page (browser back) never spends one of
        the learner's limited attempts."""
        work = self._work()
        quiz = work.engine.outline(pack, course).quiz
        if quiz is None:
            raise LearningError(f"course {pack}/{course} has no quiz")
        attempt_id = quiz.open_attempt
        if attempt_id is None:
            if not start:
                return None
            attempt_id = work.commit(work.engine.start_quiz(pack, course)).attempt
            assert attempt_id is not None
        return work.engine.attempt(pack, course, attempt_id)

    def attempt(self, pack: str, course: str, attempt_id: str) -> AttemptView:
        return self._work().engine.attempt(pack, course, attempt_id)

    def answer(self, pack: str, course: str, attempt_id: str, question: str,
               choice: list[str]) -> Step:
        work = self._work()
        return work.commit(work.engine.answer(pack, course, attempt_id, question, choice))

    def submit(self, pack: str, course: str, attempt_id: str) -> Step:
        work = self._work()
        return work.commit(work.engine.submit(pack, course, attempt_id))

    # -- review and progress --------------------------------------------------------------
    def review_queue(self) -> list[ReviewItem]:
        return self._work().engine.review_queue(today=date.today())

    def answer_review(self, pack: str, course: str, question: str,
                      choice: list[str]) -> Step:
        """Record a review answer; the step's ``feedback`` is the question answered."""
        work = self._work()
        return work.commit(work.engine.answer_review(pack, course, question, choice))

    def my_progress(self) -> MyProgress:
        return self._work().engine.my_progress()

    def certificate_check(self, certificate: Certificate) -> ReceivedCheck:
        """How My progress shows one of the learner's certificates: verified, revoked
        or unverified (offline; app/core/application/certificates.py)."""
        return self._trust.check(certificate.credential, learner=self._work().learner,
                                 certificate_id=certificate.id)
