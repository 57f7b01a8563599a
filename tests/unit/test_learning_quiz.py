"""Quiz engine: scoring, seeded draw/shuffle, feedback, attempts, submit."""

from __future__ import annotations

import copy

import pytest

from app.core.errors import LearningError, PackError
from app.core.learning import Catalog, LearningEngine
from app.core.learning.quiz import attempt_order, option_order, percent, score_choice
from tests.support.learning_fixtures import PACK, Recorder, learning_engine, sample_manifest

B = "boundaries"


def make(language: str = "en", manifest: dict | None = None) -> tuple[LearningEngine, Recorder]:
    engine = learning_engine(language=language, manifest=manifest)
    return engine, Recorder(engine)


def quiz(course: str = B):
    return Catalog.from_manifests([sample_manifest()]).course(PACK, course).quiz


# -- scoring ---------------------------------------------------------------------------
def test_single_and_true_false_score_zero_or_one() -> None:
    q = quiz()
    assert score_choice(q.items["q1"], ["a"]) == 1.0
    assert score_choice(q.items["q1"], ["b"]) == 0.0
    assert score_choice(q.items["q3"], ["false"]) == 1.0
    assert score_choice(q.items["q3"], ["true"]) == 0.0


@pytest.mark.parametrize(("choice", "expected"), [
    (["a", "b"], 1.0), (["a"], 0.5), (["b"], 0.5), (["a", "c"], 0.0), (["a", "b", "c"], 0.5),
    (["c", "d"], 0.0), (["a", "b", "c", "d"], 0.0),
])
def test_multiple_partial_credit_rule(choice: list[str], expected: float) -> None:
    assert score_choice(quiz().items["q2"], choice) == expected


@pytest.mark.parametrize("choice", [[], ["zz"], ["a", "a"], "a", None, ["a", "b"]])
def test_hostile_choices_on_single_are_refused(choice) -> None:
    with pytest.raises(LearningError, match="q1"):
        score_choice(quiz().items["q1"], choice)


def test_scenario_is_answered_by_parts() -> None:
    with pytest.raises(LearningError, match="part by part"):
        score_choice(quiz().items["q4"], ["a"])
    assert quiz().scored_ids(["q4", "q1"]) == ["q4a", "q4b", "q1"]


def test_percent_counts_unanswered_as_zero() -> None:
    assert percent([1, 1, 0.5], 5) == 50.0
    assert percent([], 0) == 0.0
    assert percent([1, 1], 3) == 66.67


# -- order from the seed -----------------------------------------------------------------
def test_order_is_reproducible_from_seed_and_differs_between_seeds() -> None:
    q = quiz()
    assert attempt_order(q, 7) == attempt_order(q, 7)
    orders = {tuple(attempt_order(q, s)) for s in range(30)}
    assert len(orders) > 5
    for s in range(10):
        assert sorted(attempt_order(q, s)) == ["q1", "q2", "q3", "q4"]
        assert option_order(q, q.items["q3"], s) == ["true", "false"]  # never shuffled
    assert len({tuple(option_order(q, q.items["q2"], s)) for s in range(30)}) > 5


def test_draw_n_picks_n_from_the_bank() -> None:
    q = quiz("reporting")
    drawn = [attempt_order(q, s) for s in range(40)]
    assert all(len(d) == 2 and len(set(d)) == 2 for d in drawn)
    assert {i for d in drawn for i in d} == {"b0", "b1", "b2", "b3"}


def test_no_shuffle_keeps_author_order() -> None:
    m = sample_manifest()
    m["courses"][0]["quiz"].update(shuffle_questions=False, shuffle_options=False)
    q = Catalog.from_manifests([m]).course(PACK, B).quiz
    assert attempt_order(q, 99) == ["q1", "q2", "q3", "q4"]
    assert option_order(q, q.items["q2"], 99) == ["a", "b", "c", "d"]


def test_resumed_attempt_shows_same_order_on_another_tablet() -> None:
    engine, log = make()
    step = log.add(engine.start_quiz(PACK, B, seed=1234))
    head = engine.attempt(PACK, B, step.attempt).questions[0]
    log.add(engine.answer(PACK, B, step.attempt, head.id, [head.options[0].id]))
    first = engine.attempt(PACK, B, step.attempt)
    other, _ = make()
    other.apply_many(log.events)
    second = other.attempt(PACK, B, step.attempt)
    assert [q.id for q in first.questions] == [q.id for q in second.questions]
    assert [[o.id for o in q.options] for q in first.questions] == \
        [[o.id for o in q.options] for q in second.questions]
    assert log.events[0]["data"]["seed"] == 1234
    assert log.events[0]["data"]["questions"] == attempt_order(quiz(), 1234)


