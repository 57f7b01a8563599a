"""The studio's file side (sync_server/authoring): the TOML writer (stable, exact,
injection-proof), a built pack written back as its source (the shipped packs rebuild to
the same manifest), the lesson preview (the app's pipeline, nothing becomes markup) and
the quiz and profile editors (posted form → file the builder reads)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.core.packs import build_pack, generate_keypair, read_source
from sync_server.authoring import drafts as files
from sync_server.authoring.checks import check_source
from sync_server.authoring.editors import profile, quiz
from sync_server.authoring.editors.course import add_course
from sync_server.authoring.editors.lesson import add_image, media_file
from sync_server.authoring.preview import render_lesson
from sync_server.authoring.tomlwrite import dumps
from sync_server.authoring.unbuild import write_source
from sync_server.errors import NotFoundError, ServerError

ROOT = Path(__file__).resolve().parents[2]
PACKS = ROOT / "content_packs"
PNG = (PACKS / "promote-sample/courses/boundaries/media/boundary-zones.png").read_bytes()


# -- the TOML writer -------------------------------------------------------------------
HOSTILE = ['a"b', 'x\n[pack]\nid = "evil"', "tab\there", "\\u0041 stays", "'''", '"""',
           "\x00\x01\x7f", "ünïcödé ✓", "# not a comment", "]]\n[[questions]]", "\r\n"]


@pytest.mark.parametrize("text", HOSTILE)
def test_any_text_is_written_as_exactly_that_text(text: str) -> None:
    doc = {"title": {"en": text}, "plain": text, "list": [text], text or "k": 1}
    written = dumps(doc)
    assert tomllib.loads(written) == doc
    assert dumps(tomllib.loads(written)) == written            # stable


def test_tables_and_arrays_of_tables_keep_their_structure() -> None:
    doc: dict[str, Any] = {
        "draw": 2, "ratio": 1.5, "on": True, "day": dt.date(2027, 3, 1),
        "outcomes": {"spot-it": {"en": "Spot", "lt": "Pastebėti"}},
        "questions": [{"id": "q1", "options": [{"id": "a", "correct": True}]},
                      {"id": "q2", "parts": [{"id": "p1", "options": [{"id": "x"}]}]}]}
    assert tomllib.loads(dumps(doc)) == doc


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": dt.datetime(2027, 1, 1)},
                                 {"x": [1, {"a": 1}]}, {"x": object()}, {"": 1}])
def test_what_toml_cannot_hold_exactly_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        dumps(bad)


# -- a built pack written back as its source --------------------------------------------
@pytest.mark.parametrize("name", ["promote-sample", "promote-core", "workpris-ngo"])
def test_a_shipped_pack_written_back_builds_to_the_same_manifest(tmp_path: Path,
                                                                 name: str) -> None:
    key = generate_keypair()[0]
    built = build_pack(PACKS / name, key, tmp_path / "a")
    with zipfile.ZipFile(built) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        shas = {f["path"]: f["sha256"] for f in manifest["files"]}
        write_source(manifest, lambda path: zf.read(f"blobs/{shas[path]}"), tmp_path / "src")
    again = build_pack(tmp_path / "src", key, tmp_path / "b")
    assert json.loads(zipfile.ZipFile(again).read("manifest.json")) == manifest


# -- the lesson preview ----------------------------------------------------------------
def _preview(text: str) -> Any:
    return render_lesson(text, course="c", lesson="01-a", lang="en",
                         media_lookup=lambda rel: "media/c/x.png"
                         if rel == "courses/c/media/x.png" else None,
                         media_url=lambda path: f"/m/{path}")


@pytest.mark.parametrize("text", [
    "# T\n\n<script>alert(1)</script>\n",
    "# T\n\nok <img src=x onerror=alert(1)>\n",
    "# T\n\n<!-- hidden -->\n",
    "# T\n\n[x](javascript:alert(1))\n",
    "# T\n\n![remote](https://evil.example/x.png)\n",
])
def test_hostile_lesson_text_never_becomes_markup(text: str) -> None:
    shown = _preview(text)
    assert shown.error                                  # the builder's message
    lowered = shown.html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "javascript:" not in \
        lowered.replace("[x](javascript:", "")
    assert "href=" not in lowered and "evil.example/x.png\"" not in lowered


def test_the_preview_shows_cards_images_and_links_as_the_tablet_does() -> None:
    shown = _preview("# Title\n\nIntro *text*.\n\n## Second\n\n![Diagram](media/x.png)\n\n"
                     "See [the intro](01-a.en.md#title) and [web](https://example.org).\n")
    assert not shown.error
    assert shown.html.count('<section class="card"') == 2
    assert '<img src="/m/media/c/x.png" alt="Diagram">' in shown.html
    assert '<a href="#card-title">the intro</a>' in shown.html
    assert "web (https://example.org)" in shown.html     # web links are text on a tablet


# -- editors ---------------------------------------------------------------------------
@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "draft"
    files.new_pack_source(folder, pack_id="t", title="T", languages=["en"],
                          default_language="en", audience_roles=["prison_officer"],
                          licence="CC0", authors=["me"])
    add_course(folder, "c1", "Course one")
    return folder


