"""Pure builders of the per-course views (outline, quiz state, resume point) from a
CourseInfo (manifest) and a CourseProgress (fold)."""

from __future__ import annotations

from app.core.learning.catalog import CourseInfo
from app.core.learning.course_progress import Attempt, CourseProgress
from app.core.learning.text import localize
from app.core.learning.views import (
    DONE,
    IN_PROGRESS,
    NOT_STARTED,
    LessonState,
    Outline,
    QuizState,
    ResumePoint,
)


def lessons_done(info: CourseInfo, progress: CourseProgress) -> int:
    return sum(1 for lesson in info.lessons if _viewed(progress, lesson.id, lesson.cards)
               >= lesson.cards)


def _viewed(progress: CourseProgress, lesson_id: str, cards: int) -> int:
    seen = progress.viewed.get(lesson_id)
    if not seen:
        return 0
    return sum(1 for c in seen if c < cards)


def open_attempt(progress: CourseProgress) -> Attempt | None:
    """The attempt started and not submitted (the latest if a merge produced two)."""
    open_ = [a for a in progress.attempts_in_order() if a.started and not a.submitted]
    return open_[-1] if open_ else None


def quiz_state(info: CourseInfo, progress: CourseProgress) -> QuizState | None:
    quiz = info.quiz
    if quiz is None:
        return None
    used = sum(1 for a in progress.attempts.values() if a.started or a.submitted)
    left = None if quiz.max_attempts == 0 else max(0, quiz.max_attempts - used)
    n_questions = quiz.draw or len(quiz.questions)
    current = open_attempt(progress)
    return QuizState(questions=n_questions, pass_mark=info.pass_mark,
                     max_attempts=quiz.max_attempts, attempts_used=used, attempts_left=left,
                     best_score=progress.best_score, passed=progress.passed,
                     open_attempt=current.id if current else None)


def is_complete(info: CourseInfo, progress: CourseProgress) -> bool:
    """The completion rule: every card of every lesson viewed and the quiz passed (a
    course without questions needs the lessons only)."""
    return lessons_done(info, progress) == len(info.lessons) and (
        info.quiz is None or progress.passed)


def resume_point(info: CourseInfo, progress: CourseProgress) -> ResumePoint:
    """Exact place to continue this course (rules in docs/learning.md)."""
    pack, cid = info.pack, info.id
    if progress.completed is not None:
        return ResumePoint(pack, cid, "done")
    last = progress.last
    current = open_attempt(progress)
    if current is not None and last is not None and last[2] in ("quiz.started", "answer.given") \
            and last[3].get("attempt") == current.id and info.quiz is not None:
        items = info.quiz.scored_ids(current.questions)
        index = next((i for i, q in enumerate(items) if q not in current.answers), len(items))
        return ResumePoint(pack, cid, "quiz", attempt=current.id, question=index)
    start_at = 0
    if last is not None and last[2] in ("lesson.opened", "card.viewed"):
        lesson = info.lesson(last[3]["lesson"])
        if lesson is not None:
            if last[2] == "card.viewed":
                nxt = int(last[3]["card"]) + 1
                if nxt < lesson.cards:
                    return ResumePoint(pack, cid, "lesson", lesson.id, nxt)
            else:
                card = _first_unviewed(progress, lesson.id, lesson.cards)
                return ResumePoint(pack, cid, "lesson", lesson.id,
                                   card if card is not None else 0)
            start_at = lesson.index + 1
    order = list(info.lessons[start_at:]) + list(info.lessons[:start_at])
    for lesson in order:
        card = _first_unviewed(progress, lesson.id, lesson.cards)
        if card is not None:
            return ResumePoint(pack, cid, "lesson", lesson.id, card)
    if info.quiz is not None and not progress.passed:
        if current is not None:
            items = info.quiz.scored_ids(current.questions)
            index = next((i for i, q in enumerate(items) if q not in current.answers),
                         len(items))
            return ResumePoint(pack, cid, "quiz", attempt=current.id, question=index)
        return ResumePoint(pack, cid, "quiz")
    return ResumePoint(pack, cid, "done")


def _first_unviewed(progress: CourseProgress, lesson_id: str, cards: int) -> int | None:
    seen = progress.viewed.get(lesson_id, set())
    return next((c for c in range(cards) if c not in seen), None)


def outline(info: CourseInfo, progress: CourseProgress, lang: str) -> Outline:
    default = info.default_language
    lessons = []
    for lesson in info.lessons:
        n = _viewed(progress, lesson.id, lesson.cards)
        if n >= lesson.cards:
            state = DONE
        elif n or lesson.id in progress.opened:
            state = IN_PROGRESS
        else:
            state = NOT_STARTED
        lessons.append(LessonState(lesson.id, localize(lesson.title, lang, default),
                                   lesson.cards, n, state))
    return Outline(pack=info.pack, course=info.id, title=localize(info.title, lang, default),
                   summary=localize(info.summary, lang, default), minutes=info.minutes,
                   lessons=tuple(lessons), quiz=quiz_state(info, progress),
                   completed=progress.completed is not None,
                   resume=resume_point(info, progress))
