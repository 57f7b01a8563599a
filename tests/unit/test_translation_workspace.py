"""Translation workspace domain (sync_server/authoring/translation): extraction of every
string of the shipped packs, apply round trips, statuses, review status in pack.toml."""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from pathlib import Path

import pytest

from app.core.packs.source import read_source
from sync_server.authoring.tomlwrite import dumps
from sync_server.authoring.translation.extract import extract, pack_languages
from sync_server.authoring.translation.lesson_blocks import rebuild, segments
from sync_server.authoring.translation.model import Status, TranslationError
from sync_server.authoring.translation.state import state_path
from sync_server.authoring.translation.toml_edit import Edit, apply_edits, header_comments
from sync_server.authoring.translation.workspace import (
    Change,
    entries,
    mark_reviewed,
    progress,
    save,
)

ROOT = Path(__file__).resolve().parents[2]
PACKS = sorted(p for p in (ROOT / "content_packs").iterdir() if (p / "pack.toml").is_file())
TODAY = dt.date(2026, 12, 6)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    dest = tmp_path / "promote-sample"
    shutil.copytree(ROOT / "content_packs" / "promote-sample", dest)
    return dest


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_every_string_of_the_shipped_packs_is_found_and_comes_back_identical(
        pack: Path, tmp_path: Path) -> None:
    copy = tmp_path / pack.name
    shutil.copytree(pack, copy)
    before = _files(copy)
    for n, lang in enumerate(pack_languages(copy).targets):
        items = entries(copy, lang)
        # every language of the shipped packs is complete and flagged machine-translated
        assert items and all(e.status is Status.MACHINE for e in items)
        ids = [e.unit.id for e in items]
        assert len(ids) == len(set(ids))
        # every localized TOML string of the built manifest is among them (by its text)
        texts = {e.unit.source for e in items}
        manifest = read_source(copy).manifest
        for course in manifest["courses"]:
            assert course["title"][manifest["default_language"]] in texts
            for q in course["quiz"]["questions"]:
                assert q.get("prompt", q.get("case", {})).get("en", "") in texts | {""}
        if n:
            continue                       # one full save per pack keeps the test short
        # extract -> apply unchanged -> the same bytes (status file aside)
        save(copy, lang, {e.unit.id: Change(e.unit.target, Status.MACHINE) for e in items},
             "", TODAY)
        after = _files(copy)
        assert {k: v for k, v in after.items() if not k.startswith("translations/")} == before
    assert read_source(copy).manifest == read_source(pack).manifest


@pytest.mark.parametrize("lesson", sorted((ROOT / "content_packs").rglob("*.md")),
                         ids=lambda p: p.name)
def test_every_shipped_lesson_comes_back_from_its_segments(lesson: Path) -> None:
    text = lesson.read_text(encoding="utf-8")
    segs = segments(text)
    assert rebuild(text, segs, {i: s.text for i, s in enumerate(segs)}) == text
    new = {i: s.text if s.kind == "block" else f"Ž {s.text}" for i, s in enumerate(segs)}
    again = segments(rebuild(text, segs, new))
    assert [s.text for s in again] == list(new.values())
    assert [s.shape for s in again] == [s.shape for s in segs]


@pytest.mark.parametrize("name", ["promote-core", "workpris-ngo"])
def test_changing_every_string_keeps_every_comment(name: str, tmp_path: Path) -> None:
    copy = tmp_path / name
    shutil.copytree(ROOT / "content_packs" / name, copy)
    items = entries(copy, "lt")
    new = {e.unit.id: f"Ž {e.unit.target}" for e in items if e.unit.kind != "block"}
    save(copy, "lt", {k: Change(v, Status.DRAFT) for k, v in new.items()}, "Ona", TODAY)
    got = {e.unit.id: e.unit.target for e in entries(copy, "lt")}
    assert {k: got[k] for k in new} == new
    for p in (ROOT / "content_packs" / name).rglob("*.toml"):
        before = p.read_text(encoding="utf-8").splitlines()
        after = (copy / p.relative_to(ROOT / "content_packs" / name)).read_text(
            encoding="utf-8").splitlines()
        assert [x for x in before if x.lstrip().startswith("#")] == \
            [x for x in after if x.lstrip().startswith("#")], p.name
        if p.name != "pack.toml":       # edited in place: only "lt" lines or values change
            assert len(after) == len(before), p.name


