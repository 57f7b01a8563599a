"""The who screen after a sync re-attributed a refused offline profile's work
(app/core/store/reattribute.py): one tile, and a one-time translated notice."""

from __future__ import annotations

from pathlib import Path

from app.core.application import Session
from app.core.pins import make_verifier
from app.core.store import reattribute
from tests.e2e.ui_fixtures import ManualClock, all_text, build, by_key, click, has_key, make_device

EXISTING = {"id": "5a1e0000-0000-4000-8000-0000000000e1", "display_name": "Ona J",
            "staff_number": "LT-2024", "role": "prison_officer", "language": "lt",
            "pin_verifier": make_verifier("2580")}
NOTICE = "Your profile was already registered on another tablet"


def test_who_screen_tells_her_once_and_shows_one_tile(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    try:
        mine = device.create_profile("Ona J", "LT-2024", "prison_officer", "en", "1357", "1357")
        view, _ctx, _rec = build(Session(device), "/")
        assert not has_key(view, "reattributed-note")
        device.store.profiles.upsert_remote([EXISTING])
        assert reattribute.plan(device.store, mine, EXISTING["id"])
        reattribute.run_ready(device.store)
        session = Session(device)
        view, _ctx, rec = build(session, "/")
        assert has_key(view, "reattributed-note") and NOTICE in all_text(view)
        assert [t.id for t in device.profiles.tiles()] == [EXISTING["id"]]
        assert not has_key(view, f"profile-{mine}")
        click(by_key(view, f"profile-{EXISTING['id']}"))
        assert rec.routes == [f"/pin/{EXISTING['id']}"]
        view, _ctx, _rec = build(Session(device), "/")
        assert not has_key(view, "reattributed-note")          # shown once
        assert session.sign_in(EXISTING["id"], "2580")
    finally:
        device.close()


def test_the_notice_is_translated_in_every_ui_language(tmp_path: Path) -> None:
    from app.core.i18n import UI_LOCALES, translator
    msg = ("Your profile was already registered on another tablet; your work has been moved "
           "to it. Sign in with the PIN you set there.")
    for locale in UI_LOCALES:
        text = translator(locale).gettext(msg)
        assert text and ("PIN" in text)
        assert (text == msg) == (locale == "en"), locale
