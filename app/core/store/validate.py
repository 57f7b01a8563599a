"""Field checks shared by profiles and settings (StoreError names the field)."""

from __future__ import annotations

import re
import unicodedata
import uuid

from app.core.errors import StoreError
from app.core.roles import ROLES, is_role

STAFF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./_-]{0,31}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")
MAX_NAME = 80


def display_name(value: object, field: str = "display_name") -> str:
    if not isinstance(value, str):
        raise StoreError(f"{field}: expected text")
    value = unicodedata.normalize("NFC", value.strip())
    if not value:
        raise StoreError(f"{field}: must not be empty")
    if len(value) > MAX_NAME:
        raise StoreError(f"{field}: at most {MAX_NAME} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for c in value):
        raise StoreError(f"{field}: contains control or invisible characters")
    return value


def staff_number(value: object, field: str = "staff_number") -> str:
    if not isinstance(value, str) or not STAFF_RE.match(value.strip()):
        raise StoreError(f"{field}: 1-32 letters, digits, space . / _ - (starting with a "
                         f"letter or digit), got {value!r}")
    return value.strip()


def role(value: object, field: str = "role") -> str:
    if not is_role(value):
        raise StoreError(f"{field}: unknown role {value!r}; known: {', '.join(ROLES)}")
    return value  # type: ignore[return-value]


def language(value: object, field: str = "language") -> str:
    if not isinstance(value, str) or not LANGUAGE_RE.match(value):
        raise StoreError(f"{field}: expected a language code like 'en' or 'pt_BR', got {value!r}")
    return value


def uuid_str(value: object, field: str = "id") -> str:
    """A canonical (lower-case, hyphenated) UUID string."""
    try:
        if isinstance(value, str) and str(uuid.UUID(value)) == value:
            return value
    except ValueError:
        pass
    raise StoreError(f"{field}: expected a UUID like 3f0c2a9e-…, got {value!r}")
