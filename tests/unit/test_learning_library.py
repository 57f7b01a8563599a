"""Library, outline, lesson cards, resume point, completion exactly-once."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest

from app.core.errors import LearningError, PackError
from app.core.learning import LearningEngine
from tests.support.learning_fixtures import (
    PACK,
    START,
    Recorder,
    load_lesson,
)
from tests.support.learning_fixtures import learning_engine as make

B = "boundaries"
TODAY = date(2026, 11, 23)


def read_lesson(engine: LearningEngine, log: Recorder, lesson: str, cards: int,
                course: str = B) -> None:
    log.add(engine.open_lesson(PACK, course, lesson))
    for i in range(cards):
        log.add(engine.view_card(PACK, course, lesson, i, seconds=20))


def pass_quiz(engine: LearningEngine, log: Recorder, seed: int = 1) -> str:
    attempt = log.add(engine.start_quiz(PACK, B, seed=seed)).attempt
    good = {"q1": ["a"], "q2": ["a", "b"], "q3": ["false"], "q4a": ["b"], "q4b": ["true"]}
    for q in engine.attempt(PACK, B, attempt).questions:
        log.add(engine.answer(PACK, B, attempt, q.id, good[q.id]))
    log.add(engine.submit(PACK, B, attempt))
    return attempt


# -- library ---------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "courses"), [
    ("prison_officer", ["boundaries", "reporting"]),
    ("reintegration_specialist", ["reporting"]),
    ("psychologist", ["psychology"]),
    ("manager", []),
])
def test_library_shows_the_courses_of_the_role(role: str, courses: list[str]) -> None:
    assert [c.course for c in make(role).library(today=TODAY).courses] == courses


def test_library_titles_fall_back_to_default_language_flagged() -> None:
    lib = make("psychologist", "lt").library(today=TODAY)
    assert lib.courses[0].title.text == "Psychology" and lib.courses[0].fallback
    lib = make("prison_officer", "lt").library(today=TODAY)
    assert lib.courses[0].title.text == "Ribos" and not lib.courses[0].fallback
    assert lib.courses[1].summary.fallback


def test_library_progress_best_score_and_completion() -> None:
    engine = make()
    log = Recorder(engine)
    empty = engine.library(today=TODAY)
    assert empty.resume is None and empty.review_due == 0
    assert empty.courses[0].progress == 0.0 and empty.courses[0].best_score is None
    read_lesson(engine, log, "01-why", 3)
    entry = engine.library(today=TODAY).courses[0]
    assert (entry.lessons_done, entry.lessons_total, entry.progress) == (1, 2, 0.5)
    read_lesson(engine, log, "02-grooming", 2)
    pass_quiz(engine, log)
    entry = engine.library(today=TODAY).courses[0]
    assert entry.progress == 1.0 and entry.best_score == 100.0 and entry.passed
    assert entry.completed


def test_library_and_outline_are_cached_until_a_new_event() -> None:
    engine = make()
    log = Recorder(engine)
    first = engine.library(today=TODAY)
    assert engine.library(today=TODAY) is first
    outline = engine.outline(PACK, B)
    assert engine.outline(PACK, B) is outline
    log.add(engine.open_lesson(PACK, "reporting", "01-intro"))
    assert engine.library(today=TODAY) is not first
    assert engine.outline(PACK, B) is outline  # other course untouched
    log.add(engine.open_lesson(PACK, B, "01-why"))
    assert engine.outline(PACK, B) is not outline
    before = engine.library(today=TODAY)
    assert engine.apply(log.events[-1]) is False  # duplicate: nothing changes
    assert engine.library(today=TODAY) is before
    engine.language = "lt"
    assert engine.library(today=TODAY).courses[0].title.text == "Ribos"


# -- outline ---------------------------------------------------------------------------
def test_outline_lesson_states() -> None:
    engine = make()
    log = Recorder(engine)
    out = engine.outline(PACK, B)
    assert [s.state for s in out.lessons] == ["not_started", "not_started"]
    log.add(engine.open_lesson(PACK, B, "02-grooming"))
    log.add(engine.view_card(PACK, B, "01-why", 0))
    log.add(engine.view_card(PACK, B, "01-why", 2))
    out = engine.outline(PACK, B)
    assert [(s.state, s.viewed, s.cards) for s in out.lessons] == [
        ("in_progress", 2, 3), ("in_progress", 0, 2)]
    log.add(engine.view_card(PACK, B, "01-why", 1))
    assert engine.outline(PACK, B).lessons[0].state == "done"
    q = engine.outline(PACK, B).quiz
    assert (q.attempts_used, q.attempts_left, q.best_score, q.passed, q.open_attempt) == \
        (0, 3, None, False, None)
    assert q.pass_mark == 70 and q.questions == 4


def test_view_card_refuses_bad_input() -> None:
    engine = make()
    for card in (-1, 3, "1", True, None):
        with pytest.raises(LearningError, match="card"):
            engine.view_card(PACK, B, "01-why", card)
    with pytest.raises(LearningError, match="seconds"):
        engine.view_card(PACK, B, "01-why", 0, seconds=-5)
    with pytest.raises(LearningError, match="no lesson"):
        engine.view_card(PACK, B, "99-nope", 0)
    with pytest.raises(LearningError, match="no lesson"):
        engine.open_lesson(PACK, B, "99-nope")


# -- lesson cards ----------------------------------------------------------------------
def test_lesson_cards_in_language_with_fallback_flag() -> None:
    engine = make(language="lt")
    log = Recorder(engine)
    view = engine.lesson(PACK, B, "01-why")
    assert (view.lang, view.fallback, len(view.cards)) == ("lt", False, 3)
    assert view.cards[0].markdown.endswith("(lt).") and view.toc[1]["anchor"] == "card-1"
    view = engine.lesson(PACK, B, "02-grooming")
    assert (view.lang, view.fallback) == ("en", True)
    log.add(engine.view_card(PACK, B, "01-why", 0))
    view = engine.lesson(PACK, B, "01-why")
    assert [c.viewed for c in view.cards] == [True, False, False] and view.resume_card == 1


@pytest.mark.parametrize("body", [{}, {"cards": []}, {"cards": [{"title": "x"}]}, "text"])
def test_malformed_lesson_file_is_a_pack_error(body) -> None:
    engine = make(loader=lambda pack, path: copy.deepcopy(body))
    with pytest.raises(PackError, match="lessons/boundaries/01-why.en.json"):
        engine.lesson(PACK, B, "01-why")


def test_missing_lesson_file_propagates_loader_error() -> None:
    engine = make(loader=lambda pack, path: load_lesson("other-pack", path))
    with pytest.raises(FileNotFoundError):
        engine.lesson(PACK, B, "01-why")


# -- resume point ----------------------------------------------------------------------
def test_resume_point_follows_the_learner_exactly() -> None:
    engine = make()
    log = Recorder(engine)
    log.add(engine.open_lesson(PACK, B, "01-why"))
    r = engine.resume()
    assert (r.course, r.kind, r.lesson, r.card) == (B, "lesson", "01-why", 0)
    log.add(engine.view_card(PACK, B, "01-why", 0))
    log.add(engine.view_card(PACK, B, "01-why", 1))
    assert (engine.resume().lesson, engine.resume().card) == ("01-why", 2)
    log.add(engine.view_card(PACK, B, "01-why", 2))
    assert (engine.resume().lesson, engine.resume().card) == ("02-grooming", 0)
    log.add(engine.view_card(PACK, B, "02-grooming", 0))
    log.add(engine.view_card(PACK, B, "02-grooming", 1))
    r = engine.resume()
    assert (r.kind, r.attempt) == ("quiz", None)
    attempt = log.add(engine.start_quiz(PACK, B, seed=2)).attempt
    view = engine.attempt(PACK, B, attempt)
    log.add(engine.answer(PACK, B, attempt, view.questions[0].id, ["true"]
                          if view.questions[0].type == "true_false" else
                          [view.questions[0].options[0].id]))
    r = engine.resume()
    assert (r.kind, r.attempt, r.question) == ("quiz", attempt, 1)
    # another tablet sees the same point
    other = make(events=log.events)
    assert other.resume() == r
    # a different course opened later becomes the global resume point
    log.add(engine.open_lesson(PACK, "reporting", "01-intro"))
    assert engine.resume().course == "reporting"
    assert engine.resume(PACK, B) == r


def test_resume_skips_completed_courses_and_returns_to_unread_cards() -> None:
    engine = make()
    log = Recorder(engine)
    log.add(engine.view_card(PACK, B, "02-grooming", 1))   # last card of last lesson
    r = engine.resume()
    assert (r.lesson, r.card) == ("01-why", 0)              # wraps to the first unread
    read_lesson(engine, log, "01-why", 3)
    log.add(engine.view_card(PACK, B, "02-grooming", 0))
    pass_quiz(engine, log)
    assert engine.outline(PACK, B).resume.kind == "done"
    assert engine.resume() is None


# -- completion exactly once -----------------------------------------------------------
def test_completion_proposed_once_when_quiz_passed_last() -> None:
    engine = make()
    log = Recorder(engine)
    read_lesson(engine, log, "01-why", 3)
    read_lesson(engine, log, "02-grooming", 2)
    assert not any(e["type"] == "course.completed" for e in log.events)
    pass_quiz(engine, log)
    done = [e for e in log.events if e["type"] == "course.completed"]
    assert len(done) == 1 and done[0]["data"]["score"] == 100.0
    assert log.events[-1]["type"] == "course.completed"
    assert log.events[-2]["type"] == "quiz.submitted"
    assert engine.propose_completions() == []
    step = engine.view_card(PACK, B, "01-why", 0)      # re-reading does not re-complete
    assert [e["type"] for e in step.events] == ["card.viewed"] and not step.completed


def test_completion_proposed_when_last_card_read_after_passing() -> None:
    engine = make()
    log = Recorder(engine)
    read_lesson(engine, log, "01-why", 3)
    log.add(engine.view_card(PACK, B, "02-grooming", 0))
    pass_quiz(engine, log)
    assert not engine.outline(PACK, B).completed
    step = log.add(engine.view_card(PACK, B, "02-grooming", 1))
    assert step.completed and [e["type"] for e in step.events] == ["card.viewed",
                                                                   "course.completed"]
    assert engine.outline(PACK, B).completed


def test_two_tablets_completing_offline_count_once_by_earliest() -> None:
    a, b = make(), make()
    log_a = Recorder(a, device="tab-a")
    log_b = Recorder(b, device="tab-b", start=START + timedelta(minutes=1))
    for engine, log in ((a, log_a), (b, log_b)):
        read_lesson(engine, log, "01-why", 3)
        read_lesson(engine, log, "02-grooming", 2)
        pass_quiz(engine, log)
    done_a = [e for e in log_a.events if e["type"] == "course.completed"]
    done_b = [e for e in log_b.events if e["type"] == "course.completed"]
    assert len(done_a) == len(done_b) == 1
    a.apply_many(log_b.events)
    b.apply_many(log_a.events)
    for engine in (a, b):
        progress = engine.my_progress()
        assert len(progress.completed) == 1
        assert progress.completed[0].completed_at == done_a[0]["at"]  # the earlier one
        assert engine.state.course(PACK, B).completed[0] == done_a[0]["id"]
        assert engine.propose_completions() == []
    assert a.snapshot(today=TODAY) == b.snapshot(today=TODAY)


def test_completion_across_tablets_is_proposed_after_merge() -> None:
    a, b = make(), make()
    log_a, log_b = Recorder(a, device="tab-a"), Recorder(b, device="tab-b")
    read_lesson(a, log_a, "01-why", 3)
    read_lesson(a, log_a, "02-grooming", 2)
    pass_quiz(b, log_b)
    assert not any(e["type"] == "course.completed" for e in log_a.events + log_b.events)
    b.apply_many(log_a.events)
    proposed = b.propose_completions()
    assert [(e["type"], e["ref"]["course"]) for e in proposed] == [("course.completed", B)]
    log_b.add(proposed)
    assert b.propose_completions() == []


def test_lesson_bodies_are_cached() -> None:
    calls: list[str] = []

    def loader(pack: str, path: str) -> dict:
        calls.append(path)
        return load_lesson(pack, path)
    engine = make(loader=loader)
    for _ in range(5):
        engine.lesson(PACK, B, "01-why")
    assert calls == ["lessons/boundaries/01-why.en.json"]


def test_store_thread_applying_while_ui_reads() -> None:
    import threading

    source = make()
    log = Recorder(source, step=timedelta(minutes=1))
    for _ in range(40):
        for lesson, cards in (("01-why", 3), ("02-grooming", 2)):
            for card in range(cards):
                log.add(source.view_card(PACK, B, lesson, card, seconds=3))
        attempt = log.add(source.start_quiz(PACK, "reporting", seed=1)).attempt
        log.add(source.submit(PACK, "reporting", attempt))
    engine = make()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not done.is_set():
                engine.library(today=TODAY)
                engine.outline(PACK, "reporting")
                engine.my_progress()
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)
    done = threading.Event()
    thread = threading.Thread(target=reader)
    thread.start()
    for event in log.events:
        engine.apply(event)
    done.set()
    thread.join()
    assert errors == []
    assert engine.snapshot(today=TODAY) == source.snapshot(today=TODAY)
