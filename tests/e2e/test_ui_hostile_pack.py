"""Attack row 11 in real Chromium: a pack whose lesson and quiz texts hold remote images,
``javascript:`` links and raw HTML got onto the tablet past the install check (an older
app installed it). The learner reads the lesson and the quiz; the browser (which blocks
and records every non-loopback request) must see no request for anything but the app and
its pack images, and the text must still read as written ("if a<b and c>d")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import app.core.packs.install as install_mod
import app.core.packs.verify as verify_mod
from app.core.packs import install_pack
from tests.e2e.test_ui_e2e import create_profile
from tests.e2e.ui_harness import AppServer, chromium, start_app
from tests.unit.test_packs_support import (
    TRUST,
    build,
    copy_sample,
    manifest_of,
    replace_file,
    resign,
    rewrite,
)

pytestmark = pytest.mark.browser

LESSON = "lessons/boundaries/01-why-boundaries.en.json"
PACK_IMAGE = "/packmedia/promote-sample/media/boundaries/boundary-zones.png"


def evil(mark: str) -> str:
    return (f"{mark} if a<b and c>d\n\n<p>![](https://evil.example/{mark}-p.png)</p>\n\n"
            f"![x][r] ![y](//evil.example/{mark}-y.png)\n\n"
            f"[r]: https://evil.example/{mark}-ref.png\n\n"
            f"[js](javascript:alert(1)) <https://evil.example/{mark}-auto> "
            f"<img src=https://evil.example/{mark}-img.png>")


def _hostile(entries: list[Any]) -> list[Any]:
    m = manifest_of(entries)
    quiz = m["courses"][0]["quiz"]
    quiz["shuffle_questions"] = quiz["shuffle_options"] = False
    for q in quiz["questions"]:
        for item in [q, *q.get("parts", [])]:
            item["explanation"] = {"en": evil("Explained")}
        if q["type"] == "scenario":
            q["case"] = {"en": evil("Casework")}
    lesson = {"title": "Why boundaries matter", "lang": "en",
              "toc": [{"card": 0, "title": "Card one", "anchor": "card-one"}],
              "cards": [{"title": "Card one", "anchor": "card-one",
                         "markdown": evil("Lessontext") + "\n\n"
                         "![The zones](media/boundaries/boundary-zones.png)"}]}
    return replace_file(resign(entries, m), LESSON, json.dumps(lesson).encode())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    work = tmp_path_factory.mktemp("ui-hostile")
    pack = rewrite(build(copy_sample(work), work / "out"), work / "hostile.pack", _hostile)
    with pytest.MonkeyPatch.context() as m:      # what an app without the check installed
        m.setattr(verify_mod, "check_manifest_text", lambda manifest: None)
        m.setattr(install_mod, "check_lesson", lambda *args, **kwargs: None)
        install_pack(pack, work / "device", TRUST)
    srv = start_app(work / "device", work / "app.log")
    yield srv
    srv.stop()


def test_hostile_pack_text_never_makes_the_tablet_fetch_anything(server: AppServer) -> None:
    with chromium() as b:
        b.open(server.url)
        b.text("Who is learning?")
        create_profile(b, "Ona Petraitytė", "LT-0042", "2580")
        b.tap_card("Keeping professional boundaries")
        with b.page.expect_request(lambda r: PACK_IMAGE in r.url, timeout=30_000):
            b.tap("Start")                       # the card with its one real pack image
        b.text("Lessontext if a<b and c>d")
        b.text("js")
        b.tap("Finish lesson")
        b.tap("Take the quiz")
        b.tap_card("Explaining to him how to request a visit")
        b.tap("Check answer")
        b.text("Explained if a<b and c>d")
        b.tap("Next question")
        b.tap_card("Asking you for small personal favours")
        b.tap("Check answer")
        b.tap("Next question")
        b.tap_card("True")
        b.tap("Check answer")
        b.tap("Next question")
        b.text("Casework if a<b and c>d")       # the scenario's case
        b.tap_card("Flattery and a request for a secret favour")
        b.tap("Check answer")
        b.text("Explained if a<b and c>d")
    assert b.blocked == [], b.blocked
    assert not [u for u in b.requests if "evil" in u or "javascript" in u]
    media = {u.split("?")[0] for u in b.requests if "/packmedia/" in u}
    assert media == {server.url.rstrip("/") + PACK_IMAGE}, media
