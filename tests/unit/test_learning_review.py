"""Spaced review (Leitner boxes), my progress, and the fold's handling of hostile events."""

from __future__ import annotations

import copy
import uuid
from datetime import date, datetime, timedelta

import pytest

from app.core.errors import EventError, LearningError
from app.core.events import format_at
from app.core.learning import LearningEngine, check_payload
from app.core.learning.review import DAILY_LIMIT, Encounter, leitner
from tests.support.learning_fixtures import (
    LEARNER,
    PACK,
    START,
    Recorder,
    learning_engine,
    sample_manifest,
)

B = "boundaries"
DAY0 = START.date()


def make(**kw) -> tuple[LearningEngine, Recorder]:
    engine = learning_engine()
    return engine, Recorder(engine, **kw)


def wrong_in_quiz(engine: LearningEngine, log: Recorder, question: str = "q1") -> str:
    attempt = log.add(engine.start_quiz(PACK, B, seed=1)).attempt
    wrong = {"q1": ["b"], "q2": ["c"], "q3": ["true"], "q4a": ["a"], "q4b": ["false"]}
    log.add(engine.answer(PACK, B, attempt, question, wrong[question]))
    log.add(engine.submit(PACK, B, attempt))
    return attempt


def at_day(log: Recorder, day: date) -> None:
    log.now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=START.tzinfo)


def test_wrong_quiz_answer_enters_box_one_due_next_day() -> None:
    engine, log = make()
    wrong_in_quiz(engine, log)
    assert engine.review_queue(today=DAY0) == []
    assert engine.library(today=DAY0).review_due == 0
    queue = engine.review_queue(today=DAY0 + timedelta(days=1))
    assert [(r.question.id, r.box, r.due) for r in queue] == [
        ("q1", 1, (DAY0 + timedelta(days=1)).isoformat())]
    assert queue[0].question.options and not queue[0].question.answered
    assert engine.library(today=DAY0 + timedelta(days=1)).review_due == 1


def test_unanswered_and_correct_questions_do_not_enter_review() -> None:
    engine, log = make()
    attempt = log.add(engine.start_quiz(PACK, B, seed=1)).attempt
    log.add(engine.answer(PACK, B, attempt, "q1", ["a"]))
    log.add(engine.answer(PACK, B, attempt, "q2", ["a"]))  # half credit = not fully right
    log.add(engine.submit(PACK, B, attempt))
    assert [r.question.id for r in engine.review_queue(today=DAY0 + timedelta(days=30))] == ["q2"]


def test_leitner_boxes_move_with_review_answers() -> None:
    engine, log = make()
    wrong_in_quiz(engine, log, "q4a")                   # a scenario part
    day = DAY0
    expected = [(2, 3), (3, 7), (4, 14)]
    for box, interval in expected:
        day = date.fromisoformat(engine.review_queue(today=day + timedelta(days=60))[0].due)
        at_day(log, day)
        step = log.add(engine.answer_review(PACK, B, "q4a", ["b"]))
        assert step.score == 1.0 and step.feedback.explanation.text == "b"
        state = engine.state.leitner(PACK, B, "q4a")
        assert (state.box, state.due) == (box, day + timedelta(days=interval))
        assert engine.review_queue(today=day + timedelta(days=interval - 1)) == []
    at_day(log, day + timedelta(days=14))
    log.add(engine.answer_review(PACK, B, "q4a", ["b"]))  # correct in box 4: retired
    state = engine.state.leitner(PACK, B, "q4a")
    assert state.box is None and state.retired
    assert engine.review_queue(today=day + timedelta(days=400)) == []


def test_wrong_review_answer_sends_back_to_box_one() -> None:
    engine, log = make()
    wrong_in_quiz(engine, log)
    at_day(log, DAY0 + timedelta(days=1))
    log.add(engine.answer_review(PACK, B, "q1", ["a"]))
    assert engine.state.leitner(PACK, B, "q1").box == 2
    at_day(log, DAY0 + timedelta(days=4))
    step = log.add(engine.answer_review(PACK, B, "q1", ["c"]))
    assert step.score == 0.0 and log.events[-1]["data"]["box"] == 2
    state = engine.state.leitner(PACK, B, "q1")
    assert (state.box, state.due) == (1, DAY0 + timedelta(days=5))


