"""The one set of rules for learner profile fields — tablet, server API, CSV import, console.

Every place that accepts a profile field calls these functions: the tablet's store and
its "new profile" form (app/core/store/profiles.py, app/core/device.py), the server's push
and admin API (sync_server/services/profiles.py, sync_server/api/models.py), the CSV
import and the console form (sync_server/admin/learners_csv.py). So a value one side
accepts is never refused or silently skipped by the other (a 64-character staff number an
admin registers reaches every tablet).

Each check returns the cleaned value or raises ProfileFieldError with the field name and a
stable ``code`` (``missing``, ``not_text``, ``too_long``, ``bad_characters``,
``bad_format``, ``unknown``) so callers choose their own sentence without parsing text.

* display_name: Unicode NFC; no control, format (bidi overrides such as U+202E, zero-width
  characters), private-use, unassigned or line/paragraph separator characters (so no NUL,
  no ESC); runs of spaces become one space; 1–80 characters.
* staff_number: Unicode NFKC (full-width digits become ASCII), runs of spaces become one
  space; then 1–64 of ``A–Z a–z 0–9 space . / _ -``, starting with a letter or digit.
  ``staff_key`` is the comparison key (no case, no spaces): unique per facility.
* role: an id of app/core/roles.py; language: ``en``, ``pt_BR``, ``pt-BR`` …
* pin_verifier: the text form of app/core/pins.py (bounded parameters).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Any

from app.core import pins
from app.core.errors import ErrorCode, ProfileFieldError, StoreError
from app.core.roles import ROLES, is_role

MAX_NAME = 80
MAX_STAFF_NUMBER = 64
#: Longer raw input is refused before it is normalised (normalising is not free).
MAX_RAW = 512
STAFF_RE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9 ./_-]{{0,{MAX_STAFF_NUMBER - 1}}}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")
#: Unicode categories never allowed in a name: controls (NUL, ESC, tab, newline…), format
#: characters (bidi overrides and isolates, zero-width), surrogates, private use,
#: unassigned, line and paragraph separators.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
FIELDS = ("display_name", "staff_number", "role", "language")


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ProfileFieldError(field, ErrorCode.FIELD_NOT_TEXT, "expected text")
    if len(value) > MAX_RAW:
        raise ProfileFieldError(field, ErrorCode.FIELD_TOO_LONG, f"longer than {MAX_RAW} characters")
    return value


def has_forbidden_characters(value: str) -> bool:
    return any(unicodedata.category(c) in FORBIDDEN_CATEGORIES for c in value)


def display_name(value: object, field: str = "display_name") -> str:
    text = unicodedata.normalize("NFC", _text(value, field))
    if has_forbidden_characters(text):
        raise ProfileFieldError(field, ErrorCode.FIELD_BAD_CHARACTERS,
                                "contains control or invisible characters")
    text = " ".join(text.split())
    if not text:
        raise ProfileFieldError(field, ErrorCode.FIELD_MISSING, "must not be empty")
    if len(text) > MAX_NAME:
        raise ProfileFieldError(field, ErrorCode.FIELD_TOO_LONG, f"at most {MAX_NAME} characters")
    return text


def staff_number(value: object, field: str = "staff_number") -> str:
    raw = _text(value, field)
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not text:
        raise ProfileFieldError(field, ErrorCode.FIELD_MISSING, "must not be empty")
    if len(text) > MAX_STAFF_NUMBER:
        raise ProfileFieldError(field, ErrorCode.FIELD_TOO_LONG, f"at most {MAX_STAFF_NUMBER} characters")
    if not STAFF_RE.match(text):
        raise ProfileFieldError(field, ErrorCode.FIELD_BAD_FORMAT,
                                f"1-{MAX_STAFF_NUMBER} letters, digits, space . / _ - "
                                f"(starting with a letter or digit), got {raw!r}")
    return text


def staff_key(staff_number: str) -> str:
    """Staff numbers compare without case or spaces (``lt 0042`` = ``LT0042``)."""
    return "".join(staff_number.split()).upper()


def role(value: object, field: str = "role") -> str:
    if not is_role(value):
        raise ProfileFieldError(field, ErrorCode.FIELD_UNKNOWN,
                                f"unknown role {value!r}; known: {', '.join(ROLES)}")
    return value  # type: ignore[return-value]


def language(value: object, field: str = "language") -> str:
    if not isinstance(value, str) or not LANGUAGE_RE.match(value):
        raise ProfileFieldError(field, ErrorCode.FIELD_BAD_FORMAT,
                                f"expected a language code like 'en' or 'pt_BR', got {value!r}")
    return value


def learner_id(value: object, field: str = "id") -> str:
    """A canonical (lower-case, hyphenated) UUID string."""
    try:
        if isinstance(value, str) and str(uuid.UUID(value)) == value:
            return value
    except ValueError:
        pass
    raise ProfileFieldError(field, ErrorCode.FIELD_BAD_FORMAT, f"expected a UUID like 3f0c2a9e-…, got {value!r}")


def pin_verifier(value: object, field: str = "pin_verifier") -> str:
    try:
        pins.parse_verifier(value, field)
    except StoreError as exc:
        raise ProfileFieldError(field, ErrorCode.FIELD_BAD_FORMAT, str(exc).split(": ", 1)[-1]) from None
    return value  # type: ignore[return-value]


CHECKS = {"display_name": display_name, "staff_number": staff_number, "role": role,
          "language": language}


def check_fields(raw: dict[str, Any], where: str = "") -> dict[str, str]:
    """display_name, staff_number, role and language of `raw`, cleaned; the error names
    ``<where>.<field>`` (e.g. ``profiles[3].staff_number``)."""
    prefix = f"{where}." if where else ""
    return {name: check(raw.get(name), prefix + name) for name, check in CHECKS.items()}
