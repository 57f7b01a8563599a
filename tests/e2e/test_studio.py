"""The authoring studio in a real browser (Debian's Chromium driven by Playwright) against
a real sync server on 127.0.0.1; every request leaving the loopback is blocked and
counted (the studio needs no internet, its preview script included).

An author creates a pack with a course, a lesson with an image (alt text required) and a
4-question quiz, watches the live preview at 360 and 800 px, sees a quiz quality warning
next to the questions and fixes it; the author cannot build. A publisher builds (version
bumped, signed with the server key, verified) and publishes it; a tablet syncs and
installs it (the real sync client) and the lesson has the text and the image.
Screenshots: test-artifacts/studio/.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.core.packs import PackLibrary, load_private_key
from app.core.packs.keys import public_key_pem
from app.core.store import Store
from app.sync import RetryPolicy, SyncClient
from tests.e2e.test_admin_console import browser_page  # noqa: F401 - fixture
from tests.support.server import admin_token, bearer, open_repo, running_server, seed

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "studio"
PNG = ROOT / "content_packs/promote-sample/courses/boundaries/media/boundary-zones.png"
PASSWORD = "long-password-1"


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(page, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/admin/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}/admin/studio")


def fill_quiz(page, explained: bool) -> None:  # type: ignore[no-untyped-def]
    for i in range(4):
        page.fill(f"[name='q{i}.prompt.en']", f"Question {i + 1}: a colleague accepts a "
                                               "small gift. What do you do first?")
        page.select_option(f"[name='q{i}.outcome']", "spot" if i % 2 == 0 else "report")
        page.fill(f"[name='q{i}.explanation.en']",
                  f"Rule {i + 1}: report it the same day." if explained else "")
        for j, text in enumerate(["Report it", "Ignore it", "Wait a week", "Ask a friend"]):
            page.fill(f"[name='q{i}.o{j}.text.en']", f"{text} ({i + 1})")
            page.fill(f"[name='q{i}.o{j}.feedback.en']", "Right." if j == 0 else "Not this.")
        page.check(f"[name='q{i}.o0.correct']")


def test_author_writes_publisher_publishes_tablet_installs(tmp_path: Path,
                                                           browser_page) -> None:  # noqa: F811
    page, blocked = browser_page
    data = tmp_path / "srv"
    seed(data, facilities={"vilnius": "Vilnius prison"})
    from sync_server.services import admin_auth, roles
    repo = open_repo(data)
    try:
        for name, role in (("ana", "author"), ("pete", "publisher")):
            admin_auth.create_admin(repo=repo, name=name, password=PASSWORD)
            roles.set_roles(repo=repo, name=name, roles=role, by="admin")
    finally:
        repo.close()
    with running_server(data) as base:
        # -- the author --------------------------------------------------------------
        login(page, base, "ana")
        page.fill("input[name=pack_id]", "induction")
        page.fill("input[name=title]", "Induction for new officers")
        page.fill("input[name=languages]", "en")
        page.check("input[name=roles][value=prison_officer]")
        page.click("button:has-text('Create draft')")
        page.wait_for_selector("h1:has-text('Draft: induction')")
        page.fill("input[name=course_id]", "first-week")
        page.locator("form:has(input[name=course_id]) input[name=title]").fill("Your first week")
        page.click("button:has-text('Add course')")
        page.wait_for_selector("h1:has-text('Course: Your first week')")
        page.fill("[name='summary.en']", "What to expect and whom to ask.")
        page.fill("[name=minutes]", "25")
        page.fill("[name='new_outcome.id']", "spot")
        page.fill("[name='new_outcome.text.en']", "Spot the first signs of manipulation.")
        page.click("button:has-text('Save and check')")
        page.wait_for_selector("[name='outcome0.id']")
        page.fill("[name='new_outcome.id']", "report")
        page.fill("[name='new_outcome.text.en']", "Report a crossed boundary the same day.")
        page.click("button:has-text('Save and check')")
        page.wait_for_selector("[name='outcome1.id']")
        shot(page, "01-course")

        page.click("a:has-text('en') >> nth=0")
        page.wait_for_selector("h1:has-text('Lesson 01-introduction')")
        page.wait_for_selector("#lesson-form[data-live='1']")      # studio.js is running
        page.fill("#markdown", "# Welcome to the wing\n\nYour first week is about people.\n\n"
                               "## Three zones\n\nEvery contact sits in one of **three zones**."
                               "\n\nAnd <script>alert(1)</script> stays text.\n")
        # the live preview follows the typing (studio.js; same origin only)
        page.wait_for_selector("#preview-360 >> text=raw HTML <script> is not allowed")
        page.fill("#markdown", "# Welcome to the wing\n\nYour first week is about people.\n\n"
                               "## Three zones\n\nEvery contact sits in one of **three zones**.\n")
        page.wait_for_selector("#preview-800 .card h2:has-text('Three zones')")
        # the two previews are redrawn one after the other: wait for each, never assume
        page.locator("#preview-360 strong", has_text="three zones").wait_for(state="visible")
        page.click("button:has-text('Save and check')")
        page.wait_for_selector("text=Saved.")
        page.set_input_files("input[name=image]", str(PNG))
        page.click("button:has-text('Upload and add to the lesson')")     # no alt text
        assert page.locator("input[name=alt]:invalid").count() == 1      # the browser asks
        page.fill("input[name=alt]", "Three zones: professional, warning signs, crossed")
        page.click("button:has-text('Upload and add to the lesson')")
        page.wait_for_selector("text=Image added at the end of the lesson")
        img = page.locator("#preview-800 figure img")
        assert img.get_attribute("alt") == "Three zones: professional, warning signs, crossed"
        # the image loads after the preview is drawn: wait for the browser to decode it
        page.wait_for_function("(el) => el.complete && el.naturalWidth > 0",
                               arg=img.element_handle())
        shot(page, "02-lesson-preview")

        page.click("a:has-text('Course first-week')")
        page.click("a:has-text('Edit the quiz')")
        for n in range(4):
            page.select_option("select[name=add_question]", "single")
            page.click("button:has-text('Save and check')")
            page.wait_for_selector(f"[name='q{n}.id']")
        fill_quiz(page, explained=False)
        page.click("button:has-text('Save and check')")
        # the warning stands next to the field it concerns: the question's explanation
        page.wait_for_selector("#q0 .sub:has([name='q0.explanation.en']) "
                               "li.warning:has-text('missing-explanation')")
        assert page.locator(".field-problems li.warning",
                            has_text="missing-explanation").count() == 4
        shot(page, "03-quiz-warning")
        fill_quiz(page, explained=True)
        page.click("button:has-text('Save and check')")
        page.wait_for_selector("text=The builder accepts this draft")
        assert page.locator("li.warning:has-text('missing-explanation')").count() == 0
        shot(page, "04-quiz-fixed")
        page.click("a:has-text('Course first-week')")
        page.click("a:has-text('Draft induction')")
        # an absence proves something only on the page it is about: wait for that page
        page.wait_for_selector("text=A publisher builds and publishes drafts")
        assert page.locator("button:has-text('Build the next version')").count() == 0
        page.click("button:has-text('Log out')")

        # -- the publisher -----------------------------------------------------------
        login(page, base, "pete")
        page.click("a:has-text('induction')")
        shot(page, "05a-draft-publisher")
        page.click("button:has-text('Build the next version')")
        page.wait_for_selector("text=Built induction version 1, signed with the server key")
        form = page.locator("#publish-induction")
        form.locator("input[name=facilities][value=vilnius]").check()
        form.locator("input[name=all_roles]").check()
        form.locator("button:has-text('Review and publish')").click()
        page.wait_for_selector("h1:has-text('Publish induction v1?')")
        page.click("button:has-text('Publish to Vilnius prison')")
        page.wait_for_selector("text=Published induction v1 to Vilnius prison")
        shot(page, "05-published")

        # -- a tablet syncs and installs it ------------------------------------------
        token = admin_token(base)
        code = httpx.post(f"{base}/api/v1/admin/enrol-codes", headers=bearer(token),
                          json={"facility_id": "vilnius"}).json()["code"]
        store, library = Store.open(tmp_path / "tablet"), PackLibrary(tmp_path / "tablet")
        store.settings.set("trusted_keys", [public_key_pem(load_private_key(
            data / "keys" / "server.key").public_key()).decode()])
        client = SyncClient(store, library, retry=RetryPolicy(attempts=3, base=0.01, cap=0.05))
        client.enrol(code, base)
        report = client.sync()
        assert [(p.id, p.version, p.status) for p in report.packs] == [
            ("induction", 1, "installed")]
        installed = library.get("induction")
        assert installed is not None
        lesson = library.lesson("induction", "lessons/first-week/01-introduction.en.json")
        cards = lesson["cards"]
        assert [c["title"] for c in cards] == ["Welcome to the wing", "Three zones"]
        assert "![Three zones: professional, warning signs, crossed](media/first-week/" \
            in cards[1]["markdown"]
        store.close()
    assert blocked == [], f"the studio tried to reach the internet or logged errors: {blocked}"
