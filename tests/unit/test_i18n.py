"""app.core.i18n and the committed catalogs (complete, consistent, compiled)."""

from __future__ import annotations

import gettext
import io
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.core import i18n
from app.core.i18n import (
    UI_LOCALES,
    I18nError,
    LocalizedText,
    choose_locale,
    compile_po,
    language_name,
    normalise_locale,
    pick_text,
    translator,
)

PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


@pytest.mark.parametrize(("raw", "expected"), [
    ("lt", "lt"), ("lt_LT", "lt"), ("lt-lt", "lt"), ("LT", "lt"), ("pt_BR", "pt"),
    ("ro-RO", "ro"), (" en ", "en"), ("de_AT", "de"), ("DE-de", "de"), ("fr", "en"),
    ("xx", "en"), ("", "en"), (None, "en"),
    (42, "en"), ("../../etc/passwd", "en"), ("lt\x00", "en"), ("ą" * 500, "en")])
def test_choose_locale(raw: object, expected: str) -> None:
    assert choose_locale(raw) == expected


def test_normalise_rejects_non_languages() -> None:
    assert normalise_locale("not a locale") is None
    assert normalise_locale("fr_FR") == "fr"


def test_language_names_come_from_babel_in_their_own_language() -> None:
    assert [language_name(c) for c in UI_LOCALES] == ["English", "Lietuvių", "Română",
                                                      "Português", "Deutsch"]
    assert language_name("zz-nonsense") == "zz-nonsense"


@pytest.mark.parametrize(("lang", "n", "expected"), [
    ("en", 1, "1 question"), ("en", 2, "2 questions"),
    ("lt", 1, "1 klausimas"), ("lt", 3, "3 klausimai"), ("lt", 10, "10 klausimų"),
    ("lt", 21, "21 klausimas"), ("lt", 12, "12 klausimų"),
    ("ro", 1, "1 întrebare"), ("ro", 5, "5 întrebări"), ("ro", 20, "20 de întrebări"),
    ("pt", 1, "1 pergunta"), ("pt", 2, "2 perguntas"),
    ("de", 0, "0 Fragen"), ("de", 1, "1 Frage"), ("de", 2, "2 Fragen"), ("de", 21, "21 Fragen")])
def test_plural_forms(lang: str, n: int, expected: str) -> None:
    tr = translator(lang)
    assert tr.ngettext("{n} question", "{n} questions", n).format(n=n) == expected


def test_numbers_dates_and_sizes_follow_the_locale() -> None:
    moment = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    assert translator("en").format_percent(0.75) == "75%"
    assert translator("lt").format_percent(0.75).replace("\xa0", " ") == "75 %"
    assert translator("pt").format_number(1234.5) == "1.234,5"
    assert translator("de").format_number(1234.5) == "1.234,5"
    assert translator("de").format_date(moment, "long") == "23. November 2026"
    assert translator("lt").format_date(moment) == "2026-11-23"  # CLDR medium date for lt
    assert translator("lt").format_date(moment, "long") == "2026 m. lapkričio 23 d."
    assert "nov" in translator("ro").format_date(moment)
    assert translator("lt").format_timedelta(180) == "3 minutės"
    assert translator("en").format_bytes(512) == "512 B"
    assert translator("en").format_bytes(3 * 1024 * 1024) == "3 MB"
    assert translator("lt").format_bytes(1536) == "1,5 KB"


def test_ui_strings_are_translated() -> None:
    assert translator("lt").gettext("Settings") == "Nustatymai"
    assert translator("ro").gettext("Settings") == "Setări"
    assert translator("pt").gettext("Settings") == "Definições"
    assert translator("en").gettext("Settings") == "Settings"
    assert translator("de").gettext("Settings") == "Einstellungen"
    assert translator("fr").gettext("Settings") == "Settings"  # falls back to English


def _catalog(lang: str):  # type: ignore[no-untyped-def]
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


@pytest.mark.parametrize("lang", [lang for lang in UI_LOCALES if lang != "en"])
def test_catalogs_are_complete_and_keep_placeholders(lang: str) -> None:
    catalog = _catalog(lang)
    ids = [m for m in catalog if m.id]
    assert len(ids) > 150
    for msg in ids:
        assert not msg.fuzzy, msg.id
        sources = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        assert all(strings), f"{lang}: untranslated {msg.id!r}"
        wanted = set(PLACEHOLDER.findall(sources[-1])) | set(PLACEHOLDER.findall(sources[0]))
        for s in strings:
            got = set(PLACEHOLDER.findall(s))
            assert got <= wanted, f"{lang}: {msg.id!r} → {s!r} has unknown placeholders"
            if "{n}" not in sources[0]:
                assert got == wanted, f"{lang}: {msg.id!r} → {s!r} loses a placeholder"