def test_extraction_covers_every_kind_of_string(sample: Path) -> None:
    ids = {u.id: u for u in extract(sample, "lt").units}
    for expected in ("pack.toml:title", "pack.toml:description",
                     "skills.toml:skills.reporting.label",
                     "courses/boundaries/course.toml:title",
                     "courses/boundaries/quiz.toml:questions[q1].prompt",
                     "courses/boundaries/quiz.toml:questions[q1].explanation",
                     "courses/boundaries/quiz.toml:questions[q1].options[a].text",
                     "courses/boundaries/quiz.toml:questions[q1].options[a].feedback",
                     "profiles/prison-officer.toml:duties[a].tasks[a1].title",
                     "profiles/prison-officer.toml:scale[0].label",
                     "courses/boundaries/01-why-boundaries.md#0"):
        assert expected in ids, expected
    assert any(k.startswith("courses/boundaries/course.toml:outcomes.") for k in ids)
    assert ids["courses/boundaries/quiz.toml:questions[q1].explanation"].kind == "rich"
    alts = [u for u in ids.values() if u.kind == "alt"]
    assert alts and all("media/" not in u.source for u in alts)   # src kept out of the text


def test_lesson_segments_round_trip_and_keep_code_and_image_src() -> None:
    text = ("# Title\n\nSome *para*\n  continued  \nlast.\n\n- one\n  cont\n- **two**\n\n"
            "> quote\n> more\n\n| a | b \\| c |\n|---|---|\n| `x` | y |\n\n"
            "![alt text](media/x.png)\n\n```\ncode stays\n```\n\nSetext\n------\n")
    segs = segments(text)
    assert [s.shape for s in segs] == ["heading", "paragraph", "item", "item", "quote",
                                       "cell", "cell", "cell", "cell", "alt", "heading"]
    assert rebuild(text, segs, {i: s.text for i, s in enumerate(segs)}) == text
    new = {i: f"T{i} " + s.text for i, s in enumerate(segs)}
    out = rebuild(text, segs, new)
    assert [s.text for s in segments(out)] == list(new.values())
    assert "```\ncode stays\n```" in out and "](media/x.png)" in out
    with pytest.raises(TranslationError, match="one line"):
        rebuild(text, segs, {0: "two\nlines"})


def test_toml_edit_keeps_comments_and_falls_back_to_a_full_write() -> None:
    text = ('# head\nformat = 1  # keep me\ntitle = { en = "A", lt = "B" }  # c\n\n'
            '[outcomes.x]\nen = "E"\n')
    out = apply_edits(text, [Edit(("title",), "title", {"en": "A", "lt": "Ž\"q"}),
                             Edit(("outcomes", "x"), "outcomes.x", {"en": "E", "lt": "L"})])
    assert "# keep me" in out and "# c" in out and out.startswith("# head\n")
    assert tomllib.loads(out) == {"format": 1, "title": {"en": "A", "lt": "Ž\"q"},
                                  "outcomes": {"x": {"en": "E", "lt": "L"}}}
    dotted = '# top\ntitle.en = "A"  # en\ntitle.de = "D"\n\n[x]\ny = 1\n'
    out = apply_edits(dotted, [Edit(("title",), "title", {"en": "A", "de": "D", "lt": "L"})])
    assert out == '# top\ntitle.en = "A"  # en\ntitle.de = "D"\ntitle.lt = "L"\n\n[x]\ny = 1\n'
    out = apply_edits(out, [Edit(("title",), "title", {"en": "A", "lt": "M"})])
    assert out == '# top\ntitle.en = "A"  # en\ntitle.lt = "M"\n\n[x]\ny = 1\n'
    multi = 'title = {\n  en = "A" }\n'.replace("{\n  ", "{ ")  # one line: edited in place
    assert tomllib.loads(apply_edits(multi, [Edit(("title",), "title", {"en": "B"})])) == \
        {"title": {"en": "B"}}
    for pack in PACKS:
        for p in pack.rglob("*.toml"):
            raw = p.read_text(encoding="utf-8")
            assert tomllib.loads(header_comments(raw) + dumps(tomllib.loads(raw))) == \
                tomllib.loads(raw)


