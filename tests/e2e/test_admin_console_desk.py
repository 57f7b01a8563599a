"""The console as a training officer's desk (issue 21 items 2–5 and 7–10), in real
Chromium (Debian's, driven by Playwright) against a real server on 127.0.0.1, at
1280×800 and 390×844. Every non-loopback request is blocked and counted, every console
error (a CSP refusal, a pattern Chromium cannot compile) fails the test, and no page may
scroll sideways on the phone. Screenshots: test-artifacts/admin-console-desk/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_admin_console import browser_page  # noqa: F401 - the fixture
from tests.integration.test_admin_certificates import zipped_source
from tests.integration.test_admin_console_flows import source_zip_with
from tests.integration.test_console_lrs import Lrs204
from tests.support.learner_work import server_manifest, study
from tests.support.server import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    admin_token,
    bearer,
    enrol_device,
    make_profile,
    running_server,
    seed,
)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "admin-console-desk"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def shot(page: Any, name: str) -> None:
    """Both sizes; on the phone nothing may scroll sideways."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(SHOTS / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    assert wide <= 0, f"{name}: the page is {wide}px wider than a 390px phone"


def login(page: Any, base: str) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("input[name=name]", ADMIN_NAME)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}/admin/")


def test_packs_publish_withdraw_installed_and_upload_problems(tmp_path: Path,
                                                              browser_page) -> None:  # noqa: F811
    page, blocked = browser_page
    data = tmp_path / "srv"
    seed(data, facilities={"vilnius": "Vilnius Correctional House", "iasi": "Iasi prison"})
    broken = tmp_path / "broken.zip"
    broken.write_bytes(source_zip_with(tmp_path, {
        "courses/boundaries/02-warning-signs.en.md": ("## Small favours",
                                                      "## Small favours\n\n<script>x</script>"),
        "courses/boundaries/03-what-to-do.en.md": ("#the-three-zones", "#no-such-card"),
        "profiles/prison-officer.toml": ('roles = ["prison_officer"]', 'roles = ["warden"]')}))
    good = tmp_path / "promote-sample.zip"
    good.write_bytes(zipped_source())
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    with running_server(data) as base:
        login(page, base)
        # item 9: every problem of an upload at once, in a table that fits a phone
        page.goto(f"{base}/admin/packs")
        page.set_input_files("input[name=file]", str(broken))
        page.click("button:has-text('Upload')")
        page.wait_for_selector("text=3 problems — all of them are listed")
        assert page.locator(".problems tbody tr").count() == 3
        shot(page, "01-upload-problems")

        page.set_input_files("input[name=file]", str(good))
        page.click("button:has-text('Upload')")
        page.wait_for_selector("text=Uploaded promote-sample version 1")
        # item 2: nothing ticked → a clear error; then a confirmation naming the audience
        form = page.locator("#publish-promote-sample")
        assert page.locator("form.publish").count() == 1
        form.locator("button:has-text('Review and publish')").click()
        page.wait_for_selector("text=nothing is published to everyone")
        form = page.locator("#publish-promote-sample")
        form.locator("input[name=facilities][value=vilnius]").check()
        form.locator("input[name=all_roles]").check()
        form.locator("button:has-text('Review and publish')").click()
        page.wait_for_selector("h1:has-text('Publish promote-sample v1?')")
        assert page.locator("#confirm-facilities").inner_text() == "Vilnius Correctional House"
        assert page.locator("#confirm-roles").inner_text() == "all roles"
        shot(page, "02-publish-confirm")
        page.click("button:has-text('Publish to Vilnius Correctional House · all roles')")
        page.wait_for_selector("text=Published promote-sample v1 to Vilnius Correctional House")
        assert page.locator("text=Offered to devices: v1").is_visible()

        # item 7: a Vilnius tablet with v1 is up to date; a revoked one is listed apart
        token = admin_token(base)
        tabs = [enrol_device(base, token, "vilnius", f"tab-{n}", name=f"Tablet {n}")
                for n in (1, 2)]
        for tab in tabs:
            httpx.post(f"{base}/api/v1/sync/pull", headers=tab.headers,
                       json={"installed_packs": {"promote-sample": 1}})
        httpx.post(f"{base}/api/v1/admin/devices/tab-2/revoke", headers=bearer(token))
        page.goto(f"{base}/admin/packs")
        grid = page.locator("#installed table")
        assert grid.locator("td", has_text="Tablet 1").is_visible()
        assert grid.locator("td", has_text="Tablet 2").count() == 0
        assert page.locator("#installed td.stale").count() == 0
        assert page.locator("summary", has_text="Revoked devices (1)").is_visible()
        assert page.locator("th", has_text="Last report (UTC)").is_visible()
        shot(page, "03-installed")

        # withdraw: asks first; the device catalogue then names it withdrawn
        page.click("button:has-text('Withdraw promote-sample')")
        page.wait_for_selector("text=Withdrew promote-sample")
        assert dialogs[-1].startswith("Withdraw promote-sample from every device?")
        catalogue = httpx.get(f"{base}/api/v1/packs", headers=tabs[0].headers).json()
        assert catalogue == {"packs": [], "withdrawn": ["promote-sample"]}
        shot(page, "04-withdrawn")
    assert blocked == [], f"the console tried to reach the internet or logged errors: {blocked}"


