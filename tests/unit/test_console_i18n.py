"""The admin console's translation (issue 21): every string marked in the console's
templates and pages is in the lt, ro and pt catalogs, translated (no fuzzy, no empty),
with the same placeholders and the same HTML tags as the English; the committed .mo files
say the same as the .po files; the page language comes from the cookie, else the browser's
Accept-Language (hostile headers included), else English; every template renders in every
language with `lang` on <html>."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader

from sync_server.admin import i18n
from sync_server.admin.i18n import CONSOLE_LOCALES, LOCALE_DIR, from_accept_language, supported

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ROOT / "sync_server" / "admin"
MAPPING = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
TAG = re.compile(r"</?(\w+)")


def marked() -> set[Any]:
    """Every msgid marked in sync_server/admin (templates and pages), as pybabel sees it."""
    out: set[Any] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
            str(ADMIN), method_map=MAPPING, options_map=OPTIONS, keywords=KEYWORDS):
        out.add(message if isinstance(message, str) else tuple(message[:2]))
    return out


def catalog(lang: str) -> Any:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "console.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def test_every_marked_string_is_translated_in_every_language() -> None:
    wanted = marked()
    assert len(wanted) > 250 and "Learners" in wanted
    for lang in ("lt", "ro", "pt"):
        cat = catalog(lang)
        have = {m.id: m for m in cat if m.id}
        missing = sorted(str(w) for w in wanted if w not in have)
        assert not missing, f"{lang}: not in the catalog (run make i18n): {missing[:10]}"
        bad = []
        for msgid, msg in have.items():
            strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
            ids = msgid if isinstance(msgid, tuple) else (msgid,)
            if msg.fuzzy or not all(strings):
                bad.append(f"untranslated: {msgid!r}")
                continue
            want_ph = set(PLACEHOLDER.findall(ids[-1])) - {"num"}
            want_tags = sorted(TAG.findall(ids[-1]))
            for text in strings:
                if set(PLACEHOLDER.findall(text)) - {"num"} != want_ph:
                    bad.append(f"placeholders differ: {msgid!r} → {text!r}")
                if sorted(TAG.findall(text)) != want_tags:
                    bad.append(f"HTML tags differ: {msgid!r} → {text!r}")
                if text == ids[0] and len(text) > 12 and "%" not in text:
                    bad.append(f"English left as is: {text!r}")
        assert not bad, f"{lang}: " + "\n".join(bad[:20])


def test_plural_forms_and_european_portuguese() -> None:
    assert catalog("lt").num_plurals == 3 and catalog("ro").num_plurals == 3
    assert catalog("pt").num_plurals == 2, "pt-PT: one form for 1, another for 0 and 2+"
    pt = i18n.Tr("pt")
    assert pt.ngettext("%(num)d learner", "%(num)d learners", 0) == "0 formandos"
    assert pt.ngettext("%(num)d learner", "%(num)d learners", 1) == "1 formando"
    lt = i18n.Tr("lt")
    assert [lt.ngettext("%(num)d learner", "%(num)d learners", n) for n in (1, 3, 12, 21)] == [
        "1 besimokantysis", "3 besimokantieji", "12 besimokančiųjų", "21 besimokantysis"]
    words = " ".join(str(m.string) for m in catalog("pt") if m.id)
    for brazilian in ("arquivo", "usuário", "senha", "tela", "cadastr"):
        assert brazilian not in words.lower(), f"Brazilian Portuguese word: {brazilian}"


def key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


def test_compiled_catalogs_match_the_sources() -> None:
    for lang in ("lt", "ro", "pt"):     # English is the source text: its catalog is empty
        folder = LOCALE_DIR / lang / "LC_MESSAGES"
        with (folder / "console.mo").open("rb") as fh:
            compiled = {key(m.id): key(m.string) for m in read_mo(fh) if m.id}
        source = {key(m.id): key(m.string) for m in catalog(lang) if m.id and m.string and
                  (not isinstance(m.string, tuple) or all(m.string))}
        assert compiled == source, f"{lang}: console.mo is stale: run make i18n"


@pytest.mark.parametrize("header, lang", [
    ("lt-LT,lt;q=0.9,en;q=0.8", "lt"),
    ("de-DE, ro;q=0.5, pt;q=0.7", "pt"),
    ("pt-BR", "pt"),
    ("en-GB;q=0.1, lt;q=0.2", "lt"),
    ("fr, de", None),
    ("", None),
    ("*", None),
    ("lt;q=0", None),
    ("lt;q=abc, ro", "ro"),
    ("x" * 100_000, None),
    (",".join(["de"] * 50 + ["lt"]), None),          # only the first 20 entries are read
    ("\x00lt\r\n", None),
])
def test_accept_language(header: str, lang: str | None) -> None:
    assert from_accept_language(header) == lang


def test_supported_codes() -> None:
    assert [supported(c) for c in ("lt", "LT", "ro_RO", "pt-PT", "de", "", None, 7, "../x")] \
        == ["lt", "lt", "ro", "pt", None, None, None, None, None]


def test_every_template_renders_in_every_language() -> None:
    """Each console template (but the dashboard, whose data is another page's) renders in
    each language with no missing variable breaking `_` (newstyle gettext: `%` formats)."""
    env = Environment(loader=FileSystemLoader(str(ADMIN / "templates")), autoescape=True)
    i18n.install_gettext(env)
    env.globals["url_for"] = lambda *a, **k: type("U", (), {"path": "/admin/static/x"})()
    for lang in CONSOLE_LOCALES:
        page = env.get_template("exports.html").render(
            lang=lang, console_languages=i18n.languages(), facilities=[], typed={}, admin=None)
        assert f'<html lang="{lang}">' in page
        expected = i18n.Tr(lang).gettext("Progress (CSV)")
        assert expected in page
        assert "%(" not in page, "a placeholder left unfilled"


def test_service_refusals_are_said_by_key() -> None:
    """A service's refusal reaches the console in the admin's language by its stable key
    (`ServerError.refusal`), never by matching its English text; English shows the
    service's own words; every key a service raises has a sentence."""
    from sync_server.admin.refusals import SENTENCES, refusal_text
    from sync_server.errors import ServerError
    from sync_server.services.facilities import check_name

    with pytest.raises(ServerError) as caught:
        check_name("x" * 300)
    exc = caught.value
    assert refusal_text(i18n.Tr("en"), exc) == str(exc) == "facility name: 1–200 characters"
    assert refusal_text(i18n.Tr("lt"), exc) == "Įstaigos pavadinimas: 1–200 simbolių."
    assert refusal_text(i18n.Tr("pt"), exc) == "Nome do estabelecimento: 1–200 carateres."
    plain = ServerError("something else")
    assert refusal_text(i18n.Tr("ro"), plain) == "something else"
    odd = ServerError("keyed, facts missing", refusal="learner_active")
    assert refusal_text(i18n.Tr("ro"), odd) == "keyed, facts missing"
    raised = set()
    for path in (ROOT / "sync_server" / "services").glob("*.py"):
        raised |= set(re.findall(r'refusal="(\w+)"', path.read_text(encoding="utf-8")))
    assert raised and raised <= set(SENTENCES), raised - set(SENTENCES)
