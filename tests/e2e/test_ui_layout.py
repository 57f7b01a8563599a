"""Issue 17: every screen at 360×800, 800×1280 and 1280×800, at normal and the largest
text, in English and Lithuanian: nothing clipped, cut off or broken inside a word, and
the primary action of a learning screen visible without scrolling
(tests/e2e/layout_check.py). Screenshots of every screen go to
test-artifacts/ui/layout/ (gitignored); the findings to test-artifacts/ui/layout/report.txt.

Real Chromium against the real app on 127.0.0.1, every other request blocked. Each
learner has her own display preferences (issue 17): four learners cover the four
combinations, the sign-in screens are checked with the tablet default.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app.core.application import TEXT_SCALE
from app.core.i18n import translator
from app.ui.theme import LABEL_SCALE_CAP
from tests.e2e.layout_check import action_visible, check_layout, font_floor
from tests.e2e.ui_harness import (
    ARTIFACTS,
    AppServer,
    Browser,
    chromium,
    install_fixture_packs,
    start_app,
)

pytestmark = pytest.mark.browser

#: The browser opens at the last size, so a screen's check ends where the walk goes on
#: (no resize back and no fourth wait for the layout per screen).
SIZES = [(360, 800), (1280, 800), (800, 1280)]
PIN = "2580"
OUT = ARTIFACTS / "layout"


@dataclass(frozen=True)
class Learner:
    name: str
    staff: str
    lang: str
    size: str


LEARNERS = [Learner("Jonas Kazlauskas", "LT-101", "en", "normal"),
            Learner("Aleksandra Kazlauskienė", "LT-102", "en", "larger"),
            Learner("Ona Petraitytė", "LT-103", "lt", "normal"),
            Learner("Rūta Žemaitytė-Jankauskienė", "LT-104", "lt", "larger")]

#: The fixture pack's quiz answers and ratings, by language (tests/e2e/fixtures/ui-demo).
QUIZ = {"en": ["Nothing: no rule was broken", "What you saw", "True"],
        "lt": ["Nieko: taisyklė nepažeista", "Ką matėte", translator("lt").gettext("True")]}
COURSE = {"en": "Safety on the wing", "lt": "Saugumas skyriuje"}
FIRST_LEVEL = {"en": "1 · With help", "lt": "1 · Su pagalba"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    from app.core.application.display import DisplayPrefs, with_learner_prefs
    from app.ui.main import open_device

    work = tmp_path_factory.mktemp("ui-layout")
    data = work / "device"
    install_fixture_packs(data, work)
    device = open_device(data)
    prefs: object = {}
    for learner in LEARNERS:
        pid = device.create_profile(learner.name, learner.staff, "prison_officer",
                                    learner.lang, PIN, PIN)
        prefs = with_learner_prefs(prefs, pid, DisplayPrefs(learner.size, False))
    device.set_setting("learner_display", prefs)
    device.close()
    srv = start_app(data, work / "app.log")
    yield srv
    srv.stop()


class Checker:
    def __init__(self, b: Browser, label: str, size: str) -> None:
        self.b = b
        self.label = label
        self.floor = font_floor(TEXT_SCALE[size], LABEL_SCALE_CAP)
        self.problems: list[str] = []

    def screen(self, name: str, action: str | None = None) -> None:
        """Check the current screen at every size; `action`: its primary button."""
        page = self.b.page
        for w, h in self.b.at_sizes(SIZES):
            where = f"{self.label} {name} {w}x{h}"
            page.screenshot(path=str(OUT / f"{self.label}-{name}-{w}x{h}.png"))
            self.problems += [f"{where}: {p}" for p in check_layout(page, self.floor)]
            if action is not None:
                missing = action_visible(page, action)
                if missing:
                    self.problems.append(f"{where}: {missing}")


def sign_in(b: Browser, learner: Learner) -> None:
    b.tap_card(learner.name)
    tr = translator("en")   # signed out: the tablet's language
    for i, digit in enumerate(PIN, start=1):
        b.tap(digit)
        b.text(tr.ngettext("{n} digit entered", "{n} digits entered", i).format(n=i))
    b.tap(tr.gettext("Sign in"))


def walk(b: Browser, learner: Learner, check: Checker) -> None:
    tr = translator(learner.lang)
    _ = tr.gettext
    b.text(_("Hello, {name}").format(name=learner.name))
    check.screen("home")
    b.tap_card(COURSE[learner.lang])
    b.text(_("Lessons"))
    check.screen("course")
    b.tap(_("Start"))
    b.text(_("Card {n} of {total}").format(n=1, total=3))
    check.screen("lesson", _("Next"))
    b.tap(_("Next"))
    b.text(_("Card {n} of {total}").format(n=2, total=3))
    check.screen("lesson-image", _("Next"))
    b.tap(_("Back"))
    b.text(_("Lessons"))
    b.tap(_("Take the quiz"))
    b.text(_("Question {n} of {total}").format(n=1, total=3))
    b.tap_card(QUIZ[learner.lang][0])
    check.screen("quiz", _("Check answer"))
    b.tap(_("Check answer"))
    b.text(_("Not quite"))
    check.screen("quiz-feedback", _("Next question"))
    for n, answer in ((2, QUIZ[learner.lang][1]), (3, QUIZ[learner.lang][2])):
        b.tap(_("Next question"))
        b.text(_("Question {n} of {total}").format(n=n, total=3))
        b.tap_card(answer)
        b.tap(_("Check answer"))
    b.tap(_("See results"))
    b.text(_("What to review"))
    check.screen("results", _("Try again"))
    b.tap(_("Back"))
    b.text(_("Lessons"))
    b.tap(_("Back"))
    b.text(_("My courses"))
    b.tap(_("Self-assessment"), role="tab", exact=False)
    check.screen("assess-list")
    b.tap(_("Start a new self-assessment"))
    for duty in (1, 2):
        b.text(_("Duty {n} of {total}").format(n=duty, total=2))
        check.screen(f"duty-{duty}", _("Next duty") if duty == 1 else _("Finish"))
        boxes = b.page.get_by_role("checkbox", name=FIRST_LEVEL[learner.lang])
        for i in range(boxes.count()):
            boxes.nth(i).click()
            b.page.get_by_role("checkbox", name=FIRST_LEVEL[learner.lang], checked=True) \
                .nth(i).wait_for()
        b.tap(_("Next duty") if duty == 1 else _("Finish"))
    b.text(_("Recommended courses"))
    check.screen("gap")
    b.tap(_("Back"))
    b.tap(_("My progress"), role="tab", exact=False)
    check.screen("progress")
    b.tap(_("Settings"), role="tab", exact=False)
    check.screen("settings")
    b.tap(_("Courses"), role="tab", exact=False)
    b.tap(_("Lock and switch learner"))
    b.text("Who is learning?")   # signed out: the tablet's language again


@pytest.mark.timeout(1800)   # ~150 screens × 3 sizes on a shared 2-core box: minutes
def test_every_screen_fits_at_every_size_text_size_and_language(server: AppServer) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    report = OUT / "report.txt"
    try:
        walk_all(server, problems)
    finally:
        report.write_text("\n".join(problems) + "\n", encoding="utf-8")
    assert not problems, f"{len(problems)} layout problems (see {report}):\n" + \
        "\n".join(problems[:40])


def walk_all(server: AppServer, problems: list[str]) -> None:
    with chromium(SIZES[-1]) as b:
        b.open(server.url)
        b.text("Who is learning?")
        signed_out = Checker(b, "tablet-en-normal", "normal")
        signed_out.problems = problems
        signed_out.screen("who")
        b.tap("New profile")
        b.text("Your profile stays on this tablet")
        signed_out.screen("new-profile")
        b.back(to="Who is learning?")
        b.tap_card(LEARNERS[0].name)
        b.text("Enter your PIN")
        signed_out.screen("pin", "Sign in")
        b.back(to="Who is learning?")
        for learner in LEARNERS:
            check = Checker(b, f"{learner.lang}-{learner.size}", learner.size)
            check.problems = problems    # collected as found (the report survives a stop)
            sign_in(b, learner)
            walk(b, learner, check)
        assert b.blocked == []
