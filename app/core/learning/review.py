"""Spaced review with Leitner boxes (rule in docs/learning.md).

A question enters box 1 when it is answered wrongly (in a quiz or in review). A correct
*review* answer moves it up one box; a wrong answer (quiz or review) sends it back to
box 1; a correct answer in box 4 retires it. It is due `INTERVAL_DAYS[box]` days after
the (UTC) day of its last encounter. The box is recomputed from the question's encounters
sorted by order_key, so the result does not depend on the order events arrived in; an
encounter later than all others advances the state by one `step`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

INTERVAL_DAYS: dict[int, int] = {1: 1, 2: 3, 3: 7, 4: 14}
TOP_BOX = 4
#: at most this many questions are offered per day ("a short review queue")
DAILY_LIMIT = 10


class Encounter(NamedTuple):
    """One answer to a question (a NamedTuple: the fold makes one per answer at sign-in,
    and a frozen dataclass costs twice as much to create)."""

    key: tuple[str, str, int]  # order_key of the event
    day: date                  # UTC day of the event
    correct: bool
    review: bool               # True for review.answered, False for a quiz answer


@dataclass(frozen=True, slots=True)
class Leitner:
    box: int | None        # None = not in review (never wrong, or retired)
    due: date | None
    retired: bool = False


def leitner(encounters: list[Encounter]) -> Leitner:
    """The state after these encounters, taken in order (whole tuples are compared, so
    even two with one order_key give one result whatever order they arrived in)."""
    state = NEW
    for enc in sorted(encounters):
        state = step(state, enc)
    return state


#: a question never answered wrongly
NEW = Leitner(None, None, False)


def step(state: Leitner, enc: Encounter) -> Leitner:
    """The state after one more encounter, later than every one before: what lets a
    fold restored from a snapshot advance a question without its earlier encounters."""
    if not enc.correct:
        box: int | None = 1
        last: date | None = enc.day
        retired = False
    elif enc.review and state.box is not None:
        last = enc.day
        box, retired = (None, True) if state.box >= TOP_BOX else (state.box + 1, False)
    else:
        return state
    if box is None or last is None:
        return Leitner(None, None, retired)
    return Leitner(box, last + timedelta(days=INTERVAL_DAYS[box]))
