"""The server's verdict on a completion (app.core.learning.verify): for an honest tablet it
agrees with the engine — random draws, shuffles, partial credit on multiple-choice,
scenario parts, any event order — and nothing a device *claims* (quiz.submitted score and
passed, course.completed score) changes it; a shrunk draw, a bare completion, a version
never published to the learner or a course without questions is refused."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.learning.catalog import Catalog, CourseInfo
from app.core.learning.verify import (
    LESSONS_INCOMPLETE,
    NO_COMPLETION,
    NO_PASSED_ATTEMPT,
    NO_QUIZ,
    NOT_PUBLISHED,
    VERIFIED,
    verify_course,
)
from tests.support.learner_work import study
from tests.support.learning_fixtures import LEARNER, PACK, sample_manifest

V1 = sample_manifest(1)
V2 = sample_manifest(2)


def published(*manifests: dict[str, Any], course: str):  # type: ignore[no-untyped-def]
    by_version = {m["version"]: Catalog.from_manifests([m]) for m in manifests}

    def lookup(version: Any) -> CourseInfo | None:
        catalog = by_version.get(version) if type(version) is int else None
        return catalog.courses.get((PACK, course)) if catalog else None
    return lookup


def verdict(events: list[dict[str, Any]], course: str = "boundaries",
            lookup: Any = None):  # type: ignore[no-untyped-def]
    return verify_course(events, learner=LEARNER, pack=PACK, course=course,
                         lookup=lookup or published(V1, course=course))


def submitted(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for e in events if e["type"] == "quiz.submitted")


def test_an_honest_pass_is_verified_with_the_engines_score() -> None:
    events = study(V1, LEARNER, "boundaries", answers="half")
    assert events[-1]["type"] == "course.completed"
    result = verdict(events)
    assert result.ok and result.code == VERIFIED
    assert result.score == submitted(events)["data"]["score"] < 100   # partial credit
    assert result.pack_version == 1 and result.completion == events[-1]["id"]


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**62), course=st.sampled_from(["boundaries", "reporting"]),
       picks=st.randoms(use_true_random=False))
def test_server_and_engine_agree_for_any_draw_and_any_answers(seed: int, course: str,
                                                              picks: random.Random) -> None:
    """Any seed (random draw of 2 of 4 in `reporting`, shuffles everywhere) and any choice
    (right, wrong, partly right): the server's score is the engine's, and it certifies
    exactly when the engine completed the course."""
    def choose(item: dict[str, Any]) -> list[str]:
        ids = [o["id"] for o in item["options"]]
        if item["type"] != "multiple":
            return [picks.choice(ids)]
        return picks.sample(ids, picks.randint(1, len(ids)))

    events = study(V1, LEARNER, course, answers=choose, seed=seed)
    result = verdict(events, course)
    (check,) = result.attempts
    assert check.reason is None and check.score == submitted(events)["data"]["score"]
    assert check.passed is submitted(events)["data"]["passed"]
    completed = events[-1]["type"] == "course.completed"
    assert result.ok is completed
    if completed:
        assert result.score == check.score
    # in any order, the same verdict
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    assert verdict(shuffled, course) == result


def test_claimed_scores_decide_nothing() -> None:
    events = study(V1, LEARNER, "boundaries", answers="wrong")
    assert events[-1]["type"] == "quiz.submitted"          # the engine did not complete it
    lied = copy.deepcopy(events)
    submitted(lied)["data"].update(score=100, passed=True)
    done = {**copy.deepcopy(lied[-1]), "id": "c0ffee00-0000-4000-8000-000000000001",
            "seq": lied[-1]["seq"] + 1, "type": "course.completed",
            "ref": {"course": "boundaries"}, "data": {"score": 100}}
    result = verdict([*lied, done])
    assert not result.ok and result.code == NO_PASSED_ATTEMPT
    (check,) = result.attempts
    assert check.score == submitted(events)["data"]["score"] and check.passed is False
    # a pass with the score claimed higher: certified with the server's score
    honest = study(V1, LEARNER, "boundaries", answers="half")
    inflated = copy.deepcopy(honest)
    submitted(inflated)["data"]["score"] = 100
    inflated[-1]["data"]["score"] = 100
    assert verdict(inflated).score == submitted(honest)["data"]["score"] < 100


def test_a_bare_completion_is_refused() -> None:
    honest = study(V1, LEARNER, "boundaries")
    completion = honest[-1]
    assert verdict([completion]).code == LESSONS_INCOMPLETE
    reading = [e for e in honest if e["type"] in ("lesson.opened", "card.viewed")]
    assert verdict([*reading, completion]).code == NO_PASSED_ATTEMPT
    assert verdict(honest[:-1]).code == NO_COMPLETION      # passed, but never completed


def test_answers_without_their_quiz_start_or_submission_do_not_count() -> None:
    honest = study(V1, LEARNER, "boundaries")
    no_start = [e for e in honest if e["type"] != "quiz.started"]
    assert verdict(no_start).attempts[0].reason == "not_started"
    no_submit = [e for e in honest if e["type"] != "quiz.submitted"]
    assert verdict(no_submit).attempts[0].reason == "not_submitted"
    assert not verdict(no_start).ok and not verdict(no_submit).ok


def test_a_shrunk_draw_is_refused() -> None:
    """`reporting` draws 2 of 4 questions; a device that claims its seed drew only the
    one it knows (or any other list) has no counted attempt."""
    honest = study(V1, LEARNER, "reporting", seed=7)
    assert verdict(honest, "reporting").ok
    started = next(e for e in honest if e["type"] == "quiz.started")
    for questions in (started["data"]["questions"][:1], ["b0", "b1"], ["b3", "b2", "b1"]):
        if questions == started["data"]["questions"]:
            continue
        forged = copy.deepcopy(honest)
        next(e for e in forged if e["type"] == "quiz.started")["data"]["questions"] = questions
        result = verdict(forged, "reporting")
        assert not result.ok and result.attempts[0].reason == "questions_not_drawn"


def test_versions_never_published_to_the_learner_prove_nothing() -> None:
    honest = study(V1, LEARNER, "boundaries")
    nothing = verdict(honest, lookup=lambda version: None)
    assert nothing.code == NOT_PUBLISHED and nothing.attempts[0].reason == "not_published"
    # answers claimed under a version the learner never had score 0
    moved = copy.deepcopy(honest)
    for e in moved:
        if e["type"] == "answer.given":
            e["pack_version"] = 9
    result = verdict(moved)
    assert result.code == NO_PASSED_ATTEMPT and result.attempts[0].score == 0


def test_an_option_the_question_does_not_have_scores_nothing() -> None:
    forged = study(V1, LEARNER, "boundaries")
    for e in forged:
        if e["type"] == "answer.given":
            e["data"]["choice"] = ["zz"]
    assert verdict(forged).attempts[0].score == 0 and not verdict(forged).ok


def test_a_course_without_questions_is_never_certified() -> None:
    bare = copy.deepcopy(V1)
    bare["courses"][0]["quiz"] = {"questions": []}
    honest = study(V1, LEARNER, "boundaries")
    assert verdict(honest, lookup=published(bare, course="boundaries")).code == NO_QUIZ


def test_work_across_published_versions_counts_and_other_learners_do_not() -> None:
    """Lessons and quiz under v1, the completion proposed after the update to v2 (both
    published): certified, with v2's texts. Another learner's events change nothing."""
    honest = study(V1, LEARNER, "boundaries")
    later = copy.deepcopy(honest)
    later[-1]["pack_version"] = 2
    assert verdict(later, lookup=published(V1, V2, course="boundaries")).pack_version == 2
    assert verdict(later).code == NOT_PUBLISHED            # v2 never reached them
    someone = [{**copy.deepcopy(e), "learner": "learner-2"} for e in honest]
    assert verdict(someone).code == NO_COMPLETION


@pytest.mark.parametrize("junk", [
    {"type": "answer.given", "data": {"choice": "a", "score": 1}},
    {"type": "quiz.started", "data": {"seed": -1, "questions": []}},
    {"type": "course.completed", "ref": "boundaries"},
])
def test_malformed_events_are_ignored_as_on_the_device(junk: dict[str, Any]) -> None:
    honest = study(V1, LEARNER, "boundaries")
    bad = {**copy.deepcopy(honest[0]), "id": "0badbad0-0000-4000-8000-000000000000", **junk}
    assert verdict([*honest, bad]) == verdict(honest)
