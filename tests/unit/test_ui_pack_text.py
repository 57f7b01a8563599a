"""Defence in depth: even a pack whose hostile text got past install (an older app
installed it, or a bug) reaches Flet's controls only sanitised. The views are built
without a browser on a real device folder; every Markdown control, image and text of the
lesson reader, the quiz (case, explanation, feedback) and the results is inspected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import flet as ft
import pytest

import app.core.packs.install as install_mod
import app.core.packs.verify as verify_mod
from app.core.application import Device
from app.core.packs import install_pack
from app.core.packs.markup import Kind, first_forbidden
from tests.e2e.ui_fixtures import ManualClock, build, signed_in, walk
from tests.unit.test_markup import problems
from tests.unit.test_packs_support import (
    TRUST,
    copy_sample,
    manifest_of,
    read_entries,
    replace_file,
    resign,
    rewrite,
)
from tests.unit.test_packs_support import (
    build as build_pack,
)

PACK, COURSE = "promote-sample", "boundaries"
LESSON = "lessons/boundaries/01-why-boundaries.en.json"
EVIL_MD = ("<p>![](https://evil.example/a.png)</p>\n\n![x][r]\n\n[r]: https://evil.example/b.png"
           "\n\n[js](javascript:alert(1)) <https://evil.example/c> [w](https://evil.example/d) "
           "if a<b and c>d\n\n- ![in a list](https://evil.example/e.png)\n\n"
           "![ok](media/boundaries/boundary-zones.png)")


def _hostile(entries: list[Any]) -> list[Any]:
    m = manifest_of(entries)
    for q in m["courses"][0]["quiz"]["questions"]:
        for item in [q, *q.get("parts", [])]:
            item["explanation"] = {"en": EVIL_MD}
            for o in item.get("options", []):
                o["feedback"] = {"en": "fb\u202e ![x](https://evil.example/f.png)"}
        if q["type"] == "scenario":
            q["case"] = {"en": EVIL_MD}
    m["courses"][0]["title"] = {"en": "Course\u202e title"}
    entries = resign(entries, m)
    lesson = {"title": "Lesson\u202e", "lang": "en",
              "toc": [{"card": 0, "title": "Card", "anchor": "card"}],
              "cards": [{"title": "Card\u2066", "anchor": "card", "markdown": EVIL_MD}]}
    return replace_file(entries, LESSON, json.dumps(lesson).encode())


@pytest.fixture
def device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Device:
    pack = build_pack(copy_sample(tmp_path), tmp_path / "out")
    bad = rewrite(pack, tmp_path / "hostile.pack", _hostile)
    with monkeypatch.context() as m:          # what an app without the install check did
        m.setattr(verify_mod, "check_manifest_text", lambda manifest: None)
        m.setattr(install_mod, "check_lesson", lambda *args, **kwargs: None)
        install_pack(bad, tmp_path / "device", TRUST)
    assert "evil" in json.dumps(manifest_of(read_entries(bad)))
    return Device.open(tmp_path / "device", clock=ManualClock())


def _inspect(view: ft.View) -> list[str]:
    """Every Markdown value (checked), image source (checked) and text (no bidi)."""
    markdown = []
    for c in walk(view):
        if isinstance(c, ft.Markdown):
            assert problems(c.value, Kind.RICH) == [], c.value
            assert "evil.example/a" not in c.value and "javascript" not in c.value
            markdown.append(c.value)
        elif isinstance(c, ft.Image):
            assert c.src.startswith(f"/packmedia/{PACK}/media/"), c.src
        for attr in ("value", "content", "semantics_label"):
            v = getattr(c, attr, None)
            if isinstance(v, str):
                assert first_forbidden(v) is None, v
    return markdown


def test_a_hostile_lesson_reaches_the_reader_sanitised(device: Device) -> None:
    session = signed_in(device)
    view, _ctx, _rec = build(session, f"/lesson/{PACK}/{COURSE}/01-why-boundaries/0")
    markdown = _inspect(view)
    joined = "\n".join(markdown)
    assert "if a\\<b and c>d" in joined                 # the text is kept, as text
    assert "w (https://evil.example/d)" in joined       # a web link is shown, not live
    images = [c.src for c in walk(view) if isinstance(c, ft.Image)]
    assert images == [f"/packmedia/{PACK}/media/boundaries/boundary-zones.png"]
    view, _ctx, _rec = build(session, f"/course/{PACK}/{COURSE}")
    _inspect(view)


def test_hostile_quiz_texts_reach_the_quiz_and_results_sanitised(device: Device) -> None:
    session = signed_in(device)
    path = f"/quiz/{PACK}/{COURSE}"
    view, _ctx, rec = build(session, path)
    next(c for c in walk(view) if c.key == "start-quiz").on_click(None)
    seen: list[str] = []
    for _ in range(20):
        view, _ctx, rec = build(session, path)
        seen += _inspect(view)
        keys = {str(c.key): c for c in walk(view) if c.key}
        if "see-results" in keys:
            keys["see-results"].on_click(None)
            break
        if "check" in keys:
            next(c for k, c in keys.items() if k.startswith("option-")).on_click(None)
            keys["check"].on_click(None)
        elif "next-question" in keys:
            keys["next-question"].on_click(None)
    assert any("if a\\<b and c>d" in m for m in seen), "the explanation was shown"
    (results,) = [r for r in rec.routes if r.startswith("/results/")]
    view, _ctx, _rec = build(session, results)
    _inspect(view)
