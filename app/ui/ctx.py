"""What every view builder receives: the session, the translator and navigation hooks.

The shell (app/ui/shell.py) makes one per render; unit tests make one with
:func:`test_context`-style recorders so handlers can be called without a browser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.device import TEXT_SCALE, Session
from app.core.i18n import Translator


@dataclass
class ViewContext:
    session: Session
    go: Callable[[str], None]
    refresh: Callable[[], None]
    flashes: list[str] = field(default_factory=list)

    @property
    def tr(self) -> Translator:
        return self.session.translator

    def _(self, message: str) -> str:  # noqa: D401 - gettext alias
        return self.session.translator.gettext(message)

    @property
    def scale(self) -> float:
        return TEXT_SCALE.get(self.session.text_size, 1.0)

    def flash(self, message: str) -> None:
        """Show a short message (snack bar) after the next render."""
        self.flashes.append(message)

    def act(self, fn: Callable[[], object]) -> None:
        """Run a handler's work as user activity (keeps the idle lock away)."""
        self.session.touch()
        fn()