# -- answering ---------------------------------------------------------------------------
def test_answer_returns_per_option_feedback_and_explanation() -> None:
    engine, log = make("lt")
    attempt = log.add(engine.start_quiz(PACK, B, seed=5)).attempt
    step = log.add(engine.answer(PACK, B, attempt, "q2", ["a", "c"]))
    fb = step.feedback
    assert step.score == 0.0 and fb.correct is False and fb.answered
    by_id = {o.id: o for o in fb.options}
    assert by_id["a"].chosen and by_id["a"].correct
    assert by_id["c"].chosen and not by_id["c"].correct
    assert by_id["b"].correct and not by_id["b"].chosen
    assert by_id["c"].feedback.text == "why c is wrong" and by_id["c"].feedback.fallback
    assert by_id["a"].text.text == "A (lt)" and not by_id["a"].text.fallback
    assert fb.explanation.text == "a and b"
    event = log.events[-1]
    assert event["type"] == "answer.given" and event["ref"]["question"] == "q2"
    assert event["data"] == {"choice": ["a", "c"], "score": 0.0, "correct": False,
                             "type": "multiple"}


def test_scenario_parts_carry_the_case_and_score_separately() -> None:
    engine, log = make("lt")
    attempt = log.add(engine.start_quiz(PACK, B, seed=5)).attempt
    view = engine.attempt(PACK, B, attempt)
    parts = [q for q in view.questions if q.scenario == "q4"]
    assert [p.id for p in parts] == ["q4a", "q4b"]
    assert parts[0].case.text == "Atvejis"
    assert log.add(engine.answer(PACK, B, attempt, "q4a", ["b"])).score == 1.0
    assert log.add(engine.answer(PACK, B, attempt, "q4b", ["false"])).score == 0.0
    with pytest.raises(LearningError, match="not part"):
        engine.answer(PACK, B, attempt, "q4", ["a"])


def test_answer_rules_are_enforced() -> None:
    engine, log = make()
    attempt = log.add(engine.start_quiz(PACK, B, seed=5)).attempt
    log.add(engine.answer(PACK, B, attempt, "q1", ["a"]))
    with pytest.raises(LearningError, match="already answered"):
        engine.answer(PACK, B, attempt, "q1", ["b"])
    with pytest.raises(LearningError, match="not part"):
        engine.answer(PACK, B, attempt, "nope", ["a"])
    with pytest.raises(LearningError, match="no attempt"):
        engine.answer(PACK, B, "not-an-attempt", "q1", ["a"])
    with pytest.raises(LearningError, match="unknown option"):
        engine.answer(PACK, B, attempt, "q2", ["a", "zz"])
    log.add(engine.submit(PACK, B, attempt))
    with pytest.raises(LearningError, match="already submitted"):
        engine.answer(PACK, B, attempt, "q2", ["a"])
    with pytest.raises(LearningError, match="already submitted"):
        engine.submit(PACK, B, attempt)


def test_proposed_event_not_applied_changes_nothing() -> None:
    engine, _ = make()
    step = engine.start_quiz(PACK, B, seed=1)
    assert engine.outline(PACK, B).quiz.attempts_used == 0
    with pytest.raises(LearningError, match="no attempt"):
        engine.answer(PACK, B, step.attempt, "q1", ["a"])


# -- submit, pass mark, attempts ----------------------------------------------------------
def answer_all(engine: LearningEngine, log: Recorder, attempt: str, good: set[str]) -> None:
    correct = {"q1": ["a"], "q2": ["a", "b"], "q3": ["false"], "q4a": ["b"], "q4b": ["true"]}
    wrong = {"q1": ["b"], "q2": ["c"], "q3": ["true"], "q4a": ["a"], "q4b": ["false"]}
    for q in [q.id for q in engine.attempt(PACK, B, attempt).questions]:
        log.add(engine.answer(PACK, B, attempt, q, correct[q] if q in good else wrong[q]))


def test_submit_scores_and_applies_pass_mark() -> None:
    engine, log = make()
    attempt = log.add(engine.start_quiz(PACK, B, seed=3)).attempt
    answer_all(engine, log, attempt, {"q1", "q2", "q3"})          # 3 of 5 = 60 %
    step = log.add(engine.submit(PACK, B, attempt))
    assert (step.score, step.passed) == (60.0, False)
    assert log.events[-1]["data"] == {"score": 60.0, "passed": False, "pass_mark": 70.0,
                                      "answered": 5, "total": 5}
    attempt = log.add(engine.start_quiz(PACK, B, seed=4)).attempt
    answer_all(engine, log, attempt, {"q1", "q2", "q3", "q4a"})   # 80 %
    step = log.add(engine.submit(PACK, B, attempt))
    assert (step.score, step.passed) == (80.0, True)
    state = engine.outline(PACK, B).quiz
    assert (state.best_score, state.passed, state.attempts_used, state.attempts_left) == \
        (80.0, True, 2, 1)


def test_pass_mark_is_inclusive_and_unanswered_count_zero() -> None:
    m = sample_manifest()
    m["courses"][0]["pass_mark"] = 40
    engine, log = make(manifest=m)
    attempt = log.add(engine.start_quiz(PACK, B, seed=3)).attempt
    log.add(engine.answer(PACK, B, attempt, "q1", ["a"]))
    log.add(engine.answer(PACK, B, attempt, "q2", ["a", "b"]))
    step = log.add(engine.submit(PACK, B, attempt))
    assert (step.score, step.passed) == (40.0, True)
    assert log.events[-1]["data"]["answered"] == 2


