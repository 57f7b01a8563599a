"""Before/after screenshots of issue 17 (a shift-proof tablet) in real Chromium.

    python tools/ui_before_after.py [--before bad600f] [--out test-artifacts/ui/before-after]

The same tour is taken twice: against the app as it was at ``--before`` (exported with
``git archive`` into a temporary folder and served from there) and against this working
tree. Both serve the ui-demo fixture pack (tests/e2e/fixtures/ui-demo) to a Lithuanian
learner, Rūta Žemaitytė-Jankauskienė, at the largest text size (the tablet default and,
where the app has it, her own preference), fully offline on 127.0.0.1. Every screen of
the tour is shot at 360×800, 800×1280 and 1280×800:

    <out>/before/<screen>-<w>x<h>.png, <out>/after/<screen>-<w>x<h>.png,
    <out>/index.html (the pairs side by side, with the defect each screen shows)

A step the old app cannot take (a button it did not have) is listed in
``<out>/<side>/missing.txt`` and the tour goes on. test-artifacts/ is not committed
(.gitignore); docs/app.md lists what the pairs show.
"""

from __future__ import annotations

import argparse
import html
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = [(360, 800), (800, 1280), (1280, 800)]
PIN = "2580"
LEARNER = "Rūta Žemaitytė-Jankauskienė"

#: screen → the defects of issue 17 it shows (numbers of the issue's list).
SCREENS: dict[str, str] = {
    "who": "5: names at the largest text break inside a word",
    "pin": "6: the PIN hint cut at 360 px; 4: the keypad",
    "home": "3: opens at its top; 8: the Lithuanian sync badge; 10: ring % follows text size",
    "course": "9: the question count agrees with the quiz",
    "lesson": "7: Next in the fixed action bar, visible without scrolling",
    "lesson-image": "11: the diagram opens full screen (Tap to enlarge)",
    "quiz": "7: Check answer visible without scrolling",
    "results": "3: results open at the top (score visible)",
    "duty": "6: rating labels wrap instead of being cut",
    "progress": "10: small text follows the text size",
    "settings": "10: the contrast switch row is 48 px; 8: sync text in Lithuanian",
}

PREPARE = f"""
import sys
from pathlib import Path
sys.path.insert(0, '.')
from tests.e2e.ui_harness import install_fixture_packs
from app.ui.main import open_device
data, work = Path(sys.argv[1]), Path(sys.argv[2])
install_fixture_packs(data, work)
device = open_device(data)
pid = device.create_profile({LEARNER!r}, 'LT-104', 'prison_officer', 'lt', {PIN!r}, {PIN!r})
device.set_setting('text_size', 'larger')
try:
    from app.core.application.display import DisplayPrefs, with_learner_prefs
    device.set_setting('learner_display', with_learner_prefs({{}}, pid, DisplayPrefs('larger', False)))
except ImportError:
    pass   # before issue 17: text size belonged to the tablet
device.close()
"""


