"""XLIFF 2.0 and gettext PO export/import of the translation workspace: round trips,
states, and hostile files refused with nothing written."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from sync_server.authoring.translation import po, xliff
from sync_server.authoring.translation.exchange import MAX_IMPORT_BYTES, apply_import
from sync_server.authoring.translation.model import Status, TranslationError
from sync_server.authoring.translation.workspace import Change, entries, mark_reviewed, save

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 6)
Q1 = "courses/boundaries/quiz.toml:questions[q1].prompt"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    dest = tmp_path / "promote-sample"
    shutil.copytree(ROOT / "content_packs" / "promote-sample", dest)
    # a mix of statuses: one draft, one reviewed, one untranslated
    save(dest, "lt", {Q1: Change("Kuris kontaktas yra profesionalus?", Status.DRAFT),
                      "pack.toml:description": Change("", Status.UNTRANSLATED)}, "Ona", TODAY)
    mark_reviewed(dest, "lt", ["pack.toml:title"], "Rasa", TODAY)
    return dest


def _state(folder: Path) -> list[tuple[str, str, str, Status]]:
    return [(e.unit.id, e.unit.source, e.unit.target, e.status) for e in entries(folder, "lt")]


@pytest.mark.parametrize("fmt", [xliff, po], ids=["xliff", "po"])
def test_export_import_round_trip_changes_nothing(sample: Path, fmt) -> None:
    items = entries(sample, "lt")
    data = fmt.export(items, "en", "lt", "promote-sample")
    raw = data if isinstance(data, bytes) else data.encode()
    parsed = fmt.parse(raw)
    assert parsed.target_lang == "lt"
    assert [(i.id, i.source, i.target) for i in parsed.items] == \
        [(e.unit.id, e.unit.source, e.unit.target) for e in items]
    before, files = _state(sample), _files(sample)
    report = apply_import(sample, "lt", parsed, "Ona", TODAY, may_review=True)
    assert report.applied == [] and report.stale == []
    assert _state(sample) == before and _files(sample) == files


def test_xliff_states_and_well_formedness(sample: Path) -> None:
    text = xliff.export(entries(sample, "lt"), "en", "lt", "promote-sample")
    root = ET.fromstring(text)           # the export is plain, well-formed XLIFF 2.0
    ns = {"x": xliff.NS}
    assert root.get("version") == "2.0" and root.get("trgLang") == "lt"
    units = {u.get("name"): u for u in root.iterfind(".//x:unit", ns)}
    state = {k: u.find("x:segment", ns).get("state") for k, u in units.items()}
    assert state["pack.toml:title"] == "final"
    assert state["pack.toml:description"] == "initial"
    assert state[Q1] == "translated"
    assert units[Q1].find("x:segment", ns).get("subState") == "shift:draft"
    assert all(" " not in u.get("id") and "/" not in u.get("id") for u in units.values())
    assert len({u.get("id") for u in units.values()}) == len(units)


def test_po_marks_machine_and_draft_fuzzy(sample: Path) -> None:
    catalog = read_po(io.BytesIO(po.export(entries(sample, "lt"), "en", "lt",
                                                         "p")))
    by_ctx = {m.context: m for m in catalog if m.id}
    assert by_ctx[Q1].fuzzy and not by_ctx["pack.toml:title"].fuzzy
    assert by_ctx["pack.toml:description"].string == ""
    assert dict(catalog.mime_headers)["Language"] == "lt"


def test_po_import_edits_one_string_as_draft(sample: Path) -> None:
    data = po.export(entries(sample, "lt"), "en", "lt", "p").decode()
    data = data.replace('msgstr "Profesinės ribos (pavyzdys)"', 'msgstr "Profesinės ribos"')
    report = apply_import(sample, "lt", po.parse(data.encode()), "Jonas", TODAY,
                          may_review=True)
    assert report.applied == ["pack.toml:title"]
    got = {e.unit.id: e for e in entries(sample, "lt")}
    assert got["pack.toml:title"].unit.target == "Profesinės ribos"
    assert got["pack.toml:title"].status is Status.DRAFT and got["pack.toml:title"].by == "Jonas"


def test_xliff_final_is_reviewed_only_for_a_reviewer(sample: Path) -> None:
    text = xliff.export(entries(sample, "lt"), "en", "lt", "p")
    text = text.replace("Kuris kontaktas yra profesionalus?", "Kuris kontaktas profesionalus?")
    text = text.replace('state="translated" subState="shift:draft"', 'state="final"', 1)
    copy = sample.parent / "copy"
    shutil.copytree(sample, copy)
    apply_import(copy, "lt", xliff.parse(text.encode()), "Trans", TODAY, may_review=False)
    assert {e.unit.id: e for e in entries(copy, "lt")}[Q1].status is Status.DRAFT
    apply_import(sample, "lt", xliff.parse(text.encode()), "Rasa", TODAY, may_review=True)
    assert {e.unit.id: e for e in entries(sample, "lt")}[Q1].status is Status.REVIEWED


def test_changed_source_since_export_is_flagged_not_applied(sample: Path) -> None:
    data = po.export(entries(sample, "lt"), "en", "lt", "p").decode()
    data = data.replace('msgstr "Kuris kontaktas yra profesionalus?"', 'msgstr "Kitas"')
    quiz = sample / "courses/boundaries/quiz.toml"
    quiz.write_text(quiz.read_text().replace("Which contact sits", "Which contact is"))
    report = apply_import(sample, "lt", po.parse(data.encode()), "Ona", TODAY, may_review=True)
    assert report.stale == [Q1] and report.applied == []
    got = {e.unit.id: e for e in entries(sample, "lt")}[Q1]
    assert got.unit.target == "Kuris kontaktas yra profesionalus?"
    assert got.status is Status.NEEDS_REVIEW


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" trgLang="lt">
<file id="f"><unit id="u" name="pack.toml:title"><segment><source>Professional boundaries (sample)</source><target>&xxe;</target></segment></unit></file></xliff>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" trgLang="lt"><file id="f"/></xliff>"""