def test_leitner_is_independent_of_arrival_order() -> None:
    def enc(i: int, correct: bool, review: bool = True) -> Encounter:
        return Encounter((f"2026-11-{i + 1:02d}T00:00:00.000Z", "d", i),
                         date(2026, 11, i + 1), correct, review)
    encs = [enc(0, False, False), enc(2, True), enc(5, True), enc(9, False), enc(11, True)]
    assert leitner(encs) == leitner(list(reversed(encs)))
    assert leitner(encs).box == 2 and leitner(encs).due == date(2026, 11, 15)


def test_daily_limit_keeps_the_queue_short_most_overdue_first() -> None:
    m = sample_manifest()
    bank = m["courses"][1]["quiz"]
    bank["questions"] = [dict(copy.deepcopy(bank["questions"][0]), id=f"b{i}")
                         for i in range(DAILY_LIMIT + 3)]
    bank["draw"] = 0
    engine = learning_engine(manifest=m)
    log = Recorder(engine, step=timedelta(hours=2))
    attempt = log.add(engine.start_quiz(PACK, "reporting", seed=3)).attempt
    order = [q.id for q in engine.attempt(PACK, "reporting", attempt).questions]
    for qid in order:
        log.add(engine.answer(PACK, "reporting", attempt, qid, ["y"]))
    later = DAY0 + timedelta(days=10)
    assert len(engine.review_queue(today=later)) == DAILY_LIMIT
    assert engine.library(today=later).review_due == DAILY_LIMIT
    queue = engine.review_queue(today=later, limit=100)
    assert len(queue) == DAILY_LIMIT + 3
    assert [r.due for r in queue] == sorted(r.due for r in queue)


def test_review_of_unknown_question_is_refused() -> None:
    engine, _ = make()
    for q in ("nope", "q4"):
        with pytest.raises(LearningError, match="no question"):
            engine.answer_review(PACK, B, q, ["a"])
    with pytest.raises(LearningError, match="unknown option"):
        engine.answer_review(PACK, B, "q1", ["zz"])


def test_review_ignores_questions_removed_by_a_pack_update() -> None:
    engine, log = make()
    wrong_in_quiz(engine, log, "q2")
    m2 = sample_manifest(version=2)
    m2["courses"][0]["quiz"]["questions"].pop(1)
    updated = learning_engine(manifest=m2, events=log.events)
    assert updated.review_queue(today=DAY0 + timedelta(days=9)) == []


# -- my progress -------------------------------------------------------------------------
def test_my_progress_time_scores_and_certificates() -> None:
    engine, log = make()
    log.add(engine.view_card(PACK, B, "01-why", 0, seconds=40))
    log.add(engine.view_card(PACK, B, "01-why", 1, seconds=50_000))   # left open: capped
    log.add(engine.view_card(PACK, "reporting", "01-intro", 0, seconds=10.5))
    wrong_in_quiz(engine, log)
    log.add([{"learner": LEARNER, "type": "certificate.received", "pack": PACK,
              "ref": {"certificate": "cert-1", "course": B},
              "data": {"credential": {"type": ["VerifiableCredential"]}, "title": "Boundaries"}}])
    mine = engine.my_progress()
    assert mine.seconds == 40 + 1800 + 10.5
    boundaries = next(c for c in mine.courses if c.course == B)
    assert boundaries.seconds == 1840 and boundaries.best_score == 0.0
    assert [(a.number, a.score, a.passed) for a in boundaries.attempts] == [(1, 0.0, False)]
    assert mine.completed == ()
    assert [(c.id, c.course, c.title) for c in mine.certificates] == [("cert-1", B, "Boundaries")]
    assert mine.certificates[0].credential == {"type": ["VerifiableCredential"]}


# -- hostile events ----------------------------------------------------------------------
def event(etype: str, ref: dict, data: dict, **extra) -> dict:
    return {"id": str(uuid.uuid4()), "learner": LEARNER, "device": "tab-x", "seq": 1,
            "at": format_at(START), "type": etype, "pack": PACK, "pack_version": 1,
            "ref": ref, "data": data, **extra}


