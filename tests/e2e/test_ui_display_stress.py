"""Issue 17, defect 1: the tab "froze" after rapid text-size / contrast changes.

Two causes (docs/app.md, "Rapid taps and the frozen tab"): Flutter's multi-threaded
skwasm renderer deadlocked (main thread spinning, render worker waiting) — the app's
pages are no longer cross-origin isolated, so skwasm renders single-threaded; and a quick second tap named a control id that the previous drawing had
replaced, so Flet dropped it — the shell now keys each screen's parts, so two drawings of
one screen are reconciled and controls keep their ids.

Text size and contrast are changed 20 times in a row on every screen that offers them
(signed-out Settings, the learner's Settings, the lesson's A−/A+), then every screen is
visited. Each change waits for the events themselves, never for a fixed time:

* the server's answer: a patch carrying the new theme arrives on the page's WebSocket
  (a dropped tap gets no answer, so it fails here within 10 s);
* the new text size is really drawn: the "Text size" label takes the height measured
  for that size in the first round, once the theme's animation was over
  (Normal < Large < Larger);
* the tab still draws: an animation frame runs (5 s). A spinning renderer answers no
  Playwright wait, not even its timeout: pytest-timeout (300 s) ends the test then.

The taps are touches, as on the shared tablets (`chromium(touch=True)`): with mouse
clicks, 5 of 41 walks lost a tap to the hovered target's tooltip (docs/app.md, "Rapid
taps and the frozen tab", point 3).

The default run (360×800, the narrowest layout) takes about a minute. SHIFT_UI_STRESS=1
adds 1280×800 and 800×1280 (about a minute more each).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from tests.e2e.ui_harness import AppServer, Browser, chromium, install_fixture_packs, start_app

pytestmark = pytest.mark.browser

ROUNDS = 20
PIN = "2580"
SIZES = ("Normal", "Large", "Larger")
ANSWER_MS = 10_000
VIEWPORTS = [(360, 800)] + ([(1280, 800), (800, 1280)]
                            if os.environ.get("SHIFT_UI_STRESS") == "1" else [])


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """A fresh tablet for each walk: a walk starts the course and changes the tablet's
    display settings, and the next viewport's walk expects neither."""
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


def carries_theme(payload: bytes | str) -> bool:
    """A patch from the app server that sets the page theme (Flet's msgpack frames)."""
    return b"theme" in (payload if isinstance(payload, bytes) else payload.encode())


#: The "Text size" label's semantics node: the box Flutter gives the text as laid out.
#: Not the `<span>` inside it, which `get_by_text` finds: Flutter scales that span to the
#: box from the span's own DOM font, so its height also depends on the fonts the machine
#: has (Chromium 150 on a fresh Debian: 22.2 px in a 21 px box).
LABEL_JS = """[...document.querySelectorAll('flt-semantics')].filter(e =>
  e.textContent === 'Text size').map(e => e.getBoundingClientRect().height)"""
#: Is the "Text size" label (not) drawn at height h (± 0.5 px)?
HEIGHT_JS = f"([h, equal]) => {LABEL_JS}.some(v => (Math.abs(v - h) < 0.5) === equal)"
#: The label's height once it has left height h and then kept one value for `frames`
#: animation frames in a row (false until then). A theme change is animated (Flutter's
#: AnimatedTheme lerps the text styles over ≈ 200 ms): the first height that differs
#: from the old one can be one of the animation's, which a later round, its frames
#: falling elsewhere on a loaded machine, need not draw again (CI: "Large" waited 10 s
#: for a height the settled label never had).
SETTLED_JS = f"""([h, frames]) => {{
  const v = {LABEL_JS};
  const s = window.__labelSettle || (window.__labelSettle = {{last: null, run: 0}});
  if (!v.length || Math.abs(v[0] - h) < 0.5) {{ s.last = null; s.run = 0; return false; }}
  if (s.last === v[0]) {{ s.run += 1; }} else {{ s.last = v[0]; s.run = 0; }}
  return s.run >= frames ? v[0] : false;
}}"""
#: animation frames the label must keep one height to count as drawn (≈ 0.2 s at 60 Hz:
#: the theme animation's length)
SETTLED_FRAMES = 12


