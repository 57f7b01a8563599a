"""The translation workspace in real Chromium (Playwright) against a real sync server on
127.0.0.1; every request leaving the loopback is blocked and counted.

A reviewer opens a draft of promote-sample, translates strings to Lithuanian in the page
(the pack title and a lesson paragraph), signs one off, exports the language as PO (a
real download), changes one string in the file as a translator would, imports it, sees
it applied as a draft, then signs every string off; a publisher builds and publishes the
draft; a tablet syncs and installs it, and the Lithuanian lesson a learner opens has the
translation, the pack records the native review and no longer flags Lithuanian as
machine-translated. Screenshots: test-artifacts/translation-workspace/.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from app.core.packs import PackLibrary, load_private_key
from app.core.packs.keys import public_key_pem
from app.core.store import Store
from app.sync import RetryPolicy, SyncClient
from sync_server.services import roles
from tests.e2e.test_admin_console import browser_page  # noqa: F401 - the fixture
from tests.integration.test_admin_certificates import console_login, page_csrf
from tests.integration.test_translation_console import NEW, OLD, _source_zip
from tests.support.server import admin_token, bearer, open_repo, running_server, seed

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "translation-workspace"
TITLE_LT = "Profesinės ribos: pavyzdinis kursas"
PARAGRAPH = "courses/boundaries/01-why-boundaries.md#1"
PARAGRAPH_LT = "Ribos saugo ir jus, ir žmones, su kuriais dirbate. Tai išversta darbo vietoje."


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_reviewer_translates_and_imports_a_po_file(tmp_path: Path, browser_page) -> None:  # noqa: F811
    page, blocked = browser_page
    data = tmp_path / "srv"
    with running_server(data) as base:
        seed(data, facilities={"vilnius": "Vilnius prison"})
        for name, role in (("rasa", "reviewer"), ("pete", "publisher")):
            seed(data, admin=(name, "correct horse battery"))
            repo = open_repo(data)
            try:
                roles.set_roles(repo=repo, name=name, roles=role, by="test")
            finally:
                repo.close()
        with httpx.Client(base_url=base, timeout=60) as admin:
            console_login(admin)
            r = admin.post("/admin/studio/new", data={
                "csrf": page_csrf(admin, "/admin/studio"), "pack_id": "promote-sample",
                "title": "Sample", "languages": "en lt", "roles": ["prison_officer"]})
            draft = r.headers["location"].rsplit("/", 1)[-1]
            r = admin.post(f"/admin/studio/{draft}/upload",
                           data={"csrf": page_csrf(admin, f"/admin/studio/{draft}")},
                           files={"file": ("s.zip", _source_zip(), "application/zip")})
            assert r.status_code == 303

        login(page, base, "rasa")
        page.goto(f"{base}/admin/studio/{draft}")
        page.click("text=Open the translation workspace")
        page.wait_for_selector("h1:has-text('Translation workspace')")
        shot(page, "01-workspace")

        # translate the pack title in the page, then sign it off
        row = page.locator("article.translate-row[data-id='pack.toml:title']")
        row.locator("textarea").fill(TITLE_LT)
        row.locator("button[name=save]").click()
        page.wait_for_selector("text=Saved pack.toml:title")
        row = page.locator("article.translate-row[data-id='pack.toml:title']")
        assert row.locator(".badge").inner_text() == "draft"
        assert row.locator("textarea").input_value() == TITLE_LT
        row.locator("button[name=review]").click()
        # the save's flash is on the page already: wait for what only the review shows
        page.wait_for_selector("article.translate-row[data-id='pack.toml:title'] "
                               ".badge:has-text('reviewed')")
        row = page.locator("article.translate-row[data-id='pack.toml:title']")
        assert row.locator(".badge").inner_text() == "reviewed"
        assert "rasa" in row.locator("header").inner_text()
        shot(page, "02-title-reviewed")
        page.click("nav.pager >> text=2")             # lessons come after the TOML strings
        row = page.locator(f"article.translate-row[data-id='{PARAGRAPH}']")
        row.locator("textarea").fill(PARAGRAPH_LT)
        row.locator("button[name=save]").click()
        page.wait_for_selector(f"text=Saved {PARAGRAPH}")

        # export PO (a real download), change one string, import it
        with page.expect_download() as dl:
            page.click("text=Export PO")
        po_path = tmp_path / "lt.po"
        dl.value.save_as(po_path)
        text = po_path.read_text(encoding="utf-8")
        assert f'msgstr "{TITLE_LT}"' in text and f'msgstr "{OLD}"' in text
        po_path.write_text(text.replace(f'msgstr "{OLD}"', f'msgstr "{NEW}"'),
                           encoding="utf-8")
        page.set_input_files("input[type=file][name=file]", str(po_path))
        page.click("button:has-text('Import')")
        page.wait_for_selector("#import-report")
        assert "1 string(s) changed" in page.inner_text("#import-report")
        shot(page, "03-imported")

        page.select_option("select[name=status]", "draft")
        page.click("button:has-text('Show')")
        page.wait_for_url(re.compile(r"status=draft"))   # the filtered page, not the old one
        rows = page.locator("article.translate-row")
        assert rows.count() == 2                   # the paragraph and the imported prompt
        assert sorted(rows.nth(i).locator("textarea").input_value() for i in range(2)) == \
            sorted([NEW, PARAGRAPH_LT])
        shot(page, "04-filter-draft")
        page.set_viewport_size({"width": 400, "height": 900})
        shot(page, "05-narrow")
        page.set_viewport_size({"width": 1280, "height": 900})

        # the reviewer signs every string off, a page of strings at a time
        for status in ("machine", "draft"):
            while True:
                page.goto(f"{base}/admin/studio/{draft}/translate?lang=lt&status={status}")
                button = page.locator("button:has-text('Mark every translated string shown')")
                if button.count() == 0:
                    break
                button.click()
                page.wait_for_selector("text=marked reviewed")
        page.goto(f"{base}/admin/studio/{draft}/translate?lang=lt")
        assert page.locator("td[data-status=reviewed]").inner_text() == "95"
        assert "100 %" in page.inner_text(".progress-table")
        shot(page, "06-all-reviewed")
        page.click("button:has-text('Log out')")

        # the publisher builds and publishes; a tablet syncs and installs the pack
        login(page, base, "pete")
        page.goto(f"{base}/admin/studio/{draft}")
        page.click("button:has-text('Build the next version')")
        page.wait_for_selector("text=Built promote-sample version 1")
        form = page.locator("#publish-promote-sample")
        form.locator("input[name=facilities][value=vilnius]").check()
        form.locator("input[name=all_roles]").check()
        form.locator("button:has-text('Review and publish')").click()
        page.click("button:has-text('Publish to Vilnius prison')")
        page.wait_for_selector("text=Published promote-sample v1 to Vilnius prison")
        token = admin_token(base)
        code = httpx.post(f"{base}/api/v1/admin/enrol-codes", headers=bearer(token),
                          json={"facility_id": "vilnius"}).json()["code"]
        store, library = Store.open(tmp_path / "tablet"), PackLibrary(tmp_path / "tablet")
        store.settings.set("trusted_keys", [public_key_pem(load_private_key(
            data / "keys" / "server.key").public_key()).decode()])
        client = SyncClient(store, library, retry=RetryPolicy(attempts=3, base=0.01, cap=0.05))
        client.enrol(code, base)
        assert [(p.id, p.status) for p in client.sync().packs] == [("promote-sample",
                                                                    "installed")]
        manifest = library.get("promote-sample").manifest
        assert manifest["title"]["lt"] == TITLE_LT
        assert manifest["machine_translated"] == []
        assert manifest["reviews"]["lt"]["reviewer"] == "rasa"
        assert manifest["courses"][0]["quiz"]["questions"][0]["prompt"]["lt"] == NEW
        lesson = library.lesson("promote-sample", "lessons/boundaries/01-why-boundaries.lt.json")
        assert PARAGRAPH_LT in lesson["cards"][0]["markdown"]
        store.close()
    assert blocked == []


def login(page, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/admin/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}/admin/studio")
