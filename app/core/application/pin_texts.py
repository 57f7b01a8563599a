"""The sentences of the PIN pad and the "Set your PIN" form, in the learner's language.

The PIN pad shows a sentence that depends on a number the store decides (the growing
wait after wrong PINs, ``PinLockedError.wait_seconds``) and on a countdown the session
runs, so the session keeps it ready to show (``SessionView.pin_error``). Every sentence
is a gettext message extracted by ``make i18n``; decisions are taken from the error's
class and data, never from its English text.
"""

from __future__ import annotations

from app.core.errors import AuthError, PinLockedError, PinNotSetError
from app.core.i18n import Translator


def wait_seconds_of(error: AuthError) -> int:
    """Whole seconds the store asks to wait before the next PIN try (0 when not locked)."""
    if isinstance(error, PinLockedError) and error.wait_seconds > 0:
        return int(error.wait_seconds + 0.999)
    return 0


def wrong_pin(tr: Translator, wait: int = 0) -> str:
    """After a refused PIN: try again (now, or in `wait` seconds)."""
    if wait > 0:
        return tr.ngettext("Wrong PIN. Try again in {n} second.",
                           "Wrong PIN. Try again in {n} seconds.", wait).format(n=wait)
    return tr.gettext("Wrong PIN. Try again.")


def pin_error_message(tr: Translator, error: AuthError) -> str:
    """The sentence the PIN pad shows after the store refused a PIN."""
    if isinstance(error, PinNotSetError):
        return tr.gettext("This profile has no PIN yet. Set your PIN first.")
    return wrong_pin(tr, wait_seconds_of(error))


def please_wait(tr: Translator, wait: int) -> str:
    """A PIN typed while the wait still runs: not even tried."""
    return tr.ngettext("Please wait {n} second before trying again.",
                       "Please wait {n} seconds before trying again.", wait).format(n=wait)


def may_try_again(tr: Translator) -> str:
    """The countdown on the pad reached zero."""
    return tr.gettext("You can try your PIN again.")


def too_many_tries(tr: Translator, wait: int) -> str:
    """"Set your PIN": too many wrong set-up codes (they count like wrong PINs)."""
    return tr.ngettext("Too many wrong tries. Try again in {n} second.",
                       "Too many wrong tries. Try again in {n} seconds.", wait).format(n=wait)


def pin_already_set(tr: Translator) -> str:
    """"Set your PIN" for a profile that got a PIN meanwhile."""
    return tr.gettext("This profile already has a PIN. Sign in with it.")
