"""What every view builder receives: the session, the translator and navigation hooks.

The shell (app/ui/shell.py) makes one per render; unit tests make one with
:func:`test_context`-style recorders so handlers can be called without a browser.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from app.core.application import Flash, Session
from app.core.errors import ShiftError
from app.core.i18n import Translator
from app.ui.messages import error_sentence
from app.ui.routes import Route

log = logging.getLogger("shift.ui")


@dataclass
class ViewContext:
    session: Session
    go: Callable[[str], None]
    refresh: Callable[[], None]
    #: Lesson image source for (pack id, media path): None = the ``/packmedia`` URL of
    #: our web server (app/ui/main.py); under Flet's own runtime (``flet build`` apps,
    #: app/ui/native.py) there is no such route, so the shell passes the file's bytes.
    media: Callable[[str, str], str | bytes] | None = None
    #: The page's width in logical pixels (None: unknown, e.g. unit tests): the bottom
    #: navigation hides its labels when a word of one cannot fit its slot.
    width: float | None = None

    @property
    def tr(self) -> Translator:
        return self.session.translator

    def _(self, message: str) -> str:  # noqa: D401 - gettext alias
        return self.session.translator.gettext(message)

    @property
    def flashes(self) -> list[str]:
        return [f.text for f in self.session.view.flashes]

    def flash(self, message: str, kind: str = "info") -> None:
        """Show a short message (snack bar) with the next render."""
        self.session.view.flashes.append(Flash(message, kind))

    def act(self, fn: Callable[[], object]) -> None:
        """Run a handler's work as user activity (keeps the idle lock away).

        A refused action (a double tap on "Check answer", a locked session, a full
        disk…) arrives as a ShiftError: the learner sees its message, nothing breaks.
        """
        if not self.session.signed_in and self.session.locked_by_idle:
            self.session.locked_by_idle = False
        self.session.touch()
        try:
            fn()
        except ShiftError as exc:
            log.info("action refused: %s", exc)
            self.flash(error_sentence(self.tr, exc), "error")
            if not self.session.signed_in:
                self.go(Route.who())
            else:
                self.refresh()
