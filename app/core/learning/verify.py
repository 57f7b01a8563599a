"""Does a learner's event log show a course completed, by the server's own rules?

The sync server calls ``verify_course`` before it issues a certificate (and its audit
command before it keeps one): a device reports what a learner did; what that is worth is
decided here, from the answer keys of pack versions the server itself published to the
learner. Nothing a device *claims* — ``quiz.submitted`` score / passed, ``course.completed``
score — decides anything; only the choices in ``answer.given`` are re-scored.

One rule on both sides: the fold (``LearnerState``: earliest ``quiz.started`` /
``answer.given`` / ``quiz.submitted`` win), the draw (``attempt_order``), per-item scoring
(``score_choice``), the attempt score (``attempt_score``), the pass rule (``passes``) and the
lesson rule (``outline.lessons_done``) are the functions the device engine uses, so an
honest tablet and the server always agree. Each item is scored against the pack version
it was answered under (as the engine did), the draw is checked against the version the
attempt started under, and the pass mark is that of the version it was submitted under.

An attempt counts only when it started (``quiz.started`` with its seed), was submitted,
its question list is exactly what its draw gives from the published quiz (``is_drawn``:
the item-bank rule of app/core/learning/draw.py for the learner's attempt number, or the
old seed rule for attempts recorded before it — a device must not shrink a draw to the
questions it knows), it answers no item outside its draw, and every version it names was
published to the learner. A completion counts only for a course that has a quiz (a course without
questions proves nothing the server can check), under a published version, with every
card of every lesson of that version viewed and a counted attempt passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from app.core.errors import LearningError
from app.core.events import order_key
from app.core.learning import outline as ol
from app.core.learning.catalog import CourseInfo, QuizInfo
from app.core.learning.course_progress import Attempt, CourseProgress
from app.core.learning.draw import draw_seed, drawn_questions
from app.core.learning.quiz import attempt_order, attempt_score, passes, score_choice
from app.core.learning.state import LearnerState

#: pack version → the course as published to this learner in that version, or None when
#: that version was never published to the learner's facility and role (or lacks the course)
CourseLookup = Callable[[Any], CourseInfo | None]

VERIFIED = "verified"
NO_COMPLETION = "no_completion"          # no course.completed of this course
NOT_PUBLISHED = "not_published"          # the completion's pack version never reached them
NO_QUIZ = "no_quiz"                      # the course has no questions: nothing to check
LESSONS_INCOMPLETE = "lessons_incomplete"
NO_PASSED_ATTEMPT = "no_passed_attempt"  # no counted attempt reaches the pass mark


@dataclass(frozen=True, slots=True)
class AttemptCheck:
    """One attempt as the server sees it: its own score, or why it does not count."""

    attempt: str
    pack_version: Any
    score: float | None = None
    passed: bool = False
    answered: int = 0
    total: int = 0
    #: None: counted; else not_started | not_submitted | not_published | no_quiz |
    #: questions_not_drawn | answer_not_drawn
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CourseVerdict:
    """``ok``: issue. ``code`` is one of the constants above; ``detail`` one line."""

    code: str
    detail: str
    #: the server's best score (%) over counted attempts, when one passed
    score: float | None = None
    #: pack version of the counted completion (its texts go on the certificate)
    pack_version: int | None = None
    #: event id of the counted course.completed
    completion: str | None = None
    attempts: tuple[AttemptCheck, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == VERIFIED


def is_drawn(attempt: Attempt, quiz: QuizInfo, *, learner: str, pack: str, course: str
             ) -> bool:
    """Whether the attempt's question list is exactly what its draw gives: the item-bank
    rule (seed and questions of the learner's attempt ``number``), or, for an attempt
    recorded before item banks (no ``number``), what its seed draws by the old rule."""
    assert attempt.seed is not None
    if attempt.number is None:
        return attempt.questions == attempt_order(quiz, attempt.seed)
    return (attempt.seed == draw_seed(learner, pack, course, attempt.number)
            and attempt.questions == drawn_questions(quiz, learner=learner, pack=pack,
                                                     course=course, number=attempt.number))


def _rescore(attempt: Attempt, lookup: CourseLookup, *, learner: str, pack: str,
             course: str) -> AttemptCheck:
    version = attempt.pack_version
    if attempt.started is None or attempt.seed is None:
        return AttemptCheck(attempt.id, version, reason="not_started")
    if attempt.submitted is None:
        return AttemptCheck(attempt.id, version, reason="not_submitted")
    info = lookup(version)
    if info is None:
        return AttemptCheck(attempt.id, version, reason="not_published")
    quiz = info.quiz
    if quiz is None:
        return AttemptCheck(attempt.id, version, reason="no_quiz")
    if not is_drawn(attempt, quiz, learner=learner, pack=pack, course=course):
        return AttemptCheck(attempt.id, version, reason="questions_not_drawn")
    drawn = set(quiz.scored_ids(attempt.questions))
    if any(item not in drawn for item in attempt.answers):
        # an honest engine answers only the items of its draw: the attempt was tampered with
        return AttemptCheck(attempt.id, version, reason="answer_not_drawn")

    def score_of(item: str) -> float | None:
        answer = attempt.answers.get(item)
        if answer is None:
            return None
        under = lookup(answer.pack_version)
        question = under.quiz.items.get(item) if under is not None and under.quiz else None
        if question is None:
            return 0.0                        # answered under a version they never had
        try:
            return score_choice(question, answer.choice)
        except LearningError:
            return 0.0                        # an option that does not exist scores nothing

    score, answered, total = attempt_score(quiz, attempt.questions, score_of)
    marked = lookup(attempt.submitted_version) or info
    return AttemptCheck(attempt.id, version, score=score, passed=passes(score, marked.pass_mark),
                        answered=answered, total=total)


def _counted_progress(progress: CourseProgress, checks: list[AttemptCheck]) -> CourseProgress:
    """The progress with only counted attempts, each carrying the server's score."""
    attempts = {}
    for check in checks:
        if check.reason is None:
            a = progress.attempts[check.attempt]
            assert a.submitted is not None and check.score is not None
            attempts[a.id] = a.replace(submitted=(a.submitted[0], check.score, check.passed))
    return CourseProgress(progress.pack, progress.course, viewed=progress.viewed,
                          opened=progress.opened, attempts=attempts,
                          completions=progress.completions, last=progress.last)


def verify_course(events: Iterable[dict[str, Any]], *, learner: str, pack: str, course: str,
                  lookup: CourseLookup) -> CourseVerdict:
    """The server's verdict on `learner` having completed `pack`/`course`.

    `events`: the learner's stored events (any; other learners', other courses' and
    malformed ones are ignored by the fold, as on the device). Pure and deterministic:
    the same events give the same verdict in any order.
    """
    state = LearnerState(learner)
    completions: list[dict[str, Any]] = []
    for event in events:
        if event.get("pack") != pack or not isinstance(event.get("ref"), dict) \
                or event["ref"].get("course") != course:
            continue
        if state.apply(event) and event.get("type") == "course.completed" \
                and event.get("id") not in state.ignored:
            completions.append(event)
    progress = state.courses.get((pack, course))
    if progress is None:
        return CourseVerdict(NO_COMPLETION, f"no course.completed of {pack}/{course}")
    checks = [_rescore(a, lookup, learner=learner, pack=pack, course=course)
              for a in progress.attempts_in_order()]
    if not completions:
        return CourseVerdict(NO_COMPLETION, f"no course.completed of {pack}/{course}",
                             attempts=tuple(checks))
    counted = _counted_progress(progress, checks)
    verdict = CourseVerdict(NOT_PUBLISHED, "", attempts=tuple(checks))
    for done in sorted(completions, key=lambda e: (order_key(e), e["id"])):
        version = done.get("pack_version")
        info = lookup(version)
        if info is None:
            verdict = replace(verdict, code=NOT_PUBLISHED, detail=(
                f"{pack} version {version!r} of the completion was never published to "
                "the learner's facility and role"))
            continue
        if info.quiz is None:
            verdict = replace(verdict, code=NO_QUIZ,
                              detail=f"{pack}/{course} v{version} has no quiz to check")
            continue
        done_lessons = ol.lessons_done(info, counted)
        if done_lessons < len(info.lessons):
            verdict = replace(verdict, code=LESSONS_INCOMPLETE, detail=(
                f"{done_lessons} of {len(info.lessons)} lessons of v{version} fully viewed"))
            continue
        if not counted.passed:
            reasons = sorted({c.reason or f"scored {c.score:g} %" for c in checks})
            verdict = replace(verdict, code=NO_PASSED_ATTEMPT, detail=(
                f"no attempt passed by the server's scoring ({len(checks)} attempt(s): "
                f"{', '.join(reasons) or 'none'})"))
            continue
        return replace(verdict, code=VERIFIED, detail="passed by the server's scoring",
                       score=counted.best_score, pack_version=version, completion=done["id"])
    return verdict