def test_save_review_and_pack_status(sample: Path) -> None:
    q = "courses/boundaries/quiz.toml:questions[q1].prompt"
    lesson = "courses/boundaries/01-why-boundaries.md#1"
    items = save(sample, "lt", {q: Change("Naujas klausimas?", Status.DRAFT),
                                lesson: Change("Naujas sakinys.", Status.DRAFT)}, "Ona", TODAY)
    got = {e.unit.id: e for e in items}
    assert got[q].status is Status.DRAFT and got[q].by == "Ona"
    assert got[q].unit.target == "Naujas klausimas?"
    assert "Naujas sakinys." in (sample / "courses/boundaries/01-why-boundaries.lt.md").read_text()
    manifest = read_source(sample).manifest
    assert manifest["courses"][0]["quiz"]["questions"][0]["prompt"]["lt"] == "Naujas klausimas?"
    assert manifest["machine_translated"] == ["lt"] and "reviews" not in manifest
    # every string reviewed -> [reviews.lt], out of machine_translated
    items = mark_reviewed(sample, "lt", [e.unit.id for e in items], "Ona Petraitė", TODAY)
    assert progress("lt", items).counts[Status.REVIEWED] == len(items)
    manifest = read_source(sample).manifest
    assert manifest["machine_translated"] == []
    assert manifest["reviews"] == {"lt": {"reviewer": "Ona Petraitė", "date": "2026-12-06"}}
    assert "# a native Lithuanian reviewer" in (sample / "pack.toml").read_text()
    # the English source changes -> that string needs review, the language is flagged again
    course = sample / "courses/boundaries/quiz.toml"
    course.write_text(course.read_text().replace("Which contact sits", "Which contact is"))
    got = {e.unit.id: e for e in entries(sample, "lt")}
    assert got[q].status is Status.NEEDS_REVIEW
    save(sample, "lt", {q: Change("Kuris kontaktas?", Status.DRAFT)}, "Jonas", TODAY)
    manifest = read_source(sample).manifest
    assert manifest["machine_translated"] == ["lt"] and "reviews" not in manifest


def test_a_target_changed_outside_the_workspace_is_no_longer_reviewed(sample: Path) -> None:
    lesson = next(u.id for u in extract(sample, "lt").units
                  if u.id.startswith("courses/boundaries/01-") and u.context.startswith("para"))
    items = mark_reviewed(sample, "lt", ["pack.toml:title"], "Rasa", TODAY)
    save(sample, "lt", {lesson: Change("", Status.UNTRANSLATED)}, "Ona", TODAY)
    got = {e.unit.id: e for e in entries(sample, "lt")}
    assert got["pack.toml:title"].status is Status.REVIEWED
    assert got[lesson].status is Status.UNTRANSLATED
    # the studio's editors (or a zipped source) change the Lithuanian files directly
    pack = sample / "pack.toml"
    pack.write_text(pack.read_text().replace("Profesinės ribos (pavyzdys)", "Ribos"))
    md = sample / "courses/boundaries/01-why-boundaries.lt.md"
    source = got[lesson].unit.source
    md.write_text(md.read_text().replace(source, "Išverstas studijoje."))
    got = {e.unit.id: e for e in entries(sample, "lt")}
    assert got["pack.toml:title"].status is Status.DRAFT and got["pack.toml:title"].by == ""
    assert got[lesson].status is Status.DRAFT
    assert got[lesson].unit.target == "Išverstas studijoje."
    assert items


def test_untranslated_strings_make_the_language_partial_and_still_build(sample: Path) -> None:
    q = "courses/boundaries/quiz.toml:questions[q1].prompt"
    lesson = next(u.id for u in extract(sample, "lt").units
                  if u.id.startswith("courses/boundaries/02-") and u.context.startswith("para"))
    items = save(sample, "lt", {q: Change("", Status.UNTRANSLATED),
                                lesson: Change("", Status.UNTRANSLATED)}, "Ona", TODAY)
    got = {e.unit.id: e for e in items}
    assert got[q].status is Status.UNTRANSLATED and got[lesson].status is Status.UNTRANSLATED
    assert got[lesson].unit.target == ""
    manifest = read_source(sample).manifest
    assert manifest["partial_languages"] == ["lt"]
    assert "lt" not in manifest["courses"][0]["quiz"]["questions"][0]["prompt"]


