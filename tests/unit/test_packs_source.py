"""Pack source reader: the sample reads, and every authoring mistake names file, line, field."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from app.core.errors import PackSourceError
from app.core.packs import read_source
from tests.unit.test_packs_support import copy_sample

COURSE = "courses/boundaries"


def edit(src: Path, rel: str, old: str, new: str) -> None:
    p = src / rel
    text = p.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(src: Path, rel: str, needle: str) -> int:
    for no, line in enumerate((src / rel).read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return no
    raise AssertionError(needle)


def fails(src: Path) -> PackSourceError:
    with pytest.raises(PackSourceError) as exc:
        read_source(src)
    assert "\n" not in str(exc.value)
    return exc.value


# -- the sample -----------------------------------------------------------------------
def test_sample_pack_reads_into_the_manifest_of_the_contract(tmp_path: Path) -> None:
    s = read_source(copy_sample(tmp_path))
    m = s.manifest
    assert (m["format"], m["id"], m["version"]) == (1, "promote-sample", 1)
    assert m["languages"] == ["en", "lt"] and "files" not in m
    [course] = m["courses"]
    assert [lesson["id"] for lesson in course["lessons"]] == [
        "01-why-boundaries", "02-warning-signs", "03-what-to-do"]
    assert course["lessons"][0]["files"] == {
        "en": "lessons/boundaries/01-why-boundaries.en.json",
        "lt": "lessons/boundaries/01-why-boundaries.lt.json"}
    assert course["lessons"][0]["cards"] == 3
    qs = course["quiz"]["questions"]
    assert len(qs) == 5
    assert {q["type"] for q in qs} == {"single", "multiple", "true_false", "scenario"}
    tf = next(q for q in qs if q["type"] == "true_false")
    assert "answer" not in tf
    assert [(o["id"], o["correct"]) for o in tf["options"]] == [("true", False), ("false", True)]
    scen = next(q for q in qs if q["type"] == "scenario")
    assert [p["id"] for p in scen["parts"]] == ["q4a", "q4b"] and scen["case"]["lt"]
    [profile] = m["profiles"]
    assert len(profile["duties"]) == 2
    assert profile["duties"][0]["tasks"][0]["expected"] == {"prison_officer": 3}
    assert "media/boundaries/boundary-zones.png" in s.files
    assert s.warnings == []


# -- TOML and field errors ------------------------------------------------------------
def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, f"{COURSE}/quiz.toml", 'id = "q3"', 'id = "q3', )
    err = fails(src)
    assert err.path.endswith("quiz.toml")
    assert err.line == line_of(src, f"{COURSE}/quiz.toml", 'id = "q3')
    assert "TOML syntax error" in str(err)


def test_missing_lesson_names_the_expected_path(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    (src / COURSE / "02-warning-signs.lt.md").unlink()
    err = fails(src)
    assert "02-warning-signs.lt.md" in str(err) and "expected" in str(err)
    assert err.path.endswith("course.toml") and err.field == "lessons"
    assert err.line == line_of(src, f"{COURSE}/course.toml", "lessons =")


def test_partial_language_may_lack_a_lesson(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, "pack.toml", "partial_languages = []", 'partial_languages = ["lt"]')
    (src / COURSE / "03-what-to-do.lt.md").unlink()
    lesson = read_source(src).manifest["courses"][0]["lessons"][2]
    assert lesson["files"] == {"en": "lessons/boundaries/03-what-to-do.en.json"}
    assert lesson["title"] == {"en": "What to do when a line is crossed"}


def test_unknown_question_type_lists_the_known_types(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, f"{COURSE}/quiz.toml", 'type = "multiple"', 'type = "essay"')
    err = fails(src)
    assert "essay" in str(err) and "multiple, scenario, single, true_false" in str(err)
    assert err.field == "questions[1].type"
    assert err.line == line_of(src, f"{COURSE}/quiz.toml", 'type = "essay"')


def test_single_choice_needs_exactly_one_correct_option(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    rel = f"{COURSE}/quiz.toml"
    text = (src / rel).read_text(encoding="utf-8")
    text = text.replace("  id = \"b\"\n  correct = false", "  id = \"b\"\n  correct = true", 1)
    (src / rel).write_text(text, encoding="utf-8")
    err = fails(src)
    assert "exactly one correct option, has 2" in str(err)
    assert err.field == "questions[0].options"


def test_scenario_part_ids_share_the_question_id_space(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, f"{COURSE}/quiz.toml", 'id = "q4b"', 'id = "q2"')
    err = fails(src)
    assert "duplicate id 'q2'" in str(err) and err.field == "questions[3].parts[1].id"


def test_missing_translation_names_language_and_field(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, f"{COURSE}/course.toml", ', lt = "Profesinių ribų išlaikymas"', "")
    err = fails(src)
    assert err.field == "title" and "missing translation for lt" in str(err)
    assert err.line == 1


def test_unknown_field_lists_the_allowed_ones(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, f"{COURSE}/course.toml", "pass_mark = 70", "pass_mak = 70")
    err = fails(src)
    assert "unknown field 'pass_mak'" in str(err) and "pass_mark" in str(err)
    assert err.line == line_of(src, f"{COURSE}/course.toml", "pass_mak")


@pytest.mark.parametrize(("rel", "old", "new", "message"), [
    (f"{COURSE}/course.toml", "pass_mark = 70", "pass_mark = 170", "must be in 0–100, got 170"),
    (f"{COURSE}/course.toml", "minutes = 20", 'minutes = "20"', "must be an integer"),
    (f"{COURSE}/course.toml", '"reporting"]', '"reportin"]', "unknown skill key 'reportin'"),
    ("pack.toml", '"reintegration_specialist"]', '"warden"]', "unknown role 'warden'"),
    ("pack.toml", "format = 1", "format = 2", "unsupported source format 2"),
    ("pack.toml", 'id = "promote-sample"', 'id = "Promote Sample"', "not a valid pack id"),
    ("pack.toml", 'courses = ["boundaries"]', 'courses = ["boundaries", "missing"]',
     "courses/missing/course.toml is missing"),
    ("profiles/prison-officer.toml", "expected = { prison_officer = 2 }",
     "expected = { prison_officer = 7 }", "level 7 is not on the rating scale"),
    ("profiles/prison-officer.toml", "expected = { prison_officer = 2 }",
     "expected = { psychologist = 2 }", "not in the profile's roles"),
    ("skills.toml", '[skills.reporting]\nuri = ""', '[skills.reporting]\nuri = "https://x.org/"',
     "must be an ESCO URI"),
])
def test_field_errors_name_file_line_and_field(tmp_path: Path, rel: str, old: str, new: str,
                                                message: str) -> None:
    src = copy_sample(tmp_path)
    edit(src, rel, old, new)
    err = fails(src)
    assert message in str(err)
    assert err.path.endswith(Path(rel).name) or "missing" in message
    assert err.line is not None


def test_symlink_in_source_is_refused(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    os.symlink("/etc/passwd", src / COURSE / "media" / "passwd.png")
    assert "symbolic links" in str(fails(src))


def test_media_type_and_svg_are_checked(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    (src / "media").mkdir()
    (src / "media" / "notes.exe").write_bytes(b"MZ")
    assert "unsupported media type .exe" in str(fails(src))
    (src / "media" / "notes.exe").unlink()
    # SVG is refused outright (app/core/packs/media.py says why), scripts or not
    (src / "media" / "x.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert "unsupported media type .svg" in str(fails(src))
    (src / "media" / "x.svg").unlink()
    # ... and an SVG (or anything else) renamed to .png is recognised by its content
    (src / "media" / "x.png").write_text('<svg onload="alert(1)"/>')
    err = fails(src)
    assert "is not a PNG, JPEG, GIF or WebP image" in str(err) and err.path.endswith("x.png")


# -- Markdown ---------------------------------------------------------------------------
LESSON = f"{COURSE}/03-what-to-do.en.md"


def lesson_json(src: Path, name: str = "03-what-to-do.en") -> dict:
    import json
    s = read_source(src)
    return json.loads(s.files[f"lessons/boundaries/{name}.json"])


def set_lesson(src: Path, text: str, rel: str = LESSON) -> None:
    (src / rel).write_text(text, encoding="utf-8")


def test_cards_split_at_h2_with_intro_card_and_toc(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    set_lesson(src, "# Title\n\nIntro text.\n\n## First card\n\nA\n\n### Detail\n\nB\n\n"
                    "## First card\n\nC\n")
    doc = lesson_json(src)
    assert doc["title"] == "Title" and doc["lang"] == "en"
    assert [c["title"] for c in doc["cards"]] == ["Title", "First card", "First card"]
    assert [c["anchor"] for c in doc["cards"]] == ["title", "first-card", "first-card-2"]
    assert doc["cards"][1]["markdown"] == "A\n\n### Detail\n\nB"
    assert doc["toc"][2] == {"card": 2, "title": "First card", "anchor": "first-card-2"}


def test_raw_html_is_an_error_but_code_and_less_than_signs_are_text(tmp_path: Path) -> None:
    """Raw HTML is an error with its line (it used to be stripped by a regex, which also
    ate text such as "if a<b and c>d"); HTML inside code is content."""
    src = copy_sample(tmp_path)
    for body, line in [("Some <b>bold</b> text.", 3), ("text\n\n<!-- hidden -->", 5),
                       ("<p>\nx\n</p>", 3), ("a<br>b", 3), ('<img src="x.png">', 3)]:
        set_lesson(src, f"# T\n\n{body}\n")
        err = fails(src)
        assert "raw HTML" in str(err) and err.line == line, (body, str(err))
    set_lesson(src, "# T\n\nif a<b and c>d, x < y and <Enter>\n\n`<b>code</b>`\n\n```\n"
                    "<script>ok()</script>\n## not a card\n```\n")
    md = lesson_json(src)["cards"][0]["markdown"]
    assert md == ("if a\\<b and c>d, x \\< y and \\<Enter>\n\n`<b>code</b>`\n\n```\n"
                  "<script>ok()</script>\n## not a card\n```")


def test_unclosed_script_is_an_error(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    set_lesson(src, "# T\n\ntext\n<script src=x>\n")
    err = fails(src)
    assert err.line == 4 and "raw HTML <script> is not allowed" in str(err)


@pytest.mark.parametrize("target", ["https://evil.example/x.png", "//evil.example/x.png",
                                    "data:image/png;base64,AAAA", "HTTP://EVIL/x.png"])
def test_remote_image_is_an_error_with_file_and_line(tmp_path: Path, target: str) -> None:
    src = copy_sample(tmp_path)
    set_lesson(src, f"# T\n\ntext\n\n![x]({target})\n")
    err = fails(src)
    assert "remote image" in str(err) and err.line == 5 and err.path.endswith("03-what-to-do.en.md")


def test_images_must_be_pack_files(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    set_lesson(src, "# T\n\n![x](media/nope.png)\n")
    err = fails(src)
    assert "expected a media file at courses/boundaries/media/nope.png" in str(err)
    set_lesson(src, "# T\n\n![x](../../../secret.png)\n")
    assert "outside the pack" in str(fails(src))
    set_lesson(src, "# T\n\n![x](media/boundary-zones.png)\n")
    md = lesson_json(src)["cards"][0]["markdown"]
    assert md == "![x](media/boundaries/boundary-zones.png)"


def test_links_are_checked_and_rewritten(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    set_lesson(src, "# T\n\n[a](01-why-boundaries.en.md#fair-and-firm) [b](#t) "
                    "[site](https://example.org/p) [mail](mailto:x@example.org)\n")
    md = lesson_json(src)["cards"][0]["markdown"]
    assert md == ("[a](lesson:boundaries/01-why-boundaries#fair-and-firm) "
                  "[b](lesson:boundaries/03-what-to-do#t) site (https://example.org/p) "
                  "mail (x@example.org)")


@pytest.mark.parametrize(("link", "message"), [
    ("09-nope.en.md", "lesson '09-nope' is not in course 'boundaries'"),
    ("01-why-boundaries.en.md#no-such-card", "no card 'no-such-card'"),
    ("../other/01-x.en.md", "course 'other' is not in this pack"),
    ("javascript:alert(1)", "unsupported scheme"),
    ("notes.txt", "does not point to a lesson file"),
])
def test_broken_links_are_errors(tmp_path: Path, link: str, message: str) -> None:
    src = copy_sample(tmp_path)
    set_lesson(src, f"# T\n\ntext\n\nsee [here]({link})\n")
    err = fails(src)
    assert message in str(err) and err.line == 5


@pytest.mark.parametrize(("text", "message"), [
    ("no title\n\n## card\n\nx\n", "'## ' card heading before the lesson's '# ' title"),
    ("just text\n", "no '# ' title line"),
    ("# A\n\nx\n\n# B\n", "a lesson has one '# ' title"),
    ("# A\n\n[r]: https://x\n", "lesson has no content"),   # a definition alone shows nothing
    ("# A\n\n```\ncode\n", "never closed"),
])
def test_lesson_structure_errors(tmp_path: Path, text: str, message: str) -> None:
    src = copy_sample(tmp_path)
    set_lesson(src, text)
    assert re.search(re.escape(message), str(fails(src)))


def test_course_roles_default_to_the_pack_audience(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, f"{COURSE}/course.toml", 'roles = ["prison_officer", "reintegration_specialist"]\n',
         "")
    course = read_source(src).manifest["courses"][0]
    assert course["roles"] == ["prison_officer", "reintegration_specialist"]


def test_deeply_nested_fields_get_their_own_line(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    rel = "profiles/prison-officer.toml"
    edit(src, rel, 'skills = ["reporting"]\n  expected = { prison_officer = 3 }',
         'skills = ["reporting"]\n  expected = { prison_officer = 9 }')
    err = fails(src)
    assert err.field == "duties[1].tasks[0].expected.prison_officer"
    assert err.line == line_of(src, rel, "prison_officer = 9")
    src2 = copy_sample(tmp_path, "two")
    rel2 = f"{COURSE}/quiz.toml"
    edit(src2, rel2, '    id = "b"\n    correct = true\n    text = { en = "Say no',
         '    id = "b"\n    correct = "yes"\n    text = { en = "Say no')
    err = fails(src2)
    assert err.field == "questions[3].parts[1].options[1].correct"
    assert err.line == line_of(src2, rel2, 'correct = "yes"')


# -- every problem of an upload at once (issue 21 item 9) -----------------------------
def test_problems_in_several_files_are_reported_together(tmp_path: Path) -> None:
    from app.core.errors import PackSourceErrors

    src = copy_sample(tmp_path)
    edit(src, f"{COURSE}/03-what-to-do.en.md", "#the-three-zones", "#no-such-card")
    lt = src / COURSE / "02-warning-signs.lt.md"
    lt.write_bytes(b"# Bad\n\n\xff\xfe not UTF-8\n")
    edit(src, "profiles/prison-officer.toml", 'roles = ["prison_officer"]', 'roles = ["warden"]')
    with pytest.raises(PackSourceErrors) as exc:
        read_source(src)
    found = exc.value.problems
    assert sorted((Path(p.path or "").name, p.line) for p in found) == [
        ("02-warning-signs.lt.md", 3), ("03-what-to-do.en.md", 14), ("prison-officer.toml", 6)]
    assert "no card 'no-such-card'" in str(exc.value) and "warden" in str(exc.value)
    # the link into the broken Lithuanian lesson is not reported as a fourth problem
    assert str(exc.value).startswith("3 problems in the pack source:\n")


def test_one_problem_is_raised_as_itself(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, "profiles/prison-officer.toml", 'roles = ["prison_officer"]', 'roles = ["warden"]')
    err = fails(src)
    assert type(err) is PackSourceError and "warden" in str(err)


def test_problem_list_is_bounded(tmp_path: Path) -> None:
    from app.core.errors import PackSourceErrors
    from app.core.packs.problems import MAX_PROBLEMS

    src = copy_sample(tmp_path)
    text = (src / COURSE / "01-why-boundaries.en.md").read_text(encoding="utf-8")
    links = "".join(f"\n[x{i}](02-warning-signs.en.md#gone-{i})\n" for i in range(MAX_PROBLEMS + 5))
    (src / COURSE / "01-why-boundaries.en.md").write_text(text + links, encoding="utf-8")
    with pytest.raises(PackSourceErrors) as exc:
        read_source(src)
    assert len(exc.value.problems) == MAX_PROBLEMS
    assert str(exc.value).endswith("… and 5 more")