def test_every_marked_string_is_in_the_catalog() -> None:
    """Strings in the source that are not in the .pot mean `make i18n` was not run."""
    pot = {m.id if isinstance(m.id, str) else m.id[0]
           for m in read_po((i18n.LOCALE_DIR / "messages.pot").open("rb")) if m.id}
    root = Path(i18n.__file__).resolve().parents[1]
    call = re.compile(r"""\b(?:_|N_|gettext)\(\s*(["'])((?:(?!\1).)+)\1\s*\)""")
    found = set()
    for path in [*root.joinpath("ui").rglob("*.py"), *root.joinpath("core", "application").rglob("*.py")]:
        for m in call.finditer(path.read_text(encoding="utf-8")):
            found.add(m.group(2))
    assert found, "no marked strings found"
    assert found <= pot, f"not extracted: {sorted(found - pot)}"


def _messages(mo: bytes) -> tuple[dict[object, str], dict[str, str]]:
    """The translations of compiled catalog bytes, and the header fields that change what
    the app shows. Bytes are never compared: Babel writes its own version into the
    ``Generated-By`` header, so a Babel release would change them (the lock pins Babel, but
    a test must not depend on a tool's version)."""
    catalog = dict(gettext.GNUTranslations(io.BytesIO(mo))._catalog)  # type: ignore[attr-defined]
    header = dict(line.split(": ", 1) for line in catalog.pop("", "").splitlines() if ": " in line)
    return catalog, {k: v for k, v in header.items() if k in ("Language", "Plural-Forms",
                                                              "Content-Type")}


def test_committed_mo_files_match_the_po_files() -> None:
    for lang in UI_LOCALES:
        folder = i18n.LOCALE_DIR / lang / "LC_MESSAGES"
        committed = _messages((folder / "messages.mo").read_bytes())
        fresh = _messages(compile_po(folder / "messages.po"))
        assert committed == fresh, f"{lang}: run `make i18n` to recompile the catalog"


def test_the_catalog_comparison_ignores_only_the_tool_header() -> None:
    folder = i18n.LOCALE_DIR / "lt" / "LC_MESSAGES"
    mo = compile_po(folder / "messages.po")
    other_tool = mo.replace(b"Generated-By: Babel", b"Generated-By: Other")
    assert other_tool != mo and _messages(other_tool) == _messages(mo)
    changed = mo.replace(b"Nustatymai", b"Nustatymaj")
    assert changed != mo and _messages(changed) != _messages(mo)


def test_a_fresh_po_edit_is_used_without_compiling(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locales")
    for mo in (tmp_path / "locales").rglob("*.mo"):
        mo.unlink()
    po = tmp_path / "locales" / "lt" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text(encoding="utf-8").replace('"Nustatymai"', '"Nustatymai*"'),
                  encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locales")
    i18n.reload_catalogs()
    try:
        assert translator("lt").gettext("Settings") == "Nustatymai*"
    finally:
        monkeypatch.undo()
        i18n.reload_catalogs()
    assert translator("lt").gettext("Settings") == "Nustatymai"


def test_a_broken_catalog_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "lt" / "LC_MESSAGES" / "messages.po"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b'msgid "a"\nmsgstr "b\n\xff\xfe garbage "unterminated\n')
    with pytest.raises(I18nError) as err:
        compile_po(bad)
    assert str(bad) in str(err.value)


@pytest.mark.parametrize(("value", "lang", "expected"), [
    ({"en": "Hello", "lt": "Labas"}, "lt", LocalizedText("Labas", "lt", False)),
    ({"en": "Hello", "lt": ""}, "lt", LocalizedText("Hello", "en", True)),
    ({"en": "Hello"}, "ro", LocalizedText("Hello", "en", True)),
    ({"ro": "Salut"}, "lt", LocalizedText("Salut", "ro", True)),
    ({}, "lt", LocalizedText("", "lt", False)),
    (None, "lt", LocalizedText("", "lt", False)),
    ({"en": 5, "lt": ["x"]}, "lt", LocalizedText("", "lt", False)),
    ("plain", "en", LocalizedText("plain", "en", False)),
])
def test_pick_text_shows_which_language_is_used(value: object, lang: str,
                                                expected: LocalizedText) -> None:
    assert pick_text(value, lang, "en") == expected


def test_flutter_locale() -> None:
    assert i18n.flutter_locale("lt") == ("lt", "LT")
    assert i18n.flutter_locale("zz") == ("en", "GB")