def _xliff_unit(name: str, source: str, target: str, lang: str = "lt") -> bytes:
    return (f'<xliff xmlns="{xliff.NS}" version="2.0" srcLang="en" trgLang="{lang}">'
            f'<file id="f"><unit id="u1" name="{name}"><segment state="translated">'
            f"<source>{source}</source><target>{target}</target></segment></unit></file>"
            "</xliff>").encode()


TITLE = "Professional boundaries (sample)"


@pytest.mark.parametrize("data, message", [
    (XXE, "DOCTYPE"),
    (LAUGHS, "DOCTYPE"),
    (b"<xliff", "not well-formed"),
    (b'<xliff version="1.2"/>', "not an XLIFF 2.0"),
    (_xliff_unit("pack.toml:nope", TITLE, "x"), "unknown string id"),
    (_xliff_unit("pack.toml:title", TITLE, "x", lang="ro"), "for language 'ro'"),
    (_xliff_unit("pack.toml:title", TITLE, "&lt;script&gt;alert(1)&lt;/script&gt;"), "HTML"),
    (_xliff_unit("pack.toml:title", TITLE, "a<b xmlns='x'>b</b>"), "inline markup"),
    (b" " * (MAX_IMPORT_BYTES + 1), "too large"),
    (f'<xliff xmlns="{xliff.NS}" version="2.0" trgLang="lt">'.encode() + b"<a>" * 40
     + b"</a>" * 40 + b"</xliff>", "nested too deep"),
    (_xliff_unit("pack.toml:title", TITLE, "x").replace(b"</file>", b"<unit id='u2' "
     b"name='pack.toml:title'><segment><source>" + TITLE.encode() + b"</source><target>y"
     b"</target></segment></unit></file>"), "appears twice"),
    (_xliff_unit("courses/boundaries/01-why-boundaries.md#0", "Why boundaries matter",
                 "Antra\nline"), "must stay on one line"),
    (b"\xff\xfe<xliff/>", "UTF-8"),
])
def test_hostile_xliff_is_refused_and_nothing_written(sample: Path, data: bytes,
                                                     message: str) -> None:
    before = _files(sample)
    with pytest.raises(TranslationError, match=message):
        apply_import(sample, "lt", xliff.parse(data), "Ona", TODAY, may_review=True)
    assert _files(sample) == before


def _po(ctx: str, msgid: str, msgstr: str, lang: str = "lt") -> bytes:
    return (f'msgid ""\nmsgstr ""\n"Language: {lang}\\n"\n"Content-Type: text/plain; '
            f'charset=utf-8\\n"\n\nmsgctxt "{ctx}"\nmsgid "{msgid}"\nmsgstr "{msgstr}"\n'
            ).encode()


@pytest.mark.parametrize("data, message", [
    (_po("pack.toml:nope", TITLE, "x"), "unknown string id"),
    (_po("pack.toml:title", TITLE, "x", lang="de"), "for language 'de'"),
    (_po("pack.toml:title", TITLE, "<img src=x onerror=alert(1)>"), "HTML"),
    (_po("pack.toml:title", TITLE, "x").replace(b'msgctxt "pack.toml:title"\n', b""),
     "without msgctxt"),
    (b'msgid ""\nmsgstr ""\n\nmsgctxt "a"\nmsgid "b"\nmsgstr "c"\n', "no Language"),
    (b'msgid "unterminated\n', "not a readable PO"),
])
def test_hostile_po_is_refused_and_nothing_written(sample: Path, data: bytes,
                                                  message: str) -> None:
    before = _files(sample)
    with pytest.raises(TranslationError, match=message):
        apply_import(sample, "lt", po.parse(data), "Ona", TODAY, may_review=True)
    assert _files(sample) == before
