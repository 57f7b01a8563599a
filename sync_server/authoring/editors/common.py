"""What the editors share: the draft's languages, ids, posted values → TOML values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync_server.authoring.drafts import read_toml, write_text
from sync_server.authoring.tomlwrite import dumps
from sync_server.errors import NotFoundError, ServerError

ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: the longest value one form field may hold (a lesson file has its own bound)
MAX_FIELD = 20_000
Form = Mapping[str, str]


@dataclass(frozen=True)
class Langs:
    default: str
    all: list[str]


def langs_of(src: Path) -> Langs:
    pack = read_toml(src / "pack.toml")
    langs = [x for x in pack.get("languages", []) if isinstance(x, str)] or ["en"]
    default = pack.get("default_language")
    return Langs(default if isinstance(default, str) and default in langs else langs[0], langs)


def check_id(value: str, what: str) -> str:
    value = value.strip()
    if not ID.match(value):
        raise ServerError(f"{what} {value[:70]!r}: lowercase letters, digits, '-' and '_' "
                          "(≤ 64 characters, starting with a letter or digit)")
    return value


def text(form: Form, name: str) -> str:
    """A posted text, line breaks normalised; ServerError when it is too long."""
    value = str(form.get(name, "")).replace("\r\n", "\n").replace("\r", "\n")
    if len(value) > MAX_FIELD:
        raise ServerError(f"{name}: at most {MAX_FIELD} characters")
    return value.strip()


def localized(form: Form, name: str, langs: Langs) -> dict[str, str]:
    """``name.<lang>`` fields → a localized string (an empty translation is left out, so
    the builder says which language is missing)."""
    out = {}
    for lang in langs.all:
        value = text(form, f"{name}.{lang}")
        if value:
            out[lang] = value
    return out


def number(form: Form, name: str) -> int | float | str:
    """An integer / decimal as typed, or the text when it is none (the builder names the
    field then)."""
    value = text(form, name)
    if re.fullmatch(r"-?\d{1,9}", value):
        return int(value)
    if re.fullmatch(r"-?\d{1,9}\.\d{1,6}", value):
        return float(value)
    return value


def flag(form: Form, name: str) -> bool:
    return str(form.get(name, "")).strip() in ("1", "on", "true", "yes")


def course_dir(src: Path, course: str) -> Path:
    if not ID.match(course) or not (src / "courses" / course / "course.toml").is_file():
        raise NotFoundError(f"no course {course[:70]!r} in this draft")
    return src / "courses" / course


def save_toml(path: Path, doc: dict[str, Any]) -> None:
    write_text(path, dumps(doc))


def loc_value(doc: Mapping[str, Any], key: str) -> dict[str, str]:
    value = doc.get(key)
    return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else {}
