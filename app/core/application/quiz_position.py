"""Where a learner is in a quiz, counted the way the course outline counts.

The outline says "12 questions" (the questions an attempt draws: ``draw`` N, else the
whole bank). A scenario question is shown part by part, one scored item per screen, so
counting screens would make the quiz count to 14. Both count *questions*: a scenario is
one question, its parts are "part 2 of 3" of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.learning.quiz import QuestionView


@dataclass(frozen=True)
class QuizPosition:
    number: int         # 1-based question number (a scenario is one question)
    total: int          # questions in the attempt (= the outline's count)
    part: int = 0       # 1-based part of a scenario; 0 for a plain question
    parts: int = 0      # parts of that scenario; 0 for a plain question


def quiz_position(items: Sequence[QuestionView], index: int) -> QuizPosition:
    """The position of scored item `index` (display order) among an attempt's items."""
    if not 0 <= index < len(items):
        raise IndexError(f"quiz item {index} of {len(items)}")
    keys = [q.scenario or q.id for q in items]
    questions = list(dict.fromkeys(keys))
    key = keys[index]
    number = questions.index(key) + 1
    if items[index].scenario is None:
        return QuizPosition(number, len(questions))
    siblings = [i for i, k in enumerate(keys) if k == key]
    return QuizPosition(number, len(questions), siblings.index(index) + 1, len(siblings))
