"""The dashboard a training officer reports from (issue 21 item 1), in real Chromium against
a real server on 127.0.0.1, at 1280×800 and 390×844, every non-loopback request blocked:
dashboard → filter a facility → drill into a cell → print view → PDF download.

Checked on the way: a course never published to a facility does not show there; the tiles
carry the facility's numbers; a facility's name is never cut; the chart text is real text
of a readable size on the phone; the drill-down lists the learners behind the number; the
report (HTML print view and PDF) holds the title, the date, the filters and the numbers.
Screenshots: test-artifacts/admin-dashboard/ (print view also as print media).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_admin_console import browser_page  # noqa: F401 - the fixture
from tests.integration.test_admin_certificates import zipped_source
from tests.support.learner_work import server_manifest, study
from tests.support.server import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    admin_token,
    bearer,
    enrol_device,
    make_event,
    make_profile,
    running_server,
    seed,
)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "admin-dashboard"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VILNIUS = "Vilnius Correctional House"


def shot(page: Any, name: str) -> None:
    """Both sizes; on the phone nothing may scroll sideways and the progress text is at
    least 12 px (real text, not a scaled-down drawing)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(SHOTS / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    smallest = page.evaluate("""() => Math.min(1000, ...[...document.querySelectorAll(
        '.progress .who, .progress .nums, .stack-bar .seg, table td, .legend li')]
        .filter(e => e.offsetParent !== null && e.textContent.trim())
        .map(e => parseFloat(getComputedStyle(e).fontSize)))""")
    page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    assert wide <= 0, f"{name}: the page is {wide}px wider than a 390px phone"
    assert smallest >= 12, f"{name}: text of {smallest}px on a phone"


def not_cut(page: Any, selector: str) -> None:
    """Every element's text is shown whole (nothing clipped, no ellipsis)."""
    for el in page.locator(selector).all():
        fits = el.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        assert fits and "…" not in el.inner_text(), el.inner_text()


def test_dashboard_filter_drill_down_print_and_pdf(tmp_path: Path,
                                                   browser_page) -> None:  # noqa: F811
    page, blocked = browser_page
    data = tmp_path / "srv"
    seed(data, facilities={"vilnius": VILNIUS, "iasi": "Iasi prison"})
    with running_server(data) as base:
        token = admin_token(base)
        up = httpx.post(f"{base}/api/v1/admin/packs/upload/source",
                        headers={**bearer(token), "Content-Type": "application/octet-stream"},
                        content=zipped_source(), timeout=60)
        assert up.status_code == 201, up.text
        # published to Vilnius only: Iasi's learners must not count against it
        r = httpx.post(f"{base}/api/v1/admin/packs/promote-sample/publish",
                       headers=bearer(token),
                       json={"version": 1, "facilities": ["vilnius"], "roles": []})
        assert r.status_code in (200, 201), r.text
        tab = enrol_device(base, token, "vilnius", "tab-v")
        iasi_tab = enrol_device(base, token, "iasi", "tab-i")
        manifest = server_manifest(base, tab.headers, "promote-sample", 1)
        ann, ben = make_profile(name="Ann Adamkutė"), make_profile(name="Ben Baltrus")
        cy, dan = make_profile(name="Cy Čepas"), make_profile(name="Dan Dirgėla")
        events = [
            *study(manifest, ann["id"], "boundaries", device="tab-v", first_seq=100),
            *study(manifest, cy["id"], "boundaries", device="tab-v", read=False,
                   first_seq=300),
            make_event(ben["id"], "tab-v", 1, type="quiz.submitted", pack="promote-sample",
                       pack_version=1, ref={"course": "boundaries", "attempt": "b1"},
                       data={"score": 10, "passed": False}),
            make_event(ann["id"], "tab-v", 2, type="selfassessment.rated",
                       pack="promote-sample", pack_version=1, data={"level": 1},
                       ref={"profile": "prison-officer", "assessment": "s1", "task": "a1"}),
        ]
        pushed = httpx.post(f"{base}/api/v1/sync/push", headers=tab.headers,
                            json={"profiles": [ann, ben, cy, dan], "events": events})
        assert len(pushed.json()["stored"]) == len(events), pushed.text
        ion = make_profile(name="Ion Iliescu")
        httpx.post(f"{base}/api/v1/sync/push", headers=iasi_tab.headers,
                   json={"profiles": [ion], "events": []}).raise_for_status()

        page.goto(f"{base}/admin/login")
        page.fill("input[name=name]", ADMIN_NAME)
        page.fill("input[name=password]", ADMIN_PASSWORD)
        page.click("button:has-text('Log in')")
        page.wait_for_url(f"{base}/admin/")
        tiles = page.locator("#tiles")
        assert "5 active learners" in " ".join(tiles.inner_text().split())
        # the course counts in Vilnius only: no Iasi bar (no "0 %" for a course it never got)
        progress = page.locator("ul.progress").first
        assert progress.locator(".who", has_text=VILNIUS).count() == 1
        assert page.locator("ul.progress .who", has_text="Iasi prison").count() == 0
        not_cut(page, "ul.progress .who")
        assert page.locator("table.heat th", has_text=VILNIUS).count() == 1
        shot(page, "01-dashboard")

        # filter a facility: the tiles are the facility's, the URL says so
        page.select_option("select[name=facility]", "vilnius")
        page.click("button:has-text('Filter')")
        page.wait_for_url("**/admin/?facility=vilnius*")
        assert "4 active learners" in " ".join(tiles.inner_text().split())
        assert "1 facility" in " ".join(tiles.inner_text().split())
        assert page.locator("#scope").inner_text().startswith(f"Showing: {VILNIUS}")
        shot(page, "02-dashboard-vilnius")

        # drill into the "in progress" part of the bar: Ben, and only Ben
        bar = page.locator("ul.progress li", has_text=VILNIUS).first.locator(".stack-bar")
        segment = bar.locator("a.seg.s-in_progress")
        assert segment.get_attribute("title") == "in progress: 1"
        segment.click()
        page.wait_for_url("**/admin/progress?*status=in_progress*")
        assert "facility=vilnius" in page.url and "course=boundaries" in page.url
        rows = page.locator("#drill-table tbody tr")
        assert rows.count() == 1 and "Ben Baltrus" in rows.first.inner_text()
        assert "in progress" in rows.first.inner_text()
        shot(page, "03-drill-down")
        # the learner's own page lists the courses published to them, with the status
        rows.first.locator("a", has_text="Ben Baltrus").click()
        page.wait_for_selector("#learner-courses")
        assert "in progress" in page.locator("#learner-courses tbody tr", has_text=(
            "Keeping professional boundaries")).inner_text()
        shot(page, "03b-learner")
        page.go_back()
        counts = {a.get_attribute("data-status"): a.locator(".count").inner_text()
                  for a in page.locator(".status-tabs a[data-status]").all()}
        assert counts == {"not_started": "1", "in_progress": "1", "passed": "1",
                          "completed": "1"}
        page.click(".status-tabs a[data-status=not_started]")
        page.wait_for_url("**status=not_started*")
        assert "Dan Dirgėla" in page.locator("#drill-table").inner_text()
        assert "Ion Iliescu" not in page.content()

        # the facility report: print view with who has not finished, then the PDF
        page.goto(f"{base}/admin/?facility=vilnius")
        page.click("#report-link")
        page.wait_for_url("**/admin/report?facility=vilnius")
        assert page.locator("h1").inner_text() == f"Training progress — {VILNIUS}"
        filters = " ".join(page.locator("#report-filters").inner_text().split())
        assert f"Facility {VILNIUS}" in filters and "Role all roles" in filters
        assert "UTC" in page.locator("#report-date").inner_text()
        page.click("#unfinished-toggle")
        page.wait_for_url("**unfinished=1*")
        unfinished = page.locator("section.unfinished").first.inner_text()
        assert "(3)" in unfinished and "Ann Adamkutė" not in unfinished
        assert all(n in unfinished for n in ("Ben Baltrus", "Cy Čepas", "Dan Dirgėla"))
        shot(page, "04-report")
        page.emulate_media(media="print")
        assert not page.locator("header.top").is_visible()
        assert not page.locator(".report-actions").is_visible()
        page.screenshot(path=str(SHOTS / "05-report-print-media.png"), full_page=True)
        page.emulate_media(media="screen")
        with page.expect_download() as info:
            page.click("#pdf-link")
        download = info.value
        assert download.suggested_filename.startswith("report-vilnius-")
        pdf = Path(download.path()).read_bytes()
        assert pdf.startswith(b"%PDF")
        if shutil.which("pdftotext"):
            path = tmp_path / "report.pdf"
            path.write_bytes(pdf)
            text = subprocess.run(["pdftotext", "-layout", str(path), "-"],
                                  capture_output=True, text=True, check=True).stdout
            assert f"Training progress — {VILNIUS}" in text
            assert f"Facility: {VILNIUS}" in text and "Dan Dirgėla" in text
            if shutil.which("pdftoppm"):
                subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1",
                                str(path), str(SHOTS / "06-report-pdf")], check=True)
        page.goto(f"{base}/admin/audit?action=export.report")
        assert page.locator("td", has_text="facility report exported").count() >= 3
    assert blocked == [], blocked
