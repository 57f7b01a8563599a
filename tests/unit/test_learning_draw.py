"""Item banks (issue 16 item 2, app/core/learning/draw.py): a quiz draws N questions per
attempt covering every outcome its bank tests; a retake draws different items; the draw is
a function of learner, pack, course and attempt number, so two tablets and the server see
the same items; the server re-scores a drawn attempt and refuses one that answers
questions outside its draw or claims another draw."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import EventError
from app.core.learning import LearningEngine
from app.core.learning.catalog import Catalog, QuizInfo
from app.core.learning.draw import (
    MAX_ATTEMPT_NUMBER,
    bank_outcomes,
    draw_seed,
    drawn_questions,
    question_outcomes,
)
from app.core.learning.payloads import check_payload
from app.core.learning.verify import VERIFIED, verify_course
from app.core.packs import read_source
from tests.support.learner_work import study
from tests.support.learning_fixtures import LEARNER, PACK, Recorder, sample_manifest

ROOT = Path(__file__).resolve().parents[2]
CORE = read_source(ROOT / "content_packs" / "promote-core").manifest
CORE_CATALOG = Catalog.from_manifests([CORE])
LEARNERS = [f"learner-{i}" for i in range(40)]


def core_quizzes() -> list[tuple[str, QuizInfo]]:
    out = []
    for (_pack, course), info in sorted(CORE_CATALOG.courses.items()):
        assert info.quiz is not None
        out.append((course, info.quiz))
    return out


def draw(quiz: QuizInfo, learner: str, course: str, number: int) -> list[str]:
    return drawn_questions(quiz, learner=learner, pack="promote-core", course=course,
                           number=number)


@pytest.mark.parametrize(("course", "quiz"), core_quizzes())
def test_every_draw_covers_every_outcome_of_the_bank(course: str, quiz: QuizInfo) -> None:
    outcomes = set(bank_outcomes(quiz))
    assert len(outcomes) >= 3 and quiz.draw >= len(outcomes)
    for learner in LEARNERS:
        for number in range(1, 6):
            ids = draw(quiz, learner, course, number)
            assert len(ids) == quiz.draw == len(set(ids))
            covered = set().union(*(question_outcomes(quiz.items[q]) for q in ids))
            assert covered == outcomes, (learner, number)


@pytest.mark.parametrize(("course", "quiz"), core_quizzes())
def test_a_retake_draws_different_items(course: str, quiz: QuizInfo) -> None:
    """Consecutive attempts never show the same set, and share at most the items an
    outcome with few questions forces (measured: printed in the assertion)."""
    shared = []
    for learner in LEARNERS:
        draws = [set(draw(quiz, learner, course, n)) for n in range(1, 5)]
        for a, b in zip(draws, draws[1:], strict=False):
            assert a != b, learner
            shared.append(len(a & b))
    # with a bank of ≥ 2N the next attempt shows new questions (shipped banks, measured:
    # 0.05–0.08 items shared on average, at most 1)
    assert sum(shared) / len(shared) <= 0.5 and max(shared) <= 2, (course, shared)
    # different learners get different draws of the same attempt number
    assert len({tuple(sorted(draw(quiz, lr, course, 1))) for lr in LEARNERS}) > 10


def test_the_draw_is_a_function_of_learner_pack_course_and_number() -> None:
    course, quiz = core_quizzes()[0]
    assert draw(quiz, "ann", course, 2) == draw(quiz, "ann", course, 2)
    assert draw_seed("ann", "promote-core", course, 2) == draw_seed("ann", "promote-core",
                                                                    course, 2)
    seeds = {draw_seed(who, "promote-core", course, n) for who in ("ann", "ben")
             for n in range(1, 50)}
    assert len(seeds) == 98 and all(0 <= s < 2**62 for s in seeds)
    # attempt numbers above the bound draw as the bound
    assert draw(quiz, "ann", course, MAX_ATTEMPT_NUMBER + 5) == draw(
        quiz, "ann", course, MAX_ATTEMPT_NUMBER)


def test_without_a_draw_every_attempt_shows_the_whole_bank() -> None:
    quiz = Catalog.from_manifests([sample_manifest()]).courses[(PACK, "boundaries")].quiz
    assert quiz is not None and quiz.draw == 0
    for n in (1, 2, 7):
        assert sorted(drawn_questions(quiz, learner="x", pack=PACK, course="boundaries",
                                      number=n)) == sorted(q["id"] for q in quiz.questions)


# -- two tablets ------------------------------------------------------------------------
def engine_for(learner: str) -> LearningEngine:
    return LearningEngine([CORE], learner=learner, role="prison_officer", language="en",
                          load_lesson=lambda pack, path: {})


def test_two_tablets_draw_the_same_items_and_a_synced_attempt_counts() -> None:
    course = "de-escalation"
    tablet_a, tablet_b = engine_for(LEARNER), engine_for(LEARNER)
    log_a = Recorder(tablet_a, device="tab-a")
    first = log_a.add(tablet_a.start_quiz("promote-core", course))
    started = log_a.events[-1]
    assert started["data"]["number"] == 1
    assert started["data"]["seed"] == draw_seed(LEARNER, "promote-core", course, 1)
    # tablet B, offline, would draw exactly the same first attempt
    alone = tablet_b.start_quiz("promote-core", course).events[0]["data"]
    assert alone["questions"] == started["data"]["questions"]
    # after the sync, tablet B shows tablet A's attempt with the same items and order
    for event in log_a.events:
        tablet_b.apply(event)
    view_a = tablet_a.attempt("promote-core", course, first.attempt)
    view_b = tablet_b.attempt("promote-core", course, first.attempt)
    assert [q.id for q in view_a.questions] == [q.id for q in view_b.questions]
    assert [[o.id for o in q.options] for q in view_a.questions] == \
        [[o.id for o in q.options] for q in view_b.questions]
    # the retake, started on tablet B, is attempt 2: another draw
    log_a.add(tablet_a.submit("promote-core", course, first.attempt))
    tablet_b.apply(log_a.events[-1])
    retake = tablet_b.start_quiz("promote-core", course).events[0]["data"]
    assert retake["number"] == 2
    assert set(retake["questions"]) != set(started["data"]["questions"])


# -- the server's re-scoring ---------------------------------------------------------------
def core_lookup(course: str):  # type: ignore[no-untyped-def]
    info = CORE_CATALOG.courses[("promote-core", course)]
    return lambda version: info if version == CORE["version"] else None


def core_verdict(events: list[dict[str, Any]], course: str):  # type: ignore[no-untyped-def]
    return verify_course(events, learner=LEARNER, pack="promote-core", course=course,
                         lookup=core_lookup(course))


def started(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for e in events if e["type"] == "quiz.started")


def test_the_server_accepts_a_drawn_attempt() -> None:
    events = study(CORE, LEARNER, "mental-health")
    assert started(events)["data"]["number"] == 1
    result = core_verdict(events, "mental-health")
    assert result.code == VERIFIED and result.attempts[0].reason is None
    assert result.score == 100


def test_the_server_refuses_answers_to_questions_outside_the_draw() -> None:
    events = study(CORE, LEARNER, "mental-health")
    quiz = CORE_CATALOG.courses[("promote-core", "mental-health")].quiz
    assert quiz is not None
    drawn = set(quiz.scored_ids(started(events)["data"]["questions"]))
    outside = next(i for i in quiz.items if i not in drawn and quiz.items[i]["type"] != "scenario")
    answer = next(e for e in events if e["type"] == "answer.given")
    extra = copy.deepcopy(answer)
    extra.update(id="0badbad0-0000-4000-8000-00000000000a", seq=answer["seq"] + 1000)
    extra["ref"]["question"] = outside
    extra["data"]["choice"] = [o["id"] for o in quiz.items[outside]["options"] if o["correct"]]
    result = core_verdict([*events, extra], "mental-health")
    assert not result.ok and result.attempts[0].reason == "answer_not_drawn"


def test_the_server_refuses_a_draw_of_another_number_or_seed() -> None:
    events = study(CORE, LEARNER, "mental-health")
    for change in ({"number": 2}, {"seed": 12345},
                   {"questions": list(reversed(started(events)["data"]["questions"]))}):
        forged = copy.deepcopy(events)
        started(forged)["data"].update(change)
        result = core_verdict(forged, "mental-health")
        assert not result.ok and result.attempts[0].reason == "questions_not_drawn", change


def test_attempts_recorded_before_item_banks_still_count() -> None:
    """A quiz.started without `number` (older apps: a random seed, the old draw rule) is
    re-scored by the old rule, so completions already pushed still verify."""
    events = study(CORE, LEARNER, "mental-health", seed=424242)
    assert "number" not in started(events)["data"]
    assert core_verdict(events, "mental-health").code == VERIFIED


@pytest.mark.parametrize("number", [0, -1, MAX_ATTEMPT_NUMBER + 1, True, "2", 1.5])
def test_a_started_event_with_a_bad_number_is_refused(number: Any) -> None:
    event = {"type": "quiz.started", "id": "x", "pack": PACK,
             "ref": {"course": "c", "attempt": "a"},
             "data": {"seed": 1, "questions": ["q1"], "number": number}}
    with pytest.raises(EventError, match="data.number"):
        check_payload(event)
