"""Quiz rules: drawing and shuffling from a seed, scoring, per-option feedback.

Everything here is a pure function of the quiz, the attempt's seed and the learner's
choice, so a resumed attempt (on this or another tablet) shows the same order and a
re-scored answer gives the same score. docs/learning.md states the rules.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.errors import ErrorCode, LearningError
from app.core.learning.catalog import QuizInfo
from app.core.learning.text import Text, localize, markdown


def attempt_order(quiz: QuizInfo, seed: int) -> list[str]:
    """Top-level question ids of an attempt, in display order.

    draw N > 0 picks N questions from the bank with the seeded generator; with
    shuffle_questions off the drawn questions keep the author's order.
    """
    ids = [q["id"] for q in quiz.questions]
    rng = random.Random(seed)
    if quiz.draw and quiz.draw < len(ids):
        picked = set(rng.sample(ids, quiz.draw))
        ids = [i for i in ids if i in picked]
    if quiz.shuffle_questions:
        rng.shuffle(ids)
    return ids


def option_order(quiz: QuizInfo, question: dict[str, Any], seed: int) -> list[str]:
    """Option ids of one question in display order. True/false is never shuffled."""
    ids = [o["id"] for o in question["options"]]
    if quiz.shuffle_options and question["type"] != "true_false":
        random.Random(f"{seed}:{question['id']}").shuffle(ids)
    return ids


def score_choice(question: dict[str, Any], choice: Sequence[str]) -> float:
    """Score one answer in [0, 1].

    single / true_false: exactly one option must be chosen; 1 if it is the correct one.
    multiple: max(0, (correct chosen − wrong chosen) / number of correct options).
    Raises LearningError for an empty choice, an unknown option or a repeated option.
    """
    qtype = question.get("type")
    if qtype == "scenario":
        raise LearningError(f"question {question['id']}: a scenario is answered part by part")
    if isinstance(choice, str) or not isinstance(choice, Sequence) or not choice:
        raise LearningError(f"question {question['id']}: choose at least one option",
                            code=ErrorCode.CHOICE_MISSING)
    chosen = list(choice)
    if len(set(chosen)) != len(chosen):
        raise LearningError(f"question {question['id']}: option chosen twice",
                            code=ErrorCode.CHOICE_REPEATED)
    options = {o["id"]: bool(o["correct"]) for o in question["options"]}
    unknown = [c for c in chosen if c not in options]
    if unknown:
        raise LearningError(f"question {question['id']}: unknown option {unknown[0]!r}; "
                            f"options are {', '.join(options)}")
    if qtype in ("single", "true_false"):
        if len(chosen) != 1:
            raise LearningError(f"question {question['id']}: choose exactly one option",
                                code=ErrorCode.CHOOSE_ONE)
        return 1.0 if options[chosen[0]] else 0.0
    right = sum(1 for c in chosen if options[c])
    wrong = len(chosen) - right
    total = sum(1 for v in options.values() if v)
    return max(0.0, (right - wrong) / total)


def percent(scores: Sequence[float], n_items: int) -> float:
    """Attempt score in percent: every scored item (a question or a scenario part) weighs
    the same; unanswered items count 0. Rounded to 2 decimals (that value decides pass)."""
    if n_items <= 0:
        return 0.0
    return round(100.0 * sum(scores) / n_items, 2)


def attempt_score(quiz: QuizInfo, questions: Sequence[str],
                  score_of: Callable[[str], float | None]) -> tuple[float, int, int]:
    """(score %, answered, total) of an attempt whose top-level questions are `questions`:
    the scored items are their parts or themselves, `score_of(item)` is an item's score
    (None: unanswered, counts 0). The device (engine.submit, with the scores it recorded)
    and the server (app.core.learning.verify, re-scoring the choices) both call this."""
    items = quiz.scored_ids(questions)
    scores = [s for s in (score_of(q) for q in items) if s is not None]
    return percent(scores, len(items)), len(scores), len(items)


def passes(score: float, pass_mark: float) -> bool:
    """The pass rule: the attempt's rounded percent reaches the course pass mark."""
    return score >= pass_mark


@dataclass(frozen=True, slots=True)
class OptionView:
    id: str
    text: Text
    #: after answering: was it chosen, is it correct, and why (feedback); before: None
    chosen: bool | None = None
    correct: bool | None = None
    feedback: Text | None = None


@dataclass(frozen=True, slots=True)
class QuestionView:
    """One scored item as shown: a question, or one part of a scenario (with its case)."""

    id: str
    type: str
    index: int
    prompt: Text
    options: tuple[OptionView, ...]
    scenario: str | None = None
    case: Text | None = None
    answered: bool = False
    score: float | None = None
    explanation: Text | None = None

    @property
    def correct(self) -> bool | None:
        return None if self.score is None else self.score >= 1.0


def question_view(quiz: QuizInfo, item_id: str, index: int, seed: int, lang: str, default: str,
                  chosen: Sequence[str] | None = None, *, score: float | None = None
                  ) -> QuestionView:
    """View of one scored item; with `chosen` (the answer given) it carries per-option
    feedback, correctness and the explanation.

    `score`: the score recorded when the answer was given (answer.given). Past answers
    keep it even if a pack update changed the question's options since; without it the
    choice is scored against the question as it is now.
    """
    q = quiz.items[item_id]
    by_id = {o["id"]: o for o in q["options"]}
    answered = chosen is not None
    picked = set(chosen or ())
    options = []
    for oid in option_order(quiz, q, seed):
        o = by_id[oid]
        text = localize(o.get("text"), lang, default) if o.get("text") else Text(oid, lang)
        if answered:
            options.append(OptionView(oid, text, oid in picked, bool(o["correct"]),
                                      localize(o.get("feedback"), lang, default)))
        else:
            options.append(OptionView(oid, text))
    parent_id = quiz.parent.get(item_id)
    parent = quiz.items[parent_id] if parent_id else None
    return QuestionView(
        id=item_id, type=q["type"], index=index, prompt=localize(q.get("prompt"), lang, default),
        options=tuple(options), scenario=parent_id,
        case=markdown(localize(parent.get("case"), lang, default)) if parent else None,
        answered=answered,
        score=score if score is not None or not answered or not chosen
        else score_choice(q, list(chosen)),
        explanation=markdown(localize(q.get("explanation"), lang, default)) if answered
        else None)