def test_quiz_editor_writes_every_question_type(src: Path) -> None:
    form = {"question_count": "0", "add_question": "single", "max_attempts": "2",
            "draw": "0", "shuffle_options": "1"}
    quiz.save_quiz(src, "c1", form)
    quiz.save_quiz(src, "c1", {"question_count": "1", "q0.id": "q1", "q0.type": "single",
                               "q0.prompt.en": "Pick", "q0.option_count": "4",
                               **{f"q0.o{j}.id": "abcd"[j] for j in range(4)},
                               **{f"q0.o{j}.text.en": f"opt {j}" for j in range(4)},
                               "q0.o0.correct": "1", "q0.o3.delete": "1",
                               "add_question": "true_false", "draw": "0",
                               "max_attempts": "0"})
    written = tomllib.loads((src / "courses/c1/quiz.toml").read_text())
    assert [q["type"] for q in written["questions"]] == ["single", "true_false"]
    assert [o["id"] for o in written["questions"][0]["options"]] == ["a", "b", "c"]
    assert written["shuffle_options"] is False and written["questions"][1]["answer"] is True
    # the new question has no prompt yet: the builder's error names its field
    assert [(p.field, p.line) for p in check_source(src).errors] == [("questions[1].prompt", 29)]
    quiz.save_quiz(src, "c1", {"question_count": "2", "q0.id": "q1", "q0.type": "single",
                               "q0.prompt.en": "Pick", "q0.option_count": "3",
                               **{f"q0.o{j}.id": "abc"[j] for j in range(3)},
                               **{f"q0.o{j}.text.en": f"opt {j}" for j in range(3)},
                               "q0.o0.correct": "1", "q1.id": "q2", "q1.type": "true_false",
                               "q1.prompt.en": "True?", "q1.answer": "true",
                               "draw": "0", "max_attempts": "0"})
    report = check_source(src)
    assert report.ok, report.errors                   # the builder reads it
    assert {w.rule for w in report.warnings} >= {"missing-explanation", "missing-feedback"}
    assert read_source(src).manifest["courses"][0]["quiz"]["questions"][1]["options"][0] == \
        {"id": "true", "correct": True}
    with pytest.raises(ServerError):
        quiz.save_quiz(src, "c1", {"question_count": "999999"})
    with pytest.raises(NotFoundError):
        quiz.save_quiz(src, "../../etc", {})


def test_profile_editor_duties_tasks_and_levels(src: Path) -> None:
    pid = profile.add_profile(src, "officer", "Prison officer")
    form = {"title.en": "Prison officer", "scale_count": "2", "s0.level": "0",
            "s0.label.en": "Never", "s1.level": "4", "s1.label.en": "Teaches",
            "duty_count": "1", "d0.id": "a", "d0.title.en": "Keep order", "d0.task_count": "1",
            "d0.t0.id": "a1", "d0.t0.title.en": "Talk first", "d0.t0.expected.prison_officer": "4",
            "d0.add_task": "1"}
    profile.save_profile(src, pid, form, ["prison_officer"])
    # the added task has no title yet: the builder says so, at that task
    assert _profile_errors(src) == ["duties[0].tasks[1].title"]
    form["d0.task_count"] = "2"
    form.update({"d0.t1.id": "a2", "d0.t1.title.en": "Write it down"})
    del form["d0.add_task"]
    profile.save_profile(src, pid, form, ["prison_officer"])
    assert _profile_errors(src) == []
    written = tomllib.loads((src / "profiles/officer.toml").read_text())
    assert written["duties"][0]["tasks"][0]["expected"] == {"prison_officer": 4}
    form["d0.t0.expected.prison_officer"] = "3"            # not on the scale
    profile.save_profile(src, pid, form, ["prison_officer"])
    assert _profile_errors(src) == ["duties[0].tasks[0].expected.prison_officer"]


def _profile_errors(src: Path) -> list[str]:
    """The builder's errors about the profile (the new course's empty quiz is one too)."""
    return [p.field for p in check_source(src).errors if p.path.startswith("profiles/")]


def test_images_are_checked_by_content_and_served_only_from_media(src: Path) -> None:
    line = add_image(src, "c1", "../../evil name.png", PNG, "Three [zones]")
    assert line == r"![Three \[zones\]](media/evil-name.png)"
    assert (src / "courses/c1/media/evil-name.png").read_bytes() == PNG
    assert media_file(src, "media/c1/evil-name.png") == src / "courses/c1/media/evil-name.png"
    for bad in ("media/../pack.toml", "pack.toml", "media/c1/.hidden", "media//x"):
        with pytest.raises(NotFoundError):
            media_file(src, bad)
    with pytest.raises(ServerError, match="alt text"):
        add_image(src, "c1", "x.png", PNG, "   ")
    with pytest.raises(ServerError, match="not a PNG"):
        add_image(src, "c1", "x.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "svg")
    shutil.rmtree(src / "courses/c1/media")