def test_missing_target_lesson_is_built_from_the_source_structure(sample: Path) -> None:
    (sample / "courses/boundaries/03-what-to-do.lt.md").unlink()
    items = entries(sample, "lt")
    mine = [e for e in items if e.unit.id.startswith("courses/boundaries/03-what-to-do.md#")]
    assert mine and all(e.status is Status.UNTRANSLATED for e in mine)
    save(sample, "lt", {mine[0].unit.id: Change("Ką daryti", Status.DRAFT)}, "Ona", TODAY)
    text = (sample / "courses/boundaries/03-what-to-do.lt.md").read_text()
    assert text.startswith("# Ką daryti")
    got = {e.unit.id: e for e in entries(sample, "lt")}
    assert got[mine[0].unit.id].status is Status.DRAFT
    assert all(got[e.unit.id].status is Status.UNTRANSLATED for e in mine[1:])
    read_source(sample)                  # builds (the rest in English until translated)


@pytest.mark.parametrize("text, message", [
    ("<script>alert(1)</script>", "HTML"),
    ("Spauskite <b>čia</b>", "HTML"),
    ("bidi \u202e trick", r"U\+202E"),
    ("[link](https://example.org)", "link"),
    ("x" * 20_001, "longer than"),
])
def test_hostile_targets_are_refused_and_nothing_is_written(sample: Path, text: str,
                                                            message: str) -> None:
    before = _files(sample)
    with pytest.raises(TranslationError, match=message):
        save(sample, "lt", {"pack.toml:title": Change(text, Status.DRAFT)}, "Ona", TODAY)
    assert _files(sample) == before


def test_links_of_the_source_are_kept(sample: Path) -> None:
    linked = [e for e in entries(sample, "lt") if "](" in e.unit.source
              and "02-warning-signs" in e.unit.source]
    assert linked, "the sample lesson links to another lesson"
    e = linked[0]
    # the lesson file and the anchor are the target language's: accepted as they are
    save(sample, "lt", {e.unit.id: Change(e.unit.target + " Daugiau.", Status.DRAFT)}, "O",
         TODAY)
    with pytest.raises(TranslationError, match="keep the links"):
        save(sample, "lt", {e.unit.id: Change("Be nuorodos.", Status.DRAFT)}, "O", TODAY)
    with pytest.raises(TranslationError, match="keep the links"):
        save(sample, "lt", {e.unit.id: Change(e.unit.target.replace(
            "02-warning-signs.lt.md", "https://evil.example/x"), Status.DRAFT)}, "O", TODAY)


def test_refusals(sample: Path) -> None:
    with pytest.raises(TranslationError, match="unknown string id"):
        save(sample, "lt", {"pack.toml:nope": Change("x", Status.DRAFT)}, "Ona", TODAY)
    with pytest.raises(TranslationError, match="not a target language"):
        entries(sample, "en")
    with pytest.raises(TranslationError, match="structure"):
        save(sample, "lt", {"courses/boundaries/01-why-boundaries.md#1":
                            Change("Pirma.\n\n## Nauja antraštė", Status.DRAFT)}, "Ona", TODAY)
    with pytest.raises(TranslationError, match="untranslated"):
        save(sample, "lt", {"pack.toml:title": Change("", Status.UNTRANSLATED)}, "", TODAY)
        mark_reviewed(sample, "lt", ["pack.toml:title"], "Ona", TODAY)
    pack = sample / "pack.toml"
    original = pack.read_text()
    pack.write_text(original.replace('languages = ["en", "lt"]',
                                     'languages = ["en", "lt", "../../evil"]'))
    with pytest.raises(TranslationError, match="not a language code"):
        entries(sample, "lt")
    assert not (sample.parent.parent / "evil.toml").exists()
    pack.write_text(original)
    state_path(sample, "lt").write_text('[strings."x"]\nstatus = "forged"\n')
    with pytest.raises(TranslationError, match="status must be one of"):
        entries(sample, "lt")