def test_devices_learners_certificates_and_lrs(tmp_path: Path, browser_page) -> None:  # noqa: F811
    page, blocked = browser_page
    data = tmp_path / "srv"
    seed(data, facilities={"vilnius": "Vilnius Correctional House", "iasi": "Iasi prison"})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    with running_server(data) as base:
        login(page, base)
        # item 10: the organisation is not set → a banner on every page
        assert page.locator(".banner", has_text="SHIFT_ORG_NAME is not set").is_visible()

        # item 9: the facility id rule runs in Chromium (a pattern it can compile) and on
        # the server; a refused form keeps what was typed; facilities are listed, renamed
        page.goto(f"{base}/admin/devices")
        page.fill("input[name=id]", "Bad Id")
        page.fill("form[action='/admin/facilities'] input[name=name]", "Šiauliai")
        assert page.evaluate("document.querySelector('input[name=id]').validity.patternMismatch")
        page.fill("input[name=id]", "siauliai-1")
        page.click("button:has-text('Create')")
        page.wait_for_selector("text=Facility Šiauliai created.")
        row = page.locator("#facilities tr", has_text="siauliai-1")
        row.locator("input[name=name]").fill("Šiauliai remand prison")
        row.locator("button:has-text('Rename')").click()
        page.wait_for_selector("text=is now called Šiauliai remand prison")
        page.fill("input[name=id]", "vilnius")                       # taken: server refuses
        page.fill("form[action='/admin/facilities'] input[name=name]", "Again")
        page.click("button:has-text('Create')")
        page.wait_for_selector("text=already exists")
        assert page.input_value("input[name=id]") == "vilnius"
        assert page.input_value("form[action='/admin/facilities'] input[name=name]") == "Again"

        # item 3: an enrolment code's print sheet, the open codes list, cancel
        page.goto(f"{base}/admin/devices")
        page.select_option("select[name=facility]", "iasi")
        page.click("button:has-text('Make a code')")
        code = page.locator("#enrol-code").inner_text().strip()
        assert page.locator("button[data-print]").is_visible()
        shot(page, "05-enrol-sheet")
        page.emulate_media(media="print")
        page.screenshot(path=str(SHOTS / "05-enrol-sheet-print.png"), full_page=True)
        assert not page.locator("header.top").is_visible()
        page.emulate_media(media="screen")
        page.goto(f"{base}/admin/devices")
        codes = page.locator("#enrol-codes tbody tr")
        assert codes.count() == 1 and "Iasi prison" in codes.first.inner_text()
        shot(page, "06-devices")
        codes.first.locator("button:has-text('Cancel code')").click()
        page.wait_for_selector("text=Enrolment code for Iasi prison")
        assert "Cancel this enrolment code for Iasi prison?" in dialogs[-1]
        refused = httpx.post(f"{base}/api/v1/devices/enrol",
                             json={"code": code, "device_id": "leaked", "name": "Leaked"})
        assert refused.status_code == 403

        # item 5: learners — CSV with role labels, search, edit, move, deactivate
        sheet = tmp_path / "staff.csv"
        sheet.write_text("staff_number,name,facility,role,language\n"
                         "LT-1,Ona Petraitienė,vilnius,Prison officer,lt\n"
                         "LT-2,Jonas Jonaitis,vilnius,psychologist,lt\n", encoding="utf-8")
        page.goto(f"{base}/admin/learners")
        assert page.locator("a", has_text="Download a template (CSV)").is_visible()
        page.set_input_files("input[name=file][accept^='.csv']", str(sheet))
        page.click("button:has-text('Import')")
        page.wait_for_selector("text=Imported 2 learners; 0 rows with errors.")
        page.goto(f"{base}/admin/learners")
        page.fill("input[name=q]", "petrait")
        page.click("#list button:has-text('Show')")
        page.wait_for_url("**/admin/learners?q=petrait*")   # the click does not wait for it
        assert page.locator("#list tbody tr").count() == 1
        shot(page, "07-learners-search")
        page.click("a:has-text('Ona Petraitienė')")
        page.select_option("#edit-learner select[name=language]", "ro")
        page.select_option("#edit-learner select[name=role]", "trainer")
        page.click("#edit-learner button:has-text('Save')")
        page.wait_for_selector("text=Saved Ona Petraitienė")
        assert page.input_value("#edit-learner select[name=language]") == "ro"
        shot(page, "08-learner")
        page.select_option("select[name=facility]", "iasi")
        page.click("button:has-text('Move…')")
        assert page.locator("#move-text").inner_text() == (
            "Move Ona Petraitienė (LT-1) from Vilnius Correctional House to Iasi prison.")
        shot(page, "09-move-confirm")
        page.click("button:has-text('Move to Iasi prison')")
        page.wait_for_selector("text=Moved Ona Petraitienė (LT-1) from Vilnius Correctional "
                               "House to Iasi prison.")
        page.click("button:has-text('Deactivate Ona Petraitienė')")
        page.wait_for_selector("text=is deactivated: their PIN is removed")
        assert "Deactivate Ona Petraitienė (LT-1)?" in dialogs[-1]
        shot(page, "10-deactivated")

        # items 4 and 10: a real certificate; the PDF link, the revocation reason private
        token = admin_token(base)
        r = httpx.post(f"{base}/api/v1/admin/packs/upload/source", content=zipped_source(),
                       headers={**bearer(token), "Content-Type": "application/octet-stream"},
                       timeout=60)
        assert r.status_code == 201, r.text
        httpx.post(f"{base}/api/v1/admin/packs/promote-sample/publish", headers=bearer(token),
                   json={"version": 1, "facilities": ["vilnius"], "roles": []})
        tab = enrol_device(base, token, "vilnius", "tab-cert")
        rasa = make_profile(name="Rasa Kazlauskienė")
        work = study(server_manifest(base, tab.headers, "promote-sample", 1), rasa["id"],
                     "boundaries", device="tab-cert")
        pushed = httpx.post(f"{base}/api/v1/sync/push", headers=tab.headers,
                            json={"profiles": [rasa], "events": work})
        assert len(pushed.json()["stored"]) == len(work), pushed.text
        page.goto(f"{base}/admin/certificates")
        assert page.locator("#revoke-reason-note").is_visible()
        page.fill("input[name=reason]", "quiz taken by another person")
        page.click("button:has-text('Revoke')")
        page.wait_for_selector("text=Certificate revoked.")
        assert "The reason stays internal" in dialogs[-1]
        assert page.locator("td", has_text="quiz taken by another person").is_visible()
        shot(page, "11-certificates")
        page.click("td a:has-text('verify')")
        page.wait_for_selector("h1:has-text('Revoked certificate')")
        assert "quiz taken by another person" not in page.content()
        shot(page, "12-verify-revoked")

        # item 8: the LRS push report against a fake LRS (204 for known ids, 400 + reason)
        lines = httpx.get(f"{base}/api/v1/admin/exports/xapi.jsonl", headers=bearer(token))
        ids = [json.loads(line)["id"] for line in lines.text.splitlines()]
        lrs = Lrs204(bad={ids[1]})
        lrs.stored[ids[0]] = {"id": ids[0]}
        try:
            page.goto(f"{base}/admin/exports")
            page.fill("input[name=endpoint]", lrs.url)
            page.fill("input[name=username]", "lrs")
            page.fill("input[name=password]", "secret")
            page.click("button:has-text('Send statements')")
            page.wait_for_selector("#lrs-sent")
            assert (page.inner_text("#lrs-sent"), page.inner_text("#lrs-already"),
                    page.inner_text("#lrs-refused")) == (str(len(ids) - 2), "1", "1")
            assert page.locator(".lrs-refused li", has_text="<script>alert(1)</script>").count() == 1
            shot(page, "13-lrs-report")
        finally:
            lrs.close()
    assert blocked == [], f"the console tried to reach the internet or logged errors: {blocked}"