def test_attempt_limit_and_open_attempt() -> None:
    engine, log = make()
    for i in range(3):
        attempt = log.add(engine.start_quiz(PACK, B, seed=i)).attempt
        with pytest.raises(LearningError, match="still open"):
            engine.start_quiz(PACK, B)
        log.add(engine.submit(PACK, B, attempt))
    with pytest.raises(LearningError, match="no attempts left"):
        engine.start_quiz(PACK, B)
    assert engine.outline(PACK, B).quiz.attempts_left == 0


def test_unlimited_attempts_and_draw() -> None:
    engine, log = make()
    for i in range(6):
        attempt = log.add(engine.start_quiz(PACK, "reporting", seed=i)).attempt
        view = engine.attempt(PACK, "reporting", attempt)
        assert len(view.questions) == 2 and view.number == i + 1
        log.add(engine.submit(PACK, "reporting", attempt))
    state = engine.outline(PACK, "reporting").quiz
    assert state.attempts_left is None and state.attempts_used == 6 and state.questions == 2


def test_attempt_survives_pack_update_that_removes_a_question() -> None:
    engine, log = make()
    attempt = log.add(engine.start_quiz(PACK, B, seed=8)).attempt
    m2 = sample_manifest(version=2)
    m2["courses"][0]["quiz"]["questions"] = [q for q in m2["courses"][0]["quiz"]["questions"]
                                             if q["id"] != "q2"]
    updated = learning_engine(manifest=m2, events=log.events)
    view = updated.attempt(PACK, B, attempt)
    assert "q2" not in [q.id for q in view.questions] and len(view.questions) == 4


def test_past_answers_keep_their_score_after_a_pack_update_changes_the_options() -> None:
    """An answer is scored once, when given: a later pack that drops the chosen option
    (or changes which one is correct) neither breaks nor re-scores the old attempt."""
    engine, log = make()
    attempt = log.add(engine.start_quiz(PACK, B, seed=8)).attempt
    log.add(engine.answer(PACK, B, attempt, "q1", ["c"]))          # wrong: score 0
    log.add(engine.answer(PACK, B, attempt, "q2", ["a", "b"]))     # right: score 1
    m2 = sample_manifest(version=2)
    q1, q2 = m2["courses"][0]["quiz"]["questions"][:2]
    q1["options"] = [o for o in q1["options"] if o["id"] != "c"]
    q2["options"][0]["correct"] = False
    view = learning_engine(manifest=m2, events=log.events).attempt(PACK, B, attempt)
    scores = {q.id: q.score for q in view.questions if q.answered}
    assert scores == {"q1": 0.0, "q2": 1.0}
    shown = next(q for q in view.questions if q.id == "q1")
    assert [o.id for o in shown.options if o.chosen] == []       # "c" is gone from the pack


# -- hostile manifests -------------------------------------------------------------------
@pytest.mark.parametrize(("mutate", "message"), [
    (lambda m: m["courses"][0]["quiz"]["questions"][0]["options"][1].update(correct=True),
     "exactly one correct"),
    (lambda m: m["courses"][0]["quiz"]["questions"][0].update(type="essay"), "type"),
    (lambda m: m["courses"][0]["quiz"]["questions"][1].update(id="q1"), "duplicate"),
    (lambda m: m["courses"][0]["quiz"]["questions"][0].update(options=[]), "2–8 options"),
    (lambda m: m["courses"][0].update(pass_mark=140), "pass_mark"),
    (lambda m: m["courses"][0].update(pass_mark=True), "pass_mark"),
    (lambda m: m["courses"][0]["lessons"][0].update(cards=0), "cards"),
    (lambda m: m["courses"][0].pop("id"), "id: missing"),
    (lambda m: m["courses"][0]["quiz"]["questions"][3].update(parts=[]), "at least one part"),
    (lambda m: m["courses"][0]["quiz"]["questions"][3]["parts"][0].update(type="scenario"),
     "type"),
    (lambda m: m["courses"][0]["quiz"].update(max_attempts=-1), "max_attempts"),
    (lambda m: m.update(version="1"), "version"),
])
def test_bad_manifest_is_a_pack_error_naming_the_field(mutate, message) -> None:
    m = copy.deepcopy(sample_manifest())
    mutate(m)
    with pytest.raises(PackError, match=message):
        Catalog.from_manifests([m])


def test_unknown_course_and_no_quiz() -> None:
    engine, _ = make()
    with pytest.raises(LearningError, match="not installed"):
        engine.start_quiz(PACK, "nope")
    m = sample_manifest()
    del m["courses"][0]["quiz"]
    engine, _ = make(manifest=m)
    with pytest.raises(LearningError, match="no quiz"):
        engine.start_quiz(PACK, B)
    assert engine.outline(PACK, B).quiz is None
