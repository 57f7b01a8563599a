"""Translation of the admin console (en, lt, ro, pt), the app's way (Babel gettext).

Strings are marked ``{{ _("…") }}`` / ``{{ ngettext("…", "…", n) }}`` in the console's
templates and ``tr.gettext("…")`` in its pages (sync_server/admin/*.py); ``make i18n``
(tools/i18n.py) extracts them into the console's own catalog — domain ``console``, in
sync_server/admin/locales/<lang>/LC_MESSAGES/console.po, beside the compiled .mo — apart
from the tablet app's catalogs (app/locales), which the server does not ship to tablets.

The language of a page: the ``shift_console_lang`` cookie (set by the switcher in every
page's header, GET /admin/language), else the browser's Accept-Language, else English.
It is a preference of the browser the admin uses, so nothing is stored on the server.
``install_gettext(env)`` gives the templates ``_`` and ``ngettext`` that read the
language from the page's context (``lang``, set by console.render), newstyle (``%(name)s``
placeholders, autoescaped), so one Jinja environment serves every language at once.
"""

from __future__ import annotations

import gettext as gnu
import io
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from starlette.requests import Request

from app.core.i18n import compile_po, language_name, normalise_locale

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "console"
DEFAULT = "en"
#: the console's languages, in the order the switcher lists them
CONSOLE_LOCALES: tuple[str, ...] = ("en", "lt", "ro", "pt")
LANG_COOKIE = "shift_console_lang"
#: the most Accept-Language entries read (a hostile header cannot make us parse more)
MAX_ACCEPT = 20


@lru_cache(maxsize=8)
def translations(lang: str) -> gnu.NullTranslations:
    """The compiled catalog of a console language (from the .po when the .mo is missing
    or older, like the app's catalogs); English is the source text."""
    if lang not in CONSOLE_LOCALES or lang == DEFAULT:
        return gnu.NullTranslations()
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return gnu.GNUTranslations(fh)
    if po.exists():
        return gnu.GNUTranslations(io.BytesIO(compile_po(po)))
    return gnu.NullTranslations()


def supported(code: object) -> str | None:
    """A console language for a code ("lt-LT" → "lt"), or None."""
    lang = normalise_locale(code)
    return lang if lang in CONSOLE_LOCALES else None


def from_accept_language(header: str) -> str | None:
    """The first console language the browser asks for (by q weight, then order)."""
    offers = []
    for i, part in enumerate(header[:1000].split(",")[:MAX_ACCEPT]):
        code, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = supported(code) if code and code != "*" else None
        if lang and q > 0:
            offers.append((-q, i, lang))
    return min(offers)[2] if offers else None


def request_language(request: Request) -> str:
    """The language of a console page: cookie, else Accept-Language, else English."""
    cached = getattr(request.state, "console_lang", None)
    if isinstance(cached, str):
        return cached
    lang = (supported(request.cookies.get(LANG_COOKIE))
            or from_accept_language(request.headers.get("accept-language", "")) or DEFAULT)
    request.state.console_lang = lang
    return lang


class Tr:
    """The console's words in one language, for the pages' Python side (flashes, titles,
    error sentences)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._t = translations(lang)

    def gettext(self, message: str, **values: Any) -> str:
        text = self._t.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = self._t.ngettext(singular, plural, n)
        return text % {"num": n, **values}


def tr(request: Request) -> Tr:
    return Tr(request_language(request))


def languages() -> list[tuple[str, str]]:
    """(code, own name) of every console language, for the switcher."""
    return [(code, language_name(code)) for code in CONSOLE_LOCALES]


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(str(context.get("lang") or DEFAULT)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(str(context.get("lang") or DEFAULT)).ngettext(singular, plural, n)


def install_gettext(env: Environment) -> None:
    """``_`` and ``ngettext`` in every template of `env`, in the language of the page
    being rendered (its ``lang`` variable)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
