"""The translation workspace in real Chromium (Playwright) against a real sync server on
127.0.0.1; every request leaving the loopback is blocked and counted.

A reviewer opens a draft of promote-sample, translates a string to Lithuanian in the
page, signs it off, exports the language as PO (a real download), changes one string in
the file as a translator would, imports it, and sees it applied as a draft; the strings
filter and progress follow. Screenshots: test-artifacts/translation-workspace/.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sync_server.services import roles
from tests.e2e.test_admin_console import browser_page  # noqa: F401 - the fixture
from tests.integration.test_admin_certificates import console_login, page_csrf
from tests.integration.test_translation_console import NEW, OLD, _source_zip
from tests.support.server import open_repo, running_server, seed

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "translation-workspace"
TITLE_LT = "Profesinės ribos: pavyzdinis kursas"


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_reviewer_translates_and_imports_a_po_file(tmp_path: Path, browser_page) -> None:  # noqa: F811
    page, blocked = browser_page
    data = tmp_path / "srv"
    with running_server(data) as base:
        seed(data)
        seed(data, admin=("rasa", "correct horse battery"))
        repo = open_repo(data)
        try:
            roles.set_roles(repo=repo, name="rasa", roles="reviewer", by="test")
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

        page.goto(f"{base}/admin/login")
        page.fill("input[name=name]", "rasa")
        page.fill("input[name=password]", "correct horse battery")
        page.click("button[type=submit]")
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
        page.wait_for_selector("text=Saved pack.toml:title")
        row = page.locator("article.translate-row[data-id='pack.toml:title']")
        assert row.locator(".badge").inner_text() == "reviewed"
        assert "rasa" in row.locator("header").inner_text()
        shot(page, "02-title-reviewed")

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
        rows = page.locator("article.translate-row")
        assert rows.count() == 1
        assert rows.first.locator("textarea").input_value() == NEW
        shot(page, "04-filter-draft")
        page.set_viewport_size({"width": 400, "height": 900})
        shot(page, "05-narrow")
    assert blocked == []
