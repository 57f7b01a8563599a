"""The "new profile" and "Set your PIN" forms: checking what a learner typed.

Field rules are the shared ones of app/core/profile_rules.py (the same the server and the
CSV import apply, so a value the tablet takes is never refused elsewhere); this module
only adds the form's own rules (PIN typed twice, not a trivial sequence, a set-up code
present); the PIN's format is app/core/pins.py's and names the field. A refused form raises :class:`ProfileFormError` with the
field and a stable ErrorCode; the UI turns the code into a translated sentence
(app/ui/messages.py), with ``limit`` for the sentences that name a number.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core import profile_rules
from app.core.errors import ErrorCode, ProfileFieldError, StoreError
from app.core.i18n import UI_LOCALES
from app.core.pins import PIN_MIN_DIGITS, PIN_RE
from app.core.roles import ROLES

#: Field limits of the forms: the shared rules (app/core/profile_rules.py).
NAME_MAX = profile_rules.MAX_NAME
STAFF_NUMBER_MAX = profile_rules.MAX_STAFF_NUMBER
#: Longest set-up code field (the code itself is 12 characters plus dashes).
CODE_MAX = 32
#: The number some form sentences name ("{n} characters at most").
LIMITS: dict[ErrorCode, int] = {ErrorCode.NAME_TOO_LONG: NAME_MAX,
                                ErrorCode.STAFF_NUMBER_TOO_LONG: STAFF_NUMBER_MAX}


class ProfileFormError(StoreError):
    """A field of a profile form is not acceptable: ``field`` names the form field,
    ``code`` says why, ``limit`` is the number the sentence names (or None). The English
    ``str()`` is for logs and tests."""

    def __init__(self, field_name: str, code: ErrorCode, limit: int | None = None) -> None:
        self.field = field_name
        self.limit = limit if limit is not None else LIMITS.get(code)
        detail = f"{code}" if self.limit is None else f"{code} (at most {self.limit})"
        super().__init__(f"{field_name}: {detail}", code=code)


@dataclass(frozen=True)
class NewProfile:
    """A "new profile" form that passed every check (cleaned values)."""

    display_name: str
    staff_number: str
    role: str
    language: str
    pin: str


def is_trivial_pin(pin: str) -> bool:
    """1111, 1234, 9876 …: one digit repeated or a run up or down."""
    if len(set(pin)) == 1:
        return True
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    return steps in ({1}, {-1})


def validate_new_profile(display_name: object, staff_number: object, role: object,
                         language: object, pin: object, pin_again: object, *,
                         min_digits: int = PIN_MIN_DIGITS) -> NewProfile:
    """Check the "new profile" form; returns the cleaned values or raises
    ProfileFormError for the first wrong field. `min_digits` is the device's PIN policy
    (``Device.pin_min_digits``)."""
    try:
        name = profile_rules.display_name(str(display_name or ""))
    except ProfileFieldError as exc:
        code = {ErrorCode.FIELD_MISSING: ErrorCode.NAME_MISSING,
                ErrorCode.FIELD_TOO_LONG: ErrorCode.NAME_TOO_LONG}.get(exc.code,
                                                                       ErrorCode.NAME_BAD)
        raise ProfileFormError("display_name", code) from None
    try:
        staff = profile_rules.staff_number(str(staff_number or ""))
    except ProfileFieldError as exc:
        code = {ErrorCode.FIELD_MISSING: ErrorCode.STAFF_NUMBER_MISSING,
                ErrorCode.FIELD_TOO_LONG: ErrorCode.STAFF_NUMBER_TOO_LONG}.get(
                    exc.code, ErrorCode.STAFF_NUMBER_BAD)
        raise ProfileFormError("staff_number", code) from None
    if not isinstance(role, str) or role not in ROLES:
        raise ProfileFormError("role", ErrorCode.ROLE_UNKNOWN)
    if not isinstance(language, str) or language not in UI_LOCALES:
        raise ProfileFormError("language", ErrorCode.LANGUAGE_UNKNOWN)
    return NewProfile(display_name=name, staff_number=staff, role=role, language=language,
                      pin=validate_new_pin(pin, pin_again, min_digits=min_digits))


def validate_new_pin(pin: object, pin_again: object, *,
                     min_digits: int = PIN_MIN_DIGITS) -> str:
    """A new PIN typed twice (new profile, first PIN, PIN change): same rules everywhere,
    at least `min_digits` digits (the deployment's PIN policy)."""
    pin_s = str(pin or "")
    if not PIN_RE.match(pin_s):
        raise ProfileFormError("pin", ErrorCode.PIN_BAD)
    if len(pin_s) < min_digits:
        raise ProfileFormError("pin", ErrorCode.PIN_TOO_SHORT, limit=min_digits)
    if is_trivial_pin(pin_s):
        raise ProfileFormError("pin", ErrorCode.PIN_TRIVIAL)
    if str(pin_again or "") != pin_s:
        raise ProfileFormError("pin_again", ErrorCode.PIN_MISMATCH)
    return pin_s
