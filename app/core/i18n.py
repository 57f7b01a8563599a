"""Locale choice, gettext catalogs, plural forms, dates and numbers (Babel).

UI strings are marked with ``_("…")`` / ``ngettext(…)`` in app/ui and extracted by
``make i18n`` (tools/i18n.py) into app/locales/<lang>/LC_MESSAGES/messages.po.
A compiled ``messages.mo`` is committed beside each ``.po``; when it is missing or older
than its ``.po`` (a fresh edit), the catalog is compiled in memory from the ``.po`` so a
checkout always shows the current translations.

Content text (lessons, quiz strings) is not translated here: packs carry it per language
and :func:`pick_text` chooses the learner's language with a visible fallback flag.
"""

from __future__ import annotations

import gettext as _gettext
import io
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel import dates as _dates
from babel import numbers as _numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from app.core.errors import ShiftError
from app.core.resources import locales_dir

LOCALE_DIR = locales_dir()
DOMAIN = "messages"
DEFAULT_LOCALE = "en"
#: UI languages with a complete catalog, in the order the language picker shows them.
UI_LOCALES: tuple[str, ...] = ("en", "lt", "ro", "pt", "de")
#: Region used for Flutter's own widgets (date pickers, "OK"/"Cancel" of dialogs…).
FLUTTER_REGIONS: dict[str, str] = {"en": "GB", "lt": "LT", "ro": "RO", "pt": "PT", "de": "DE"}


class I18nError(ShiftError):
    """A catalog file is unreadable or a locale code is not a language."""


def N_(message: str) -> str:
    """Mark a string for extraction (``make i18n``) without translating it here: it is
    translated where it is shown (``tr.gettext(message)``). The one marker of the app."""
    return message


def normalise_locale(code: object) -> str | None:
    """``"lt_LT"``, ``"lt-lt"``, ``"LT"`` → ``"lt"``; anything that is not a language → None."""
    if not isinstance(code, str) or not code.strip() or len(code) > 64:
        return None
    return _normalise(code)


@lru_cache(maxsize=256)
def _normalise(code: str) -> str | None:
    raw = code.strip().replace("-", "_")
    try:
        loc = Locale.parse(raw)
    except (ValueError, UnknownLocaleError, TypeError):
        try:
            loc = Locale.parse(raw.split("_")[0].lower())
        except (ValueError, UnknownLocaleError, TypeError):
            return None
    return loc.language


def choose_locale(requested: object, available: tuple[str, ...] = UI_LOCALES,
                  default: str = DEFAULT_LOCALE) -> str:
    """The best available UI locale for a requested one (falls back to ``default``)."""
    lang = normalise_locale(requested)
    return lang if lang in available else default


def language_name(code: str, in_locale: str | None = None) -> str:
    """A language's own name from Babel ("lietuvių", "română"), capitalised for a menu."""
    try:
        name = Locale.parse(code).get_display_name(in_locale or code) or code
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:]


def _catalog_paths(lang: str) -> tuple[Path, Path]:
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    return folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"


def compile_po(po_path: Path) -> bytes:
    """Compile a .po file to .mo bytes (raises I18nError naming the file)."""
    try:
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=po_path.parent.parent.name)
    except (OSError, ValueError, SyntaxError) as exc:
        raise I18nError(f"{po_path}: cannot read catalog: {exc}") from None
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


@lru_cache(maxsize=16)
def _translations(lang: str) -> _gettext.NullTranslations:
    po, mo = _catalog_paths(lang)
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return _gettext.GNUTranslations(fh)
    if po.exists():
        return _gettext.GNUTranslations(io.BytesIO(compile_po(po)))
    return _gettext.NullTranslations()


def reload_catalogs() -> None:
    """Forget cached catalogs (after `make i18n` rewrote them)."""
    _translations.cache_clear()
    translator.cache_clear()


@dataclass(frozen=True)
class Translator:
    """Everything locale-dependent the UI needs, for one UI locale."""

    locale: str

    @property
    def _t(self) -> _gettext.NullTranslations:
        return _translations(self.locale)

    def gettext(self, message: str) -> str:
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n)

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(self.locale)

    def format_number(self, value: int | float) -> str:
        return _numbers.format_decimal(value, locale=self.locale)

    def format_level(self, value: int | float) -> str:
        """A level or a mean of levels, one decimal at most, as the locale writes it
        (2.8333 → "2.8", "2,8" in Lithuanian; 3.0 → "3"): the gap report, its chart
        and the comparison all say the same figure."""
        return _numbers.format_decimal(value, format="#,##0.#", locale=self.locale)

    def format_percent(self, fraction: float) -> str:
        """``0.75`` → "75 %" / "75%" as the locale writes it."""
        return _numbers.format_percent(fraction, locale=self.locale)

    def format_date(self, value: date | datetime, fmt: str = "medium") -> str:
        return _dates.format_date(value, format=fmt, locale=self.locale)

    def format_datetime(self, value: datetime, fmt: str = "short",
                        tzinfo: Any = None) -> str:
        return _dates.format_datetime(value, format=fmt, tzinfo=tzinfo, locale=self.locale)

    def format_timedelta(self, seconds: float) -> str:
        """A rounded duration in words ("3 minutes", "3 minutės")."""
        # babel reads any number of seconds; its hint says int only
        return _dates.format_timedelta(seconds, locale=self.locale,  # type: ignore[arg-type]
                                       threshold=1.0)

    def format_bytes(self, size: int) -> str:
        units = ("B", "KB", "MB", "GB")
        value = float(size)
        for unit in units:
            if value < 1024 or unit == units[-1]:
                shown = int(value) if unit == "B" else round(value, 1)
                return f"{self.format_number(shown)} {unit}"
            value /= 1024
        raise AssertionError("unreachable")

    def language_name(self, code: str) -> str:
        return language_name(code)


@lru_cache(maxsize=16)
def translator(locale: object) -> Translator:
    """The Translator of the best available UI locale for ``locale``."""
    return Translator(choose_locale(locale))


@dataclass(frozen=True)
class LocalizedText:
    """A content string in the language actually shown.

    ``fallback`` is True when the learner's language was missing and ``lang`` is the
    pack's default language instead; the UI then says "shown in English: not yet
    translated".
    """

    text: str
    lang: str
    fallback: bool


def pick_text(value: object, lang: str, default_lang: str = DEFAULT_LOCALE) -> LocalizedText:
    """Choose a localized content string (``{"en": "…", "lt": "…"}``) for ``lang``.

    Order: the learner's language, the pack's default language, then any language the
    value has (sorted, so the choice is stable). A plain string is taken as it is.
    """
    if isinstance(value, str):
        return LocalizedText(value, default_lang, lang != default_lang)
    if not isinstance(value, dict) or not value:
        return LocalizedText("", lang, False)
    text = value.get(lang)
    if isinstance(text, str) and text.strip():
        return LocalizedText(text, lang, False)
    for other in (default_lang, *sorted(value)):
        text = value.get(other)
        if isinstance(text, str) and text.strip():
            return LocalizedText(text, other, other != lang)
    return LocalizedText("", lang, False)


def flutter_locale(lang: str) -> tuple[str, str]:
    """(language, region) for Flutter's LocaleConfiguration."""
    lang = choose_locale(lang)
    return lang, FLUTTER_REGIONS.get(lang, "")
