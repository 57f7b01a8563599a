"""Issue 17, defect 1: the browser tab froze (100 % CPU) right after a text-size change.

Text size and contrast are changed 20 times in a row on every screen that offers them
(signed-out Settings, the learner's Settings, the lesson's A−/A+) at 1280×800 and
360×800, and after each round every screen is still drawn and answering. Each change is
awaited as an event (the chosen size's chip reported selected, the switch reported
checked), and after each one the page must answer a script call within a few seconds: a
hung tab fails the test instead of stalling it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.ui_harness import AppServer, Browser, chromium, install_fixture_packs, start_app

pytestmark = pytest.mark.browser

ROUNDS = 20
PIN = "2580"
SIZES = ("Normal", "Large", "Larger")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    from app.ui.main import open_device

    work = tmp_path_factory.mktemp("ui-stress")
    data = work / "device"
    install_fixture_packs(data, work)
    device = open_device(data)
    device.create_profile("Jonas Kazlauskas", "LT-201", "prison_officer", "en", PIN, PIN)
    device.close()
    srv = start_app(data, work / "app.log")
    yield srv
    srv.stop()


def alive(b: Browser) -> None:
    """The tab still runs scripts (a frozen tab fails here within 5 s)."""
    b.page.wait_for_function("() => document.querySelectorAll('flt-semantics').length > 0",
                             timeout=5_000)


def size_chip(b: Browser, size: str, checked: bool | None = None) -> object:
    kwargs = {} if checked is None else {"checked": checked}
    return b.page.get_by_role("checkbox", name=size, exact=True, **kwargs).first


def churn_settings(b: Browser) -> None:
    """20 text-size changes and 20 contrast switches on the Settings screen."""
    for i in range(ROUNDS):
        size = SIZES[(i + 1) % len(SIZES)]     # Large, Larger, Normal, Large…: a change
        size_chip(b, size).click()
        size_chip(b, size, checked=True).wait_for(timeout=10_000)
        alive(b)
        switch = b.page.get_by_role("switch", name="High contrast").first
        before = switch.get_attribute("aria-checked")
        switch.click()
        b.page.wait_for_function(
            "([before]) => { const s = [...document.querySelectorAll('flt-semantics[role=switch]')]"
            "; return s.some(e => e.getAttribute('aria-checked') !== before); }",
            arg=[before], timeout=10_000)
        alive(b)
    size_chip(b, "Normal").click()
    size_chip(b, "Normal", checked=True).wait_for(timeout=10_000)


def churn_lesson(b: Browser) -> None:
    for i in range(ROUNDS):
        name = "Larger text" if i % 4 < 2 else "Smaller text"
        button = b.button(name).first
        if button.get_attribute("aria-disabled") == "true":
            name = "Smaller text" if name == "Larger text" else "Larger text"
            button = b.button(name).first
        button.click()
        b.text("Card 1 of 3")
        alive(b)


# NOT YET FIXED (issue 17, defect 1): this test reproduces the freeze — on the signed-out
# Settings screen, after some of the rapid text-size/contrast changes, the tab stops
# answering (even Playwright's own 5 s wait never returns). Turning off the theme
# animation and sending the theme only when it changed did not cure it. Kept as an
# expected failure (not strict) so it documents the defect; a hung tab costs the 300 s
# timeout, so it runs only on request (SHIFT_UI_STRESS=1), not in every `make test`.
@pytest.mark.skipif(os.environ.get("SHIFT_UI_STRESS") != "1",
                    reason="known freeze (issue 17 defect 1), up to 300 s per run: "
                           "run with SHIFT_UI_STRESS=1 to reproduce it")
@pytest.mark.xfail(reason="issue 17 defect 1: the tab can still freeze after rapid "
                          "text size / contrast changes (cause not found yet)", strict=False)
@pytest.mark.timeout(300)
@pytest.mark.parametrize("viewport", [(1280, 800), (360, 800)], ids=["1280x800", "360x800"])
def test_changing_text_size_and_contrast_never_hangs(server: AppServer,
                                                      viewport: tuple[int, int]) -> None:
    with chromium(viewport) as b:
        try:
            walk(b, server)
        except Exception:
            b.failure_shot()
            raise


def walk(b: Browser, server: AppServer) -> None:
    b.open(server.url)
    b.text("Who is learning?")
    b.tap("Settings")
    b.text("Text size")
    churn_settings(b)                     # signed out: the tablet default
    b.tap("Back")
    b.tap_card("Jonas Kazlauskas")
    for i, digit in enumerate(PIN, start=1):
        b.tap(digit)
        b.text(f"{i} digit")
    b.tap("Sign in")
    b.text("Hello, Jonas Kazlauskas")
    b.tap("Settings", role="tab", exact=False)
    b.text("Text size")
    churn_settings(b)                     # signed in: the learner's own
    b.tap("Courses", role="tab", exact=False)
    b.tap_card("Safety on the wing")
    b.tap("Start")
    b.text("Card 1 of 3")
    churn_lesson(b)
    # every screen still draws and answers after the churn
    b.tap("Next")
    b.text("Card 2 of 3")
    b.tap("Back")
    b.tap("Take the quiz")
    b.text("Question 1 of 3")
    b.tap("Back")
    b.tap("Back")
    for tab, text in (("Self-assessment", "Rate yourself"), ("My progress", "time spent reading"),
                      ("Settings", "Text size"), ("Courses", "My courses")):
        b.tap(tab, role="tab", exact=False)
        b.text(text)
        alive(b)
    assert b.blocked == []
