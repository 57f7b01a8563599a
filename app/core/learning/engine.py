"""LearningEngine: the one object the UI talks to for courses, lessons, quizzes, review
and progress of the signed-in learner.

It reads (manifests + the LearnerState fold) and *proposes* events; it never writes
storage. The caller appends the proposed events to the Store, whose subscribers call
`engine.apply(event)` — only then do the views change. Views are cached per state
version, so a tap costs a dictionary lookup unless something new happened.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import date
from typing import Any, TypeVar

from app.core.errors import ErrorCode, LearningError, PackError
from app.core.events import new_id
from app.core.learning import outline as ol
from app.core.learning.base import FoldingEngine, PreFolded, locked
from app.core.learning.catalog import Catalog, CourseInfo
from app.core.learning.course_progress import Attempt, CourseProgress
from app.core.learning.draw import started_data
from app.core.learning.history import HistorySource, LearnerHistory, load_history
from app.core.learning.payloads import check_payload
from app.core.learning.quiz import (
    attempt_score,
    passes,
    question_view,
    score_choice,
)
from app.core.learning.review import DAILY_LIMIT
from app.core.learning.state import LearnerState
from app.core.learning.text import Text, localize
from app.core.learning.views import (
    AttemptScore,
    AttemptView,
    CardView,
    CourseEntry,
    CourseRecord,
    LessonView,
    Library,
    MyProgress,
    Outline,
    ResumePoint,
    ReviewItem,
    Step,
)
from app.core.packs.markup import plain

LessonLoader = Callable[[str, str], dict[str, Any]]
#: option order of review questions does not depend on an attempt
REVIEW_SEED = 0
#: lesson bodies kept in memory (a lesson is re-read on every card tap)
LESSON_CACHE = 16

_Built = TypeVar("_Built")


class LearningEngine(FoldingEngine):
    def __init__(self, catalog: Catalog | Iterable[dict[str, Any]], *, learner: str,
                 role: str, language: str, load_lesson: LessonLoader,
                 events: Iterable[dict[str, Any]] | PreFolded = ()) -> None:
        """`events`: the learner's events, or their `LearnerHistory` (already folded:
        `LearningEngine.load_history(store, learner)`), whose learning fold is used."""
        if isinstance(events, PreFolded):
            state, events = events.fold_for(learner, "learning"), ()
        else:
            state = LearnerState(learner)
        super().__init__(catalog, state, learner=learner, role=role, language=language,
                         events=events)
        self.state: LearnerState
        self.load_lesson = load_lesson
        self._cache: dict[Any, tuple[Any, Any]] = {}
        self._lessons: OrderedDict[tuple[str, int, str], dict[str, Any]] = OrderedDict()

    @staticmethod
    def load_history(store: HistorySource, learner: str, *,
                     defer_save: bool = False) -> LearnerHistory:
        """The learner's folds from the store's snapshot + what came since (sign-in),
        for ``events=`` of this engine and of SelfAssessment: app.core.learning.history
        (`defer_save`: a due snapshot is saved by `save_history` at the session's end)."""
        return load_history(store, learner, defer_save=defer_save)

    def _cached(self, key: Any, version: Any, build: Callable[[], _Built]) -> _Built:
        full = (key, self.language, self.role)
        hit = self._cache.get(full)
        if hit is not None and hit[0] == version:
            cached: _Built = hit[1]   # built by the same `build` for this key
            return cached
        value = build()
        self._cache[full] = (version, value)
        return value

    # -- reading -----------------------------------------------------------------------
    def courses_for_role(self) -> list[CourseInfo]:
        return sorted((c for c in self.catalog.courses.values() if self.role in c.roles),
                      key=lambda c: (c.pack, c.order))

    @locked
    def library(self, *, today: date) -> Library:
        """Courses for the learner's role with progress, the resume point and the number
        of review questions due `today`."""
        return self._cached(("library", today), self.state.version,
                            lambda: self._library(today))

    def _library(self, today: date) -> Library:
        entries = []
        touched = []
        for info in self.courses_for_role():
            progress = self.state.course(info.pack, info.id)
            done = ol.lessons_done(info, progress)
            default = info.default_language
            entries.append(CourseEntry(
                pack=info.pack, course=info.id, title=localize(info.title, self.language, default),
                summary=localize(info.summary, self.language, default), minutes=info.minutes,
                lessons_done=done, lessons_total=len(info.lessons),
                progress=done / len(info.lessons) if info.lessons else 1.0,
                best_score=progress.best_score, passed=progress.passed,
                completed=progress.completed is not None))
            if progress.last is not None:
                touched.append((progress.last[:2], info, progress))
        # "continue": the most recently touched course that is not completed yet
        resume = None
        for _, info, progress in sorted(touched, key=lambda x: x[0], reverse=True):
            point = ol.resume_point(info, progress)
            if point.kind != "done":
                resume = point
                break
        return Library(courses=tuple(entries), resume=resume,
                       review_due=len(self._due(today, DAILY_LIMIT)))

    @locked
    def outline(self, pack: str, course: str) -> Outline:
        info = self.catalog.course(pack, course)
        progress = self.state.course(pack, course)
        return self._cached(("outline", pack, course), progress.version,
                            lambda: ol.outline(info, progress, self.language))

    @locked
    def resume(self, pack: str | None = None, course: str | None = None) -> ResumePoint | None:
        """Resume point of one course, or (no arguments) of the learner's latest course."""
        if pack is None or course is None:
            return self.library(today=date.min).resume
        return self.outline(pack, course).resume

    @locked
    def lesson(self, pack: str, course: str, lesson_id: str) -> LessonView:
        """The cards of a lesson in the learner's language (fallback flagged)."""
        info = self.catalog.course(pack, course)
        lesson = info.lesson(lesson_id)
        if lesson is None:
            raise LearningError(f"course {pack}/{course} has no lesson {lesson_id!r}")
        lang = self.language if self.language in lesson.files else info.default_language
        if lang not in lesson.files:
            if not lesson.files:
                raise PackError(f"{pack}: course {course}: lesson {lesson_id}: no files")
            lang = sorted(lesson.files)[0]
        path = lesson.files[lang]
        body = self._lesson_body(pack, info.pack_version, path)
        cards = body.get("cards") if isinstance(body, dict) else None
        if not isinstance(cards, list) or not cards:
            raise PackError(f"{pack}: {path}: cards: expected a non-empty list")
        seen = self.state.course(pack, course).viewed.get(lesson_id, set())
        views = []
        for i, card in enumerate(cards):
            if not isinstance(card, dict) or not isinstance(card.get("markdown"), str):
                raise PackError(f"{pack}: {path}: cards[{i}].markdown: expected a string")
            views.append(CardView(i, plain(str(card.get("title") or "")),
                                  str(card.get("anchor") or ""), card["markdown"], i in seen))
        resume = next((c.index for c in views if not c.viewed), 0)
        toc = body.get("toc") if isinstance(body.get("toc"), list) else []
        return LessonView(pack=pack, course=course, lesson=lesson_id,
                          title=plain(str(body.get("title") or "")), lang=lang,
                          fallback=lang != self.language, cards=tuple(views),
                          toc=tuple(t for t in toc if isinstance(t, dict)), resume_card=resume)

    def _lesson_body(self, pack: str, version: int, path: str) -> Any:
        key = (pack, version, path)
        body = self._lessons.get(key)
        if body is None:
            body = self.load_lesson(pack, path)
            self._lessons[key] = body
            if len(self._lessons) > LESSON_CACHE:
                self._lessons.popitem(last=False)
        else:
            self._lessons.move_to_end(key)
        return body

    @locked
    def attempt(self, pack: str, course: str, attempt_id: str) -> AttemptView:
        info = self.catalog.course(pack, course)
        progress = self.state.course(pack, course)
        attempt = progress.attempts.get(attempt_id)
        if attempt is None or attempt.started is None or info.quiz is None:
            raise LearningError(f"course {pack}/{course}: no attempt {attempt_id!r}")
        quiz, seed = info.quiz, attempt.seed or 0
        items = quiz.scored_ids(attempt.questions)
        default = info.default_language
        answers = attempt.answers
        views = tuple(question_view(quiz, q, i, seed, self.language, default,
                                    answers[q].choice if q in answers else None,
                                    score=answers[q].score if q in answers else None)
                      for i, q in enumerate(items))
        current = next((i for i, q in enumerate(items) if q not in attempt.answers), None)
        number = [a.id for a in progress.attempts_in_order()].index(attempt_id) + 1
        return AttemptView(pack=pack, course=course, attempt=attempt_id, number=number,
                           seed=seed, questions=views, current=current,
                           submitted=attempt.submitted is not None,
                           score=attempt.submitted[1] if attempt.submitted else None)

    @locked
    def review_queue(self, *, today: date, limit: int = DAILY_LIMIT) -> list[ReviewItem]:
        """Questions due for review on `today` (most overdue first), at most `limit`."""
        out = []
        for (pack, course, qid), state in self._due(today, limit):
            info = self.catalog.course(pack, course)
            assert info.quiz is not None and state.box is not None and state.due is not None
            out.append(ReviewItem(
                pack=pack, course=course,
                course_title=localize(info.title, self.language, info.default_language),
                box=state.box, due=state.due.isoformat(),
                question=question_view(info.quiz, qid, 0, REVIEW_SEED, self.language,
                                       info.default_language)))
        return out

    def _due(self, today: date, limit: int) -> list[Any]:
        def build() -> list[Any]:
            due = []
            for item, state in self.state.due(today):
                info = self.catalog.courses.get(item[:2])
                if info is None or info.quiz is None or item[2] not in info.quiz.items \
                        or self.role not in info.roles:
                    continue
                due.append((item, state))
            return due
        return self._cached(("due", today), self.state.version, build)[:limit]

    @locked
    def my_progress(self) -> MyProgress:
        return self._cached(("progress",), self.state.version, self._my_progress)

    def _my_progress(self) -> MyProgress:
        records = []
        for (pack, course), progress in sorted(self.state.courses.items()):
            info = self.catalog.courses.get((pack, course))
            # a course of a pack no longer installed keeps its history, titled by its id
            title = localize(info.title, self.language, info.default_language) if info \
                else Text(course, self.language, True)
            attempts = []
            for n, a in enumerate(progress.attempts_in_order(), start=1):
                attempts.append(AttemptScore(a.id, n, a.first_key[0],
                                             a.submitted[1] if a.submitted else None,
                                             a.submitted[2] if a.submitted else None))
            done = progress.completed
            records.append(CourseRecord(pack=pack, course=course, title=title,
                                        completed_at=done[1][0] if done else None,
                                        best_score=progress.best_score,
                                        attempts=tuple(attempts), seconds=progress.seconds))
        completed = sorted((r for r in records if r.completed_at), key=lambda r: r.completed_at or "")
        certs = sorted(self.state.certificates.values(), key=lambda c: (c.at, c.event))
        return MyProgress(completed=tuple(completed), courses=tuple(records),
                          seconds=float(sum(r.seconds for r in records)), certificates=tuple(certs))

    @locked
    def snapshot(self, *, today: date) -> dict[str, Any]:
        """Every view as plain data: what the property tests compare across event orders."""
        outlines = {f"{c.pack}/{c.id}": asdict(self.outline(c.pack, c.id))
                    for c in self.catalog.courses.values()}
        return {"library": asdict(self.library(today=today)), "outlines": outlines,
                "review": [asdict(r) for r in self.review_queue(today=today, limit=1000)],
                "progress": asdict(self.my_progress()),
                "ignored": sorted(self.state.ignored)}

    # -- actions (each returns the events to append) -------------------------------------
    def _event(self, etype: str, info: CourseInfo, ref: dict[str, str],
               data: dict[str, Any]) -> dict[str, Any]:
        event = {"learner": self.learner, "type": etype, "pack": info.pack,
                 "pack_version": info.pack_version, "ref": {"course": info.id, **ref},
                 "data": data}
        check_payload(event)
        return event

    @locked
    def open_lesson(self, pack: str, course: str, lesson_id: str) -> Step:
        info = self.catalog.course(pack, course)
        if info.lesson(lesson_id) is None:
            raise LearningError(f"course {pack}/{course} has no lesson {lesson_id!r}")
        return Step([self._event("lesson.opened", info, {"lesson": lesson_id},
                                 {"lang": self.language})])

    @locked
    def view_card(self, pack: str, course: str, lesson_id: str, card: int, *,
                  seconds: float = 0.0) -> Step:
        """The learner read `card` and moved on (Next / Finish). Proposes
        course.completed as well when this was the last thing missing."""
        info = self.catalog.course(pack, course)
        lesson = info.lesson(lesson_id)
        if lesson is None:
            raise LearningError(f"course {pack}/{course} has no lesson {lesson_id!r}")
        if isinstance(card, bool) or not isinstance(card, int) or not 0 <= card < lesson.cards:
            raise LearningError(f"lesson {lesson_id}: card must be 0–{lesson.cards - 1}, "
                                f"got {card!r}")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
                or not 0 <= seconds <= 86_400:
            raise LearningError(f"seconds: expected 0–86400, got {seconds!r}")
        events = [self._event("card.viewed", info, {"lesson": lesson_id, "card": str(card)},
                              {"seconds": round(float(seconds), 1), "lang": self.language})]
        progress = self.state.course(pack, course)
        after = _with_card(progress, lesson_id, card)
        events += self._completion(info, after)
        return Step(events, completed=len(events) > 1)

    @locked
    def start_quiz(self, pack: str, course: str, *, seed: int | None = None,
                   attempt_id: str | None = None) -> Step:
        """Start a new attempt: the learner's attempt number *n* draws its questions from
        the bank (app/core/learning/draw.py: seeded from learner, pack, course and *n*, so
        every tablet and the server draw the same; a retake draws different items).

        `seed`: only for tests and events of older apps — a given seed draws by the rule
        before item banks (``attempt_order``, no ``number`` in the event)."""
        info = self.catalog.course(pack, course)
        if info.quiz is None:
            raise LearningError(f"course {pack}/{course} has no quiz")
        progress = self.state.course(pack, course)
        current = ol.open_attempt(progress)
        if current is not None:
            raise LearningError(f"course {pack}/{course}: attempt {current.id} is still open; "
                                "resume or submit it first", code=ErrorCode.ATTEMPT_STILL_OPEN)
        state = ol.quiz_state(info, progress)
        assert state is not None
        if state.attempts_left == 0:
            raise LearningError(f"course {pack}/{course}: no attempts left "
                                f"({state.attempts_used} of {info.quiz.max_attempts} used)",
                                code=ErrorCode.NO_ATTEMPTS_LEFT)
        attempt_id = attempt_id or new_id()
        data = started_data(info.quiz, learner=self.learner, pack=pack, course=course, seed=seed,
                            started=sum(a.started is not None for a in progress.attempts.values()))
        event = self._event("quiz.started", info, {"attempt": attempt_id},
                            {**data, "lang": self.language})
        return Step([event], attempt=attempt_id)

    @locked
    def answer(self, pack: str, course: str, attempt_id: str, question: str,
               choice: Sequence[str]) -> Step:
        """Score one scored item of an open attempt; the Step carries the feedback view."""
        info, attempt = self._open(pack, course, attempt_id)
        assert info.quiz is not None
        items = info.quiz.scored_ids(attempt.questions)
        if question not in items:
            raise LearningError(f"attempt {attempt_id}: question {question!r} is not part "
                                "of this attempt")
        if question in attempt.answers:
            raise LearningError(f"attempt {attempt_id}: question {question!r} already answered",
                                code=ErrorCode.ALREADY_ANSWERED)
        score = score_choice(info.quiz.items[question], list(choice))
        event = self._event("answer.given", info, {"attempt": attempt_id, "question": question},
                            {"choice": list(choice), "score": score, "correct": score >= 1.0,
                             "type": info.quiz.items[question]["type"]})
        view = question_view(info.quiz, question, items.index(question), attempt.seed or 0,
                             self.language, info.default_language, list(choice))
        return Step([event], attempt=attempt_id, feedback=view, score=score)

    @locked
    def submit(self, pack: str, course: str, attempt_id: str) -> Step:
        """Close an attempt: score % (unanswered items count 0), pass/fail against the
        course pass mark, and course.completed when that finishes the course."""
        info, attempt = self._open(pack, course, attempt_id)
        assert info.quiz is not None
        answers = attempt.answers
        score, answered, total = attempt_score(
            info.quiz, attempt.questions, lambda q: answers[q].score if q in answers else None)
        passed = passes(score, info.pass_mark)
        events = [self._event("quiz.submitted", info, {"attempt": attempt_id},
                              {"score": score, "passed": passed, "pass_mark": info.pass_mark,
                               "answered": answered, "total": total})]
        if passed:
            after = _with_pass(self.state.course(pack, course), score)
            events += self._completion(info, after)
        return Step(events, attempt=attempt_id, score=score, passed=passed,
                    completed=len(events) > 1)

    @locked
    def answer_review(self, pack: str, course: str, question: str,
                      choice: Sequence[str]) -> Step:
        info = self.catalog.course(pack, course)
        if info.quiz is None or question not in info.quiz.items \
                or info.quiz.items[question]["type"] == "scenario":
            raise LearningError(f"course {pack}/{course} has no question {question!r}")
        score = score_choice(info.quiz.items[question], list(choice))
        box = self.state.leitner(pack, course, question).box
        event = self._event("review.answered", info, {"question": question},
                            {"choice": list(choice), "score": score, "correct": score >= 1.0,
                             "type": info.quiz.items[question]["type"], "box": box or 0})
        view = question_view(info.quiz, question, 0, REVIEW_SEED, self.language,
                             info.default_language, list(choice))
        return Step([event], feedback=view, score=score)

    @locked
    def propose_completions(self) -> list[dict[str, Any]]:
        """course.completed events for courses that became complete through events from
        another tablet (e.g. lessons here, quiz there) and have no completion yet."""
        events: list[dict[str, Any]] = []
        for info in self.catalog.courses.values():
            progress = self.state.courses.get(info.key)
            if progress is not None:
                events += self._completion(info, progress)
        return events

    def _completion(self, info: CourseInfo, progress: CourseProgress) -> list[dict[str, Any]]:
        if progress.completed is not None or not ol.is_complete(info, progress):
            return []
        return [self._event("course.completed", info, {},
                            {"score": progress.best_score, "lang": self.language}
                            if progress.best_score is not None else {"lang": self.language})]

    def _open(self, pack: str, course: str, attempt_id: str) -> tuple[CourseInfo, Attempt]:
        info = self.catalog.course(pack, course)
        attempt = self.state.course(pack, course).attempts.get(attempt_id)
        if attempt is None or attempt.started is None or info.quiz is None:
            raise LearningError(f"course {pack}/{course}: no attempt {attempt_id!r}")
        if attempt.submitted is not None:
            raise LearningError(f"attempt {attempt_id} was already submitted",
                                code=ErrorCode.ATTEMPT_SUBMITTED)
        return info, attempt


def _with_card(progress: CourseProgress, lesson_id: str, card: int) -> CourseProgress:
    """A shallow what-if copy of the progress with one more card viewed."""
    viewed = dict(progress.viewed)
    viewed[lesson_id] = set(viewed.get(lesson_id, set())) | {card}
    return CourseProgress(progress.pack, progress.course, viewed=viewed,
                          opened=progress.opened, attempts=progress.attempts,
                          completions=progress.completions, last=progress.last)


def _with_pass(progress: CourseProgress, score: float) -> CourseProgress:
    """A what-if copy in which an attempt with `score` is submitted and passed."""
    fake = Attempt("_", started=("", "", 0), submitted=(("", "", 0), score, True))
    return CourseProgress(progress.pack, progress.course, viewed=progress.viewed,
                          opened=progress.opened,
                          attempts={**progress.attempts, "_": fake},
                          completions=progress.completions, last=progress.last)
