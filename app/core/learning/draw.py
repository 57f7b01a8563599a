"""Item banks: which questions an attempt shows (docs/learning.md "Item banks").

A quiz with ``draw = N`` shows N of its bank's questions per attempt (a scenario counts as
one). The draw of a learner's attempt number *n* is a pure function of the learner, the
pack, the course, *n* and the quiz, so it is the same on every tablet and on the server,
and the ``quiz.started`` event stores it (``seed``, ``number``, ``questions``):

1. **seed** = the first 62 bits of SHA-256 of ``"shift-draw-v1"``, learner, pack, course
   and *n* (``draw_seed``) — it also orders the questions and their options;
2. **preference order**: the bank shuffled by the seed, then the questions of the previous
   attempt's draw (attempt *n − 1*, computed the same way) moved to the end, so a retake
   sees different items whenever the bank allows it (a bank of ≥ 2N always does, except
   for an outcome too few questions test);
3. **coverage**: walking the preference order, a question is taken when it tests a
   learning outcome not yet covered (its ``outcome`` and its parts'), until every outcome
   the bank tests is covered (all of them, when N ≥ the number of outcomes);
4. **fill**: the next questions of the preference order until N are taken;
5. **order**: bank order, shuffled by the seed when ``shuffle_questions``.

Attempts recorded before this rule (``quiz.started`` without ``number``) were drawn by
``app.core.learning.quiz.attempt_order`` from a random seed; the server still accepts
them by that rule.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from app.core.learning.catalog import QuizInfo
from app.core.learning.payloads import MAX_ATTEMPT_NUMBER
from app.core.learning.quiz import attempt_order

__all__ = ["MAX_ATTEMPT_NUMBER", "bank_outcomes", "draw_seed", "drawn_questions",
           "question_outcomes"]
_DOMAIN = "shift-draw-v1"


def draw_seed(learner: str, pack: str, course: str, number: int) -> int:
    """The seed of a learner's attempt ``number`` of a quiz (62 bits, like a random seed)."""
    text = "\0".join((_DOMAIN, learner, pack, course, str(number)))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 2


def question_outcomes(question: dict[str, Any]) -> set[str]:
    """The learning outcomes a top-level question tests (a scenario: its parts' too)."""
    tags = {question.get("outcome")} | {p.get("outcome") for p in question.get("parts", [])}
    return {t for t in tags if isinstance(t, str) and t}


def bank_outcomes(quiz: QuizInfo) -> list[str]:
    """Every outcome the bank tests, in order of first appearance."""
    out: list[str] = []
    for q in quiz.questions:
        for tag in sorted(question_outcomes(q)):
            if tag not in out:
                out.append(tag)
    return out


def _pick(quiz: QuizInfo, seed: int, previous: set[str]) -> set[str]:
    ids = [q["id"] for q in quiz.questions]
    if not quiz.draw or quiz.draw >= len(ids):
        return set(ids)
    preference = list(ids)
    random.Random(seed).shuffle(preference)
    preference.sort(key=lambda qid: qid in previous)        # stable: fresh ones first
    outcomes = {q["id"]: question_outcomes(q) for q in quiz.questions}
    uncovered = set(bank_outcomes(quiz))
    picked: list[str] = []
    for qid in preference:
        if not uncovered or len(picked) == quiz.draw:
            break
        if outcomes[qid] & uncovered:
            picked.append(qid)
            uncovered -= outcomes[qid]
    for qid in preference:
        if len(picked) == quiz.draw:
            break
        if qid not in picked:
            picked.append(qid)
    return set(picked)


def drawn_questions(quiz: QuizInfo, *, learner: str, pack: str, course: str,
                    number: int) -> list[str]:
    """Top-level question ids of a learner's attempt ``number``, in display order."""
    number = max(1, min(number, MAX_ATTEMPT_NUMBER))
    picked: set[str] = set()
    seed = 0
    for n in range(1, number + 1):
        seed = draw_seed(learner, pack, course, n)
        picked = _pick(quiz, seed, picked)
        if not quiz.draw or quiz.draw >= len(quiz.questions):
            break                                            # the whole bank every time
    seed = draw_seed(learner, pack, course, number)
    ids = [q["id"] for q in quiz.questions if q["id"] in picked]
    if quiz.shuffle_questions:
        random.Random(f"{seed}:order").shuffle(ids)
    return ids


def started_data(quiz: QuizInfo, *, learner: str, pack: str, course: str, started: int,
                 seed: int | None = None) -> dict[str, Any]:
    """``data`` of a new attempt's quiz.started (without ``lang``): attempt number
    ``started + 1`` and its draw; a given `seed` (tests, events of older apps) draws by the
    rule before item banks (``attempt_order``, no ``number``)."""
    if seed is not None:
        return {"seed": seed, "questions": attempt_order(quiz, seed)}
    number = min(MAX_ATTEMPT_NUMBER, 1 + started)
    return {"seed": draw_seed(learner, pack, course, number), "number": number,
            "questions": drawn_questions(quiz, learner=learner, pack=pack, course=course,
                                         number=number)}
