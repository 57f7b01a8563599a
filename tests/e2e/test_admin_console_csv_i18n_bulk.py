"""Issue 21 items 6 and the console's language and bulk actions, in real Chromium (Debian's,
driven by Playwright) against a real server on 127.0.0.1, worked at 1280×800 and at
390×844, every page photographed at both sizes: the progress CSV downloaded with a
facility filter has a "not started" row for a learner who never opened the course, a bad
date is refused with the field named, the console switched to Lithuanian, and a bulk
deactivation of two learners with its confirmation page. Every non-loopback request is
blocked and counted, every console error fails the test, and no page may scroll sideways
on the phone. Screenshots: test-artifacts/admin-console-21csv/.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from sync_server.db.repository import Learner, PackVersion
from tests.e2e.test_admin_console import browser_page  # noqa: F401 - the fixture
from tests.support.server import ADMIN_NAME, ADMIN_PASSWORD, open_repo, running_server, seed

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "admin-console-21csv"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
T0 = "2026-01-01T00:00:00.000Z"


def shot(page: Any, name: str, size: dict[str, int]) -> None:
    """Both sizes (back to the size the flow works at); nothing scrolls sideways at 390."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(SHOTS / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(size)
    assert wide <= 0, f"{name}: the page is {wide}px wider than a 390px phone"


def prepare(data: Path) -> None:
    """Two facilities, a pack published to Kaunas only, and four learners."""
    seed(data, facilities={"vil": "Vilniaus pataisos namai", "kau": "Kauno tardymo izoliatorius"})
    repo = open_repo(data)
    try:
        body = {"id": "pk", "version": 1, "audience_roles": [],
                "courses": [{"id": "c1", "title": {"en": "Dynamic security"}}]}
        repo.add_pack_version(PackVersion("pk", 1, json.dumps(body).encode(), b"{}",
                                          '{"en": "pk"}', 0, T0, "t"))
        repo.publish("pk", 1, ["kau"], [], "t", T0)
        for i, (staff, name, fac) in enumerate((
                ("K-1", "Jonas Jonaitis", "kau"), ("V-1", "Ona Onaitė", "vil"),
                ("V-2", "Petras Petraitis", "vil"), ("V-3", "Rūta Rūtaitė", "vil"))):
            repo.save_profile(Learner(f"00000000-0000-4000-a000-00000000000{i}", staff, fac,
                                      "prison_officer", "lt", name, None, T0))
    finally:
        repo.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_csv_lithuanian_and_bulk_deactivate(tmp_path: Path, browser_page,  # noqa: F811
                                            size: dict[str, int]) -> None:
    page, blocked = browser_page
    tag = str(size["width"])
    page.set_viewport_size(size)
    data = tmp_path / "srv"
    prepare(data)
    with running_server(data) as base:
        page.goto(f"{base}/admin/login")
        page.fill("input[name=name]", ADMIN_NAME)
        page.fill("input[name=password]", ADMIN_PASSWORD)
        page.click("button:has-text('Log in')")
        page.wait_for_url(f"{base}/admin/")

        # ---- the progress CSV of one facility: the learner who never started is in it
        page.goto(f"{base}/admin/exports")
        page.select_option("#downloads select[name=facility]", "kau")
        shot(page, f"{tag}-01-exports-filter", size)
        with page.expect_download() as caught:
            page.click("#download-progress")
        download = caught.value
        assert download.suggested_filename.startswith("progress-facility-kau-")
        text = Path(download.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [(r["name"], r["facility"], r["course"], r["status"]) for r in rows] == [
            ("Jonas Jonaitis", "kau", "c1", "not started")]
        # a date that is not one: the page again, the field named, the filter kept
        page.goto(f"{base}/admin/exports/progress.csv?facility=kau&from=2026-02-30")
        page.wait_for_selector("#filter-error")
        assert "2026-02-30" in page.locator("#filter-error").inner_text()
        assert page.locator("#downloads select[name=facility]").input_value() == "kau"
        shot(page, f"{tag}-02-exports-bad-date", size)

        # ---- the console in Lithuanian, chosen in the header
        page.goto(f"{base}/admin/learners")
        page.select_option("#console-lang", "lt")
        page.click(".lang-switch button")
        page.wait_for_selector("h1:has-text('Besimokantieji')")
        assert page.evaluate("document.documentElement.lang") == "lt"
        assert page.locator("nav >> text=Įrenginiai").count() == 1
        assert page.locator("#console-lang option").all_inner_texts() == [
            "English", "Lietuvių", "Română", "Português"]
        shot(page, f"{tag}-03-learners-lt", size)

        # ---- bulk deactivation of two learners, with a confirmation naming them
        for name in ("Ona Onaitė", "Petras Petraitis"):
            page.check(f"input[aria-label='Pažymėti: {name}']")
        page.select_option("#bulk-action", "deactivate")
        page.click("#bulk-review")
        page.wait_for_selector("h1:has-text('Deaktyvuoti 2 besimokančiuosius?')")
        people = page.locator("#bulk-people li").all_inner_texts()
        assert people == ["Ona Onaitė (V-1) · Vilniaus pataisos namai",
                          "Petras Petraitis (V-2) · Vilniaus pataisos namai"]
        shot(page, f"{tag}-04-bulk-confirm-lt", size)
        page.click("#bulk-confirm-button")
        page.wait_for_selector("text=Deaktyvuoti 2 besimokantieji: Ona Onaitė (V-1), "
                               "Petras Petraitis (V-2).")
        names = page.locator("table.stack tbody td[data-label='Vardas ir pavardė'] a")
        assert sorted(names.all_inner_texts()) == ["Jonas Jonaitis", "Rūta Rūtaitė"]
        shot(page, f"{tag}-05-bulk-done-lt", size)
        page.goto(f"{base}/admin/learners?status=deactivated")
        assert page.locator("tbody tr").count() == 2
    assert not blocked, blocked