HOSTILE = [
    ("card.viewed", {"course": B, "lesson": "01-why", "card": "-1"}, {}, "ref.card"),
    ("card.viewed", {"course": B, "lesson": "01-why", "card": "x"}, {}, "ref.card"),
    ("card.viewed", {"course": B, "lesson": "01-why", "card": "0"}, {"seconds": "9"}, "seconds"),
    ("card.viewed", {"course": B, "lesson": "01-why", "card": "0"},
     {"seconds": float("nan")}, "seconds"),
    ("card.viewed", {"course": B, "lesson": "01-why"}, {}, "ref.card"),
    ("quiz.started", {"course": B, "attempt": "a1"}, {"seed": -1, "questions": ["q1"]}, "seed"),
    ("quiz.started", {"course": B, "attempt": "a1"}, {"seed": 1, "questions": []}, "questions"),
    ("quiz.started", {"course": B, "attempt": "a1"}, {"seed": 1, "questions": ["q1", "q1"]},
     "duplicate"),
    ("answer.given", {"course": B, "attempt": "a1", "question": "q1"},
     {"choice": ["a"], "score": 7}, "score"),
    ("answer.given", {"course": B, "attempt": "a1", "question": "q1"},
     {"choice": "a", "score": 1}, "choice"),
    ("quiz.submitted", {"course": B, "attempt": "a1"}, {"score": 100, "passed": "yes"}, "passed"),
    ("quiz.submitted", {"course": B, "attempt": "a1"}, {"score": 101, "passed": True}, "score"),
    ("review.answered", {"course": B, "question": "q1"}, {"choice": [], "score": 1}, "choice"),
    # the fast paths of the checks: bools are not numbers, ±inf and out-of-range values fail
    ("answer.given", {"course": B, "attempt": "a1", "question": "q1"},
     {"choice": ["a"], "score": True}, "score"),
    ("answer.given", {"course": B, "attempt": "a1", "question": "q1"},
     {"choice": ["a"], "score": float("inf")}, "score"),
    ("card.viewed", {"course": B, "lesson": "01-why", "card": "0"}, {"seconds": -0.5},
     "seconds"),
    ("review.answered", {"course": B, "question": "q1"},
     {"choice": ["a"] * 9, "score": 1}, "choice"),
    ("review.answered", {"course": B, "question": "q1"},
     {"choice": ["a", "x" * 65], "score": 1}, "choice"),
    ("review.answered", {"course": B, "question": "q1"}, {"choice": ["a", ""], "score": 1},
     "choice"),
    ("certificate.received", {"certificate": "c"}, {"credential": 5}, "credential"),
    ("course.completed", {}, {}, "ref.course"),
]


@pytest.mark.parametrize(("etype", "ref", "data", "field"), HOSTILE)
def test_hostile_payloads_are_ignored_and_named(etype, ref, data, field) -> None:
    engine, _ = make()
    bad = event(etype, ref, data)
    with pytest.raises(EventError, match=field):
        check_payload(bad)
    before = engine.snapshot(today=DAY0)
    assert engine.apply(bad) is True
    assert field.split(".")[-1] in engine.state.ignored[bad["id"]]
    after = engine.snapshot(today=DAY0)
    assert after.pop("ignored") == [bad["id"]]
    before.pop("ignored")
    assert after == before


def test_events_of_another_learner_or_unknown_things_do_not_show() -> None:
    engine, _ = make()
    before = engine.snapshot(today=DAY0)
    other = event("course.completed", {"course": B}, {}, learner="someone-else")
    engine.apply(other)
    assert "someone-else" in engine.state.ignored[other["id"]]
    engine.apply(event("course.completed", {"course": "not-installed"}, {}))
    engine.apply(event("selfassessment.started", {"profile": "p", "assessment": "a"},
                       {"role": "prison_officer"}))
    engine.apply({"id": 5, "type": "card.viewed"})
    engine.apply("not an event")  # type: ignore[arg-type]
    after = engine.snapshot(today=DAY0)
    for key in ("library", "outlines", "review"):
        assert after[key] == before[key]
    # history of a course whose pack is gone stays in "my progress", titled by its id
    (gone,) = engine.my_progress().completed
    assert (gone.course, gone.title.text, gone.title.fallback) == ("not-installed",
                                                                   "not-installed", True)


def test_missing_pack_is_named() -> None:
    bad = event("lesson.opened", {"course": B, "lesson": "01-why"}, {})
    del bad["pack"]
    with pytest.raises(EventError, match="pack"):
        check_payload(bad)
