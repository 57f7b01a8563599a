"""Transient state of one screen that is not learning data.

Which PIN digits are typed, what a form holds between redraws, which quiz option is
chosen, which duty of a self-assessment is shown, the snack-bar messages of the next
render. The session keeps one :class:`SessionView` and replaces it with a fresh one on
sign-in and on lock, so nothing typed by one learner is seen by the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.application.forms import ProfileFormError
from app.core.errors import ShiftError
from app.core.learning.quiz import QuestionView


@dataclass
class Flash:
    """A one-shot message for the next render (snack bar)."""

    text: str
    kind: str = "info"


@dataclass
class SessionView:
    pin_digits: str = ""
    pin_error: str = ""
    pin_wait_until: float = 0.0           # monotonic time the PIN pad waits for
    selected_profile: str | None = None
    forgot_pin: bool = False              # the PIN pad shows whom to ask
    zoom_image: tuple[str, str, str] | None = None   # (pack, media path, alt): full screen
    form_error: ProfileFormError | None = None
    form: dict[str, str] = field(default_factory=dict)
    form_message: str = ""
    quiz_choice: list[str] = field(default_factory=list)
    quiz_focus: str | None = None         # an answered question shown with its feedback
    review_feedback: QuestionView | None = None
    assess_key: tuple[str, str, str] | None = None
    assess_duty: int = 0
    flashes: list[Flash] = field(default_factory=list)
    #: Settings → Sync now: how the last sync on this screen ended — "done", or the error
    #: that stopped it. Kept as a fact, not a sentence, so the line under the button is
    #: drawn in the current language (a language switch after a sync translates it too).
    sync_result: ShiftError | str | None = None