class Stress:
    """The page, its WebSocket to the app server, and the label heights per text size."""

    def __init__(self, b: Browser) -> None:
        self.b = b
        self.sockets: list[Any] = []
        self.heights: dict[str, float] = {}
        b.page.on("websocket", lambda ws: self.sockets.append(ws))

    def alive(self) -> None:
        """The tab still draws: an animation frame runs (a hung renderer fails in 5 s)."""
        self.b.page.wait_for_function(
            "() => document.querySelectorAll('flt-semantics').length > 0",
            polling="raf", timeout=5_000)

    def answered(self, tap: Callable[[], None]) -> None:
        """Tap, then wait for the server's patch with the new theme on the WebSocket."""
        ws = self.sockets[-1]
        with ws.expect_event("framereceived", predicate=carries_theme, timeout=ANSWER_MS):
            tap()
        self.alive()

    def label_height(self) -> float:
        heights = self.b.page.evaluate(f"() => {LABEL_JS}")
        assert heights, "no 'Text size' label on the page"
        return float(heights[0])

    def drawn_at(self, size: str, before: str) -> None:
        """The "Text size" label is drawn at the height of `size`. The first time, that
        height is unknown: wait until the label's height has left the height of the size
        `before` (the new theme is laid out, not just received) and stopped changing
        (the theme's animation is over: SETTLED_JS), then note it."""
        wait = self.b.page.wait_for_function
        if size not in self.heights:
            self.b.page.evaluate("() => { window.__labelSettle = null; }")
            settled = wait(SETTLED_JS, arg=[self.heights[before], SETTLED_FRAMES],
                           polling="raf", timeout=ANSWER_MS)
            self.heights[size] = float(settled.json_value())
        else:
            wait(HEIGHT_JS, arg=[self.heights[size], True], timeout=ANSWER_MS)

    def churn_settings(self) -> None:
        """20 text-size changes and 20 contrast switches on the Settings screen."""
        page = self.b.page
        current = self.current_size()
        self.heights.setdefault(current, self.label_height())
        for _round in range(ROUNDS):
            size = SIZES[(SIZES.index(current) + 1) % len(SIZES)]   # always a change
            chip = page.get_by_role("checkbox", name=size, exact=True).first
            self.answered(partial(self.b.press, chip))
            self.drawn_at(size, before=current)
            current = size
            self.answered(partial(self.b.press,
                                 page.get_by_role("switch", name="High contrast").first))
        assert self.heights["Normal"] < self.heights["Large"] < self.heights["Larger"]
        if current != "Normal":
            self.answered(partial(self.b.press,
                                  page.get_by_role("checkbox", name="Normal", exact=True).first))
            self.drawn_at("Normal", before=current)

    def current_size(self) -> str:
        """The text size the Settings screen shows selected (drawn: the page is settled)."""
        for size in SIZES:
            if self.b.page.get_by_role("checkbox", name=size, exact=True,
                                       checked=True).count():
                return size
        raise AssertionError("no text size selected")

    def churn_lesson(self) -> None:
        b = self.b
        for i in range(ROUNDS):
            name = "Larger text" if i % 4 < 2 else "Smaller text"
            if b.button(name).first.get_attribute("aria-disabled") == "true":
                name = "Smaller text" if name == "Larger text" else "Larger text"
            self.answered(partial(b.press, b.button(name).first))
            b.text("Card 1 of 3")


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_changing_text_size_and_contrast_never_hangs(server: AppServer,
                                                      viewport: tuple[int, int]) -> None:
    with chromium(viewport, touch=True) as b, b.shot_on_failure():
        walk(Stress(b), server)


def walk(st: Stress, server: AppServer) -> None:
    b = st.b
    b.open(server.url)
    b.text("Who is learning?")
    b.tap("Settings")
    b.text("Text size")
    st.churn_settings()                   # signed out: the tablet default
    b.back(to="Who is learning?")
    b.tap_card("Jonas Kazlauskas")
    for i, digit in enumerate(PIN, start=1):
        b.tap(digit)
        b.text(f"{i} digit")
    b.tap("Sign in")
    b.text("Hello, Jonas Kazlauskas")
    b.tap("Settings", role="tab", exact=False)
    b.text("Text size")
    st.churn_settings()                   # signed in: the learner's own
    b.tap("Courses", role="tab", exact=False)
    b.tap_card("Safety on the wing")
    b.tap("Start")
    b.text("Card 1 of 3")
    st.churn_lesson()
    # every screen still draws and answers after the churn
    b.tap("Next")
    b.text("Card 2 of 3")
    b.back(to="Lessons")                  # the course's screen
    b.tap("Take the quiz")
    b.text("Question 1 of 3")
    b.back(to="Lessons")
    b.back(to="My courses")
    for tab, text in (("Self-assessment", "Rate yourself"), ("My progress", "time spent reading"),
                      ("Settings", "Text size"), ("Courses", "My courses")):
        b.tap(tab, role="tab", exact=False)
        b.text(text)
        st.alive()
    assert b.blocked == []