def serve(root: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Prepare a device folder with `root`'s own code and serve it from `root`."""
    from tests.support.server import free_port

    data = work / "device"
    subprocess.run([sys.executable, "-c", PREPARE, str(data), str(work)], cwd=root,
                   check=True)
    port = free_port()
    log = (work / "app.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "app", "--data-dir", str(data),
                             "--host", "127.0.0.1", "--port", str(port)],
                            cwd=root, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(150):
        try:
            with urllib.request.urlopen(url, timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"app at {root} did not start")


#: Two animation frames: the canvas is painted at the new size (the semantics tree can
#: settle before the first paint after a resize: a blank shot).
PAINTED = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


class Tour:
    def __init__(self, b: Any, out: Path) -> None:
        self.b = b
        self.out = out
        self.missing: list[str] = []

    def shoot(self, screen: str) -> None:
        from tests.e2e.layout_check import settle

        page = self.b.page
        for w, h in SIZES:
            page.set_viewport_size({"width": w, "height": h})
            settle(page)
            page.evaluate(PAINTED)
            page.screenshot(path=str(self.out / f"{screen}-{w}x{h}.png"))
        page.set_viewport_size({"width": 800, "height": 1280})
        settle(page)

    def step(self, what: str, fn: Callable[[], object]) -> bool:
        try:
            fn()
            return True
        except Exception as exc:   # the old app may lack the control: note it, go on
            self.missing.append(f"{what}: {type(exc).__name__}")
            return False


def tab(b: Any, name: str) -> None:
    """A bottom navigation destination (a tab; the old app's bar had no tab role)."""
    try:
        b.tap(name, role="tab", exact=False, timeout=5_000)
    except Exception:
        b.page.get_by_text(name, exact=True).last.click(timeout=5_000)


def tour(b: Any, url: str, out: Path) -> list[str]:
    from app.core.i18n import translator

    _ = translator("lt").gettext
    en = translator("en")
    t = Tour(b, out)
    b.open(url)
    b.text("Who is learning?")
    t.shoot("who")
    b.tap_card(LEARNER)
    t.step("PIN screen", lambda: b.text(en.gettext("Enter your PIN"), timeout=8_000))
    t.shoot("pin")
    for i, digit in enumerate(PIN, start=1):
        b.tap(digit)
        entered = en.ngettext("{n} digit entered", "{n} digits entered", i).format(n=i)
        t.step(f"digit {i}", partial(b.text, entered, timeout=5_000))
    b.tap(en.gettext("Sign in"))
    b.text(_("Hello, {name}").format(name=LEARNER))
    t.shoot("home")
    course = "Saugumas skyriuje"
    if t.step("course card", lambda: b.tap_card(course)):
        b.text(_("Lessons"))
        t.shoot("course")
        b.tap(_("Start"))
        b.text(_("Card {n} of {total}").format(n=1, total=3))
        t.shoot("lesson")
        b.tap(_("Next"))
        b.text(_("Card {n} of {total}").format(n=2, total=3))
        t.shoot("lesson-image")
        b.tap(_("Back"))
        b.text(_("Lessons"))
        if t.step("quiz", lambda: b.tap(_("Take the quiz"), timeout=8_000)):
            b.text(_("Question {n} of {total}").format(n=1, total=3))
            t.shoot("quiz")
            answers = ["Nieko: taisyklė nepažeista", "Ką matėte", _("True")]
            for n, answer in enumerate(answers, start=1):
                b.text(_("Question {n} of {total}").format(n=n, total=3))
                b.tap_card(answer)
                b.tap(_("Check answer"))
                if n < 3:
                    b.tap(_("Next question"))
            def results() -> None:
                b.tap(_("See results"))
                b.text(_("What to review"), timeout=8_000)
            t.step("results", results)
            t.shoot("results")
            b.tap(_("Back"))
        b.tap(_("Back"))
    def duty() -> None:
        tab(b, _("Self-assessment"))
        b.tap(_("Start a new self-assessment"))
        b.text(_("Duty {n} of {total}").format(n=1, total=2))

    def settings() -> None:
        tab(b, _("Settings"))
        b.text(_("Text size"))
    if t.step("self-assessment", duty):
        t.shoot("duty")
        t.step("back from the duty", partial(b.tap, _("Back")))
    if t.step("progress", partial(tab, b, _("My progress"))):
        t.shoot("progress")
    if t.step("settings", settings):
        t.shoot("settings")
    return t.missing


def index_page(out: Path, before: str) -> str:
    rows = []
    for screen, defects in SCREENS.items():
        for w, h in SIZES:
            name = f"{screen}-{w}x{h}.png"
            cells = "".join(
                f'<td><img src="{side}/{name}" width="{min(w, 400)}" alt="{side} {name}"></td>'
                if (out / side / name).exists() else "<td>(not reached)</td>"
                for side in ("before", "after"))
            rows.append(f"<tr><th>{html.escape(screen)} {w}×{h}<br><small>"
                        f"{html.escape(defects)}</small></th>{cells}</tr>")
    return ("<!doctype html><meta charset=utf-8><title>Issue 17 before/after</title>"
            f"<h1>Issue 17: before ({html.escape(before)}) / after</h1>"
            "<p>Lithuanian learner, largest text, offline Chromium.</p>"
            "<table border=1><tr><th>screen</th><th>before</th><th>after</th></tr>"
            + "".join(rows) + "</table>")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="bad600f")
    ap.add_argument("--out", default=str(ROOT / "test-artifacts" / "ui" / "before-after"))
    args = ap.parse_args(argv)
    from tests.e2e.ui_harness import chromium

    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before-tree"
        old.mkdir()
        archive = subprocess.run(["git", "archive", args.before], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        for side, root in (("before", old), ("after", ROOT)):
            work = Path(tmp) / side
            work.mkdir()
            shots = out / side
            shots.mkdir(parents=True, exist_ok=True)
            proc, url = serve(root, work)
            try:
                with chromium((800, 1280)) as b:
                    missing = tour(b, url, shots)
                    assert not b.blocked, b.blocked
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            (shots / "missing.txt").write_text("\n".join(missing) + "\n", encoding="utf-8")
            print(f"{side}: {len(list(shots.glob('*.png')))} screenshots, "
                  f"{len(missing)} steps not reached")
    (out / "index.html").write_text(index_page(out, args.before), encoding="utf-8")
    print(f"index: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
