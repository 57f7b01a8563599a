"""Display preferences: text size and high contrast, per learner, with a tablet default.

A colleague with weaker eyes sets "larger" for herself; the next person at the tablet
must not inherit it. So the preferences of a signed-in learner are hers (stored on this
tablet in the setting ``learner_display``: learner id → {text_size, high_contrast}) and
applied at sign-in; before sign-in (who is learning?, the PIN pad, a new profile) the
screen uses the tablet's default (settings ``text_size`` / ``high_contrast``, changed on
the signed-out Settings screen). A learner without preferences of her own sees the
tablet default. Language is the third preference and lives in the learner's profile
(it also chooses her content, and syncs with her profile).

The theme (app/ui/theme.py) scales every text style by TEXT_SCALE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.errors import StoreError
from app.core.store.erasure import LEARNER_DISPLAY

TEXT_SIZES: tuple[str, ...] = ("normal", "large", "larger")
TEXT_SCALE = {"normal": 1.0, "large": 1.2, "larger": 1.45}
#: Setting names (app/core/store/settings.py validates their values).
TEXT_SIZE_SETTING = "text_size"
HIGH_CONTRAST_SETTING = "high_contrast"
#: per learner (an erasure drops the learner's: app/core/store/erasure.py)
LEARNER_DISPLAY_SETTING = LEARNER_DISPLAY
#: Learners with preferences kept on one tablet (oldest dropped first beyond it).
MAX_LEARNERS_WITH_PREFERENCES = 500


def text_size_or_default(value: object) -> str:
    """A stored text size, or "normal" for anything else."""
    return value if isinstance(value, str) and value in TEXT_SIZES else "normal"


def check_text_size(size: str) -> str:
    if size not in TEXT_SIZES:
        raise StoreError(f"text_size: expected one of {', '.join(TEXT_SIZES)}")
    return size


@dataclass(frozen=True)
class DisplayPrefs:
    text_size: str = "normal"
    high_contrast: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"text_size": self.text_size, "high_contrast": self.high_contrast}


def tablet_default(text_size: object, high_contrast: object) -> DisplayPrefs:
    return DisplayPrefs(text_size_or_default(text_size), high_contrast is True)


def learner_prefs(stored: object, learner_id: str, default: DisplayPrefs) -> DisplayPrefs:
    """The learner's own preferences from the ``learner_display`` setting; `default` for
    a learner who has none (or an unreadable entry)."""
    entry = stored.get(learner_id) if isinstance(stored, dict) else None
    if not isinstance(entry, dict):
        return default
    size = entry.get("text_size", default.text_size)
    contrast = entry.get("high_contrast", default.high_contrast)
    return DisplayPrefs(text_size_or_default(size), contrast is True)


def with_learner_prefs(stored: object, learner_id: str, prefs: DisplayPrefs) -> dict[str, Any]:
    """The ``learner_display`` setting with this learner's preferences (most recent
    last; the oldest entries go beyond MAX_LEARNERS_WITH_PREFERENCES)."""
    table = {k: v for k, v in stored.items() if k != learner_id} \
        if isinstance(stored, dict) else {}
    table[learner_id] = prefs.as_json()
    return dict(list(table.items())[-MAX_LEARNERS_WITH_PREFERENCES:])

