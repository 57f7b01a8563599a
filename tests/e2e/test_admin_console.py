"""The admin console in a real browser (Debian's Chromium driven by Playwright), against a
real sync server on 127.0.0.1. Every request that leaves the loopback is blocked and
counted, so the test also proves the console needs no internet.

Flow: log in → upload the sample pack as zipped source → publish it to a facility → make
an enrolment code → a device enrols with it over the API → the pack is in the device's
catalogue. Screenshots go to test-artifacts/admin-console/.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.integration.test_admin_certificates import zipped_source
from tests.support.learner_work import server_manifest, study
from tests.support.optional import chromium_path
from tests.support.server import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    make_event,
    make_profile,
    running_server,
    seed,
)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "admin-console"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


@pytest.fixture
def browser_page(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage",
                                           "--disable-gpu", "--no-first-run"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})

        def guard(route) -> None:  # type: ignore[no-untyped-def]
            host = urlparse(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        # console errors (e.g. a CSP refusal); the 4xx answers of the wrong-password try and
        # of the CSV import with a bad row are expected
        page.on("console", lambda m: blocked.append(f"console {m.type}: {m.text}")
                if m.type == "error" and "responded with a status of 4" not in m.text else None)
        page.set_default_timeout(20_000)
        try:
            yield page, blocked
        finally:
            context.close()
            browser.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_upload_publish_and_device_catalogue(tmp_path: Path, browser_page) -> None:
    page, blocked = browser_page
    data = tmp_path / "srv"
    seed(data, facilities={"vilnius": "Vilnius prison", "iasi": "Iasi prison"})
    source = tmp_path / "promote-sample.zip"
    source.write_bytes(zipped_source())
    with running_server(data) as base:
        page.goto(f"{base}/admin/")
        assert "/admin/login" in page.url
        page.fill("input[name=name]", ADMIN_NAME)
        page.fill("input[name=password]", "wrong password")
        page.click("button:has-text('Log in')")
        # a click does not wait for the page it leads to: wait for the answer, then look
        page.wait_for_selector("text=Wrong name or password.")
        page.fill("input[name=password]", ADMIN_PASSWORD)
        shot(page, "01-login")
        page.click("button:has-text('Log in')")
        page.wait_for_url(f"{base}/admin/")
        assert page.locator("h1", has_text="Dashboard").is_visible()

        page.click("nav >> text=Packs")
        page.set_input_files("input[name=file]", str(source))
        page.check("input[name=kind][value=source]")
        page.click("button:has-text('Upload')")
        page.wait_for_selector("text=Uploaded promote-sample version 1")
        form = page.locator("#publish-promote-sample")     # one publish form per pack
        form.locator("button:has-text('Review and publish')").click()
        page.wait_for_selector("text=nothing is published to everyone")   # no implicit "all"
        form = page.locator("#publish-promote-sample")
        form.locator("input[name=facilities][value=vilnius]").check()
        form.locator("input[name=roles][value=prison_officer]").check()
        form.locator("button:has-text('Review and publish')").click()
        page.wait_for_selector("h1:has-text('Publish promote-sample v1?')")
        assert page.locator("#confirm-facilities").inner_text() == "Vilnius prison"
        assert page.locator("#confirm-roles").inner_text() == "Prison officer"
        shot(page, "02a-publish-confirm")
        page.click("button:has-text('Publish to Vilnius prison · Prison officer')")
        page.wait_for_selector("text=Published promote-sample v1 to Vilnius prison · Prison officer.")
        shot(page, "02-packs-published")

        page.click("nav >> text=Devices")
        page.select_option("select[name=facility]", "vilnius")
        page.click("button:has-text('Make a code')")
        code = page.locator("#enrol-code").inner_text().strip()
        assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code), code
        assert page.locator("figure.qr svg").is_visible()
        shot(page, "03-enrol-code")

        enrolled = httpx.post(f"{base}/api/v1/devices/enrol",
                              json={"code": code, "device_id": "tablet-e2e", "name": "Tablet A"})
        assert enrolled.status_code == 201, enrolled.text
        headers = {"Authorization": f"Bearer {enrolled.json()['token']}"}
        catalogue = httpx.get(f"{base}/api/v1/packs", headers=headers).json()["packs"]
        assert [(p["id"], p["version"]) for p in catalogue] == [("promote-sample", 1)]
        assert catalogue[0]["roles"] == ["prison_officer"]
        # the device reports the install; the console shows the device with its version
        httpx.post(f"{base}/api/v1/sync/pull", headers=headers,
                   json={"installed_packs": {"promote-sample": 1}})
        page.click("nav >> text=Devices")
        page.wait_for_selector("td:has-text('Tablet A')")
        assert page.locator("text=promote-sample v1").first.is_visible()
        shot(page, "04-devices")

        # some learning on the tablet → dashboard charts, a certificate, its check page
        ann, ben = make_profile(name="Ona Petraitienė"), make_profile(name="Ben Ionescu")
        ann["language"] = "lt"
        # Ann does the course on the tablet (the server re-scores her quiz to certify it)
        ann_work = study(server_manifest(base, headers, "promote-sample", 1), ann["id"],
                         "boundaries", device="tablet-e2e", first_seq=100)
        events = [
            make_event(ben["id"], "tablet-e2e", 3, type="quiz.submitted",
                       ref={"course": "boundaries", "attempt": "b1"}, data={"score": 40, "passed": False}),
            make_event(ann["id"], "tablet-e2e", 4, type="selfassessment.rated",
                       ref={"profile": "prison-officer", "assessment": "s1", "task": "a1"}, data={"level": 1}),
            make_event(ben["id"], "tablet-e2e", 5, type="selfassessment.rated",
                       ref={"profile": "prison-officer", "assessment": "s2", "task": "b1"}, data={"level": 0}),
        ]
        for e in events:
            e["pack"], e["pack_version"] = "promote-sample", 1
        events = ann_work + events
        pushed = httpx.post(f"{base}/api/v1/sync/push", headers=headers,
                            json={"profiles": [ann, ben], "events": events})
        assert len(pushed.json()["stored"]) == len(events), pushed.text
        page.click("nav >> text=Dashboard")
        # issue 21: status bars in HTML (real text sizes), the gap map as a table
        page.wait_for_selector("table.heat")
        assert page.locator(".stack-bar").count() >= 1 and page.locator("table.heat").count() == 1
        assert page.locator(".nums", has_text="(50%)").first.is_visible()
        shot(page, "05-dashboard")
        page.click("nav >> text=Certificates")
        page.click("td a:has-text('verify')")
        page.wait_for_url("**/verify/**")
        page.wait_for_selector("h1:has-text('Genuine certificate')")
        assert page.locator("text=Ona Petraitienė").is_visible()
        shot(page, "05b-verify")
        # learners: CSV import with a bad row → the good row is imported, the bad one listed
        sheet = tmp_path / "staff.csv"
        sheet.write_text("staff_number;name;facility;role;language\n"
                         "LT-501;Rūta Žemaitė;vilnius;prison_officer;lt\n"
                         "LT-502;Jonas;vilnius;warden;lt\n", encoding="utf-8")
        page.goto(f"{base}/admin/learners")
        page.set_input_files("input[name=file][accept^='.csv']", str(sheet))
        page.click("button:has-text('Import')")
        page.wait_for_selector("text=Imported 1 learner; 1 row with errors.")
        assert page.locator("table.errors td", has_text="unknown role 'warden'").is_visible()
        # the imported learner's one-time PIN set-up code is on the page (printable), once
        slip = page.locator("table.slips tr", has_text="Rūta Žemaitė")
        assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}",
                            slip.locator(".pin-code").inner_text())
        shot(page, "05c-learners-import")
        page.goto(f"{base}/admin/learners")
        assert page.locator("td", has_text="Rūta Žemaitė").is_visible()
        assert page.locator(".pin-code").count() == 0

        # revoke the tablet: the confirm dialog comes from the bundled admin.js (CSP: self)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        page.goto(f"{base}/admin/devices")
        page.click("button:has-text('Revoke')")
        page.wait_for_selector("text=Device revoked.")
        assert dialogs == ["Revoke this device? At its next contact it erases every learner's "
                           "data on it, including answers it has not sent yet, and it must be "
                           "enrolled again to be used."]
        assert httpx.get(f"{base}/api/v1/devices/me", headers=headers).status_code == 401

        page.set_viewport_size({"width": 390, "height": 844})   # a phone
        page.goto(f"{base}/admin/packs")
        shot(page, "06-packs-phone")
    assert blocked == [], f"the console tried to reach the internet or logged errors: {blocked}"
