"""Typed field readers for pack source TOML: each failure names file, line and field."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from app.core.errors import PackSourceError
from app.core.packs.tomldoc import TomlDoc
from app.core.roles import ROLES

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LANG_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
ESCO_PREFIX = "http://data.europa.eu/esco/"


class Fields:
    """Reads fields of one TOML table (``prefix`` is its dotted path in the file)."""

    def __init__(self, doc: TomlDoc, table: Any, prefix: str, languages: Languages | None = None
                 ) -> None:
        self.doc = doc
        self.prefix = prefix
        self.langs = languages
        if not isinstance(table, dict):
            raise doc.error(prefix, "must be a table")
        self.table: dict[str, Any] = table

    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> PackSourceError:
        return self.doc.error(self.path(key), message)

    def only(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for key in self.table:
            if key not in allowed:
                raise self.error(key, f"unknown field {key!r}; allowed: {', '.join(sorted(allowed))}")

    def sub(self, key: str, table: Any, index: int | None = None) -> Fields:
        p = self.path(key) + (f"[{index}]" if index is not None else "")
        return Fields(self.doc, table, p, self.langs)

    def has(self, key: str) -> bool:
        return key in self.table

    def _get(self, key: str, required: bool, default: Any) -> Any:
        if key not in self.table:
            if required:
                raise self.doc.error(self.prefix or key, f"missing required field {key!r}")
            return default
        return self.table[key]

    def string(self, key: str, *, required: bool = True, default: str = "",
               nonempty: bool = True) -> str:
        v = self._get(key, required, default)
        if not isinstance(v, str):
            raise self.error(key, f"must be a string, got {_kind(v)}")
        if nonempty and required and not v.strip():
            raise self.error(key, "must not be empty")
        return v

    def integer(self, key: str, *, required: bool = True, default: int = 0,
                lo: int | None = None, hi: int | None = None) -> int:
        v = self._get(key, required, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(key, f"must be an integer, got {_kind(v)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"{lo if lo is not None else '…'}–{hi if hi is not None else '…'}"
            raise self.error(key, f"must be in {rng}, got {v}")
        return v

    def boolean(self, key: str, *, required: bool = True, default: bool = False) -> bool:
        v = self._get(key, required, default)
        if not isinstance(v, bool):
            raise self.error(key, f"must be true or false, got {_kind(v)}")
        return v

    def date(self, key: str) -> str:
        """A TOML local date (``date = 2027-03-01``, no quotes) as ISO text."""
        v = self._get(key, True, None)
        if not isinstance(v, dt.date) or isinstance(v, dt.datetime):
            raise self.error(key, "must be a date written as YYYY-MM-DD without quotes, got "
                                  f"{_kind(v)}")
        return v.isoformat()

    def ident(self, key: str) -> str:
        v = self.string(key)
        if not ID_RE.match(v):
            raise self.error(key, f"{v!r} is not a valid id (lowercase letters, digits, '-' "
                                  "and '_', starting with a letter or digit, ≤ 64 chars)")
        return v

    def str_list(self, key: str, *, required: bool = True, pattern: re.Pattern[str] | None = None,
                 what: str = "value", unique: bool = True, nonempty: bool = False) -> list[str]:
        v = self._get(key, required, [])
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.error(key, "must be a list of strings")
        if nonempty and not v:
            raise self.error(key, "must not be empty")
        for x in v:
            if pattern is not None and not pattern.match(x):
                raise self.error(key, f"{x!r} is not a valid {what}")
        if unique:
            seen: set[str] = set()
            for x in v:
                if x in seen:
                    raise self.error(key, f"{x!r} is listed twice")
                seen.add(x)
        return list(v)

    def id_list(self, key: str, **kw: Any) -> list[str]:
        return self.str_list(key, pattern=ID_RE, what="id", **kw)

    def roles(self, key: str, *, required: bool = True, default: list[str] | None = None
              ) -> list[str]:
        if not required and key not in self.table:
            return list(default or [])
        v = self.str_list(key, required=required)
        for r in v:
            if r not in ROLES:
                raise self.error(key, f"unknown role {r!r}; known roles: {', '.join(ROLES)}")
        return v

    def esco_uri(self, key: str, *, required: bool = True) -> str:
        v = self.string(key, required=required, nonempty=False)
        if v and not v.startswith(ESCO_PREFIX):
            raise self.error(key, f"must be an ESCO URI ({ESCO_PREFIX}…) or \"\"")
        return v

    def loc(self, key: str, *, required: bool = True) -> dict[str, str] | None:
        """A localized string: {lang: text} with every non-partial language present."""
        if key not in self.table:
            if required:
                raise self.doc.error(self.prefix or key, f"missing required field {key!r}")
            return None
        v = self.table[key]
        assert self.langs is not None
        if isinstance(v, str):
            raise self.error(key, "must be a table of language → text, e.g. "
                                  f"{key} = {{ {self.langs.default} = \"…\" }}")
        if not isinstance(v, dict):
            raise self.error(key, f"must be a table of language → text, got {_kind(v)}")
        for lang, text in v.items():
            if lang not in self.langs.all:
                raise self.error(f"{key}.{lang}", f"language {lang!r} is not in pack.languages "
                                                  f"({', '.join(self.langs.all)})")
            if not isinstance(text, str) or not text.strip():
                raise self.error(f"{key}.{lang}", "must be a non-empty string")
        missing = [lang for lang in self.langs.required if lang not in v]
        if missing:
            raise self.error(key, f"missing translation for {', '.join(missing)} (add it or list "
                                  "the language in pack.partial_languages)")
        return {lang: v[lang] for lang in self.langs.all if lang in v}

    def tables(self, key: str, *, required: bool = True, nonempty: bool = True
               ) -> list[Fields]:
        v = self._get(key, required, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise self.error(key, f"must be an array of tables ([[{self.path(key)}]])")
        if nonempty and not v:
            raise self.error(key, f"needs at least one [[{key}]] entry")
        return [self.sub(key, t, i) for i, t in enumerate(v)]


class Languages:
    def __init__(self, default: str, all_: list[str], partial: list[str]) -> None:
        self.default = default
        self.all = all_
        self.partial = partial
        self.required = [lang for lang in all_ if lang not in partial]


def _kind(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table", dt.datetime: "a date and time",
            dt.time: "a time"}.get(type(v), type(v).__name__)


def unique_ids(items: list[Fields], key: str, seen: dict[str, str] | None = None) -> None:
    """Ids must be unique among ``items`` (and the ``seen`` map, shared across calls)."""
    seen = {} if seen is None else seen
    for f in items:
        v = f.table.get(key)
        if isinstance(v, str):
            if v in seen:
                raise f.error(key, f"duplicate id {v!r} (already used at {seen[v]})")
            seen[v] = f.path(key)
