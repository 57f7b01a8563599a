"""UI render benchmark in real Chromium (offline, 127.0.0.1), 3 packs / 20 courses.

Three paths: goto → "Who is learning?" sign-in screen; PIN → home (20 course cards);
tap "Next" → next lesson card (median of several taps). Each is measured three ways
(docs/benchmarks.md "UI tap→screen (issue 17)"):
  * **semantics (Playwright)**: wall-clock time until Playwright sees the new text in
    Flutter's semantics (accessibility) DOM — what the e2e tests wait for; includes
    Playwright's own polling and round trips;
  * **input → text (trace)**: trace time from the input (the tap's pointer-down, or the
    start of the navigation) to the moment a MutationObserver in the page saw the text
    enter the semantics DOM;
  * **pixels settled (trace)**: trace time from the input to the last frame the display
    compositor presented before the screen stayed still for ``--quiet-ms`` (searched
    from the text's arrival on; benchmarks/frame_trace.py). Includes what the user sees
    move after a tap: the button's ink ripple (~0.4 s), a page transition.
Each is printed as a ratio to a baseline measured the same way in the same run: a
minimal Flet page served by Flet itself (goto → one button; tap → text changed), i.e.
the cost of Flet + Flutter.

Why pixels: Flet serves its pages cross-origin isolated, so Flutter's skwasm renders
*multi-threaded* (raster in a worker, after the semantics update); the app drops COEP
(issue 17's frozen tab) and renders *single-threaded* (raster on the main thread,
before the semantics update). Semantics time therefore counts raster for the app but
not for the baseline or an isolated build; the pixels figure counts it for all. Tracing
costs the page some time: ``--no-pixels`` gives the semantics figure without it.

``--app-root PATH`` drives another checkout's app (its ``app`` package, its e2e harness
and fixture pack) with this measuring code, e.g. an older commit for a before/after.
Needs /usr/bin/chromium and playwright; about 1–2 min.

    python benchmarks/ui_render.py [--taps 10] [--loads 3] [--app-root PATH]
                                   [--quiet-ms 250] [--tail-ms 1000]
                                   [--keep-traces DIR] [--no-pixels]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from frame_trace import CATEGORIES, Timing, TraceError, load_events, read_timing, watch_script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COURSES_PER_PACK = (7, 7, 6)


def make_packs(work: Path) -> list[Path]:
    """Three pack sources made from the ui-demo fixture: 20 courses in all."""
    from tests.e2e.ui_harness import FIXTURE_PACK

    sources = []
    for n, count in enumerate(COURSES_PER_PACK, start=1):
        src = work / f"bench-{n}"
        shutil.copytree(FIXTURE_PACK, src)
        ids = [f"safety-{i}" for i in range(count)]
        for cid in ids:
            shutil.copytree(src / "courses" / "safety", src / "courses" / cid)
            toml = src / "courses" / cid / "course.toml"
            toml.write_text(toml.read_text(encoding="utf-8").replace(
                'en = "Safety on the wing"', f'en = "Safety {n}.{cid[7:]}"'), encoding="utf-8")
        shutil.rmtree(src / "courses" / "safety")
        shutil.rmtree(src / "courses" / "reports")
        pack = (src / "pack.toml").read_text(encoding="utf-8")
        pack = pack.replace('id = "ui-demo"', f'id = "bench-{n}"')
        pack = pack.replace('courses = ["safety", "reports"]', f"courses = {ids!r}".replace(
            "'", '"'))
        (src / "pack.toml").write_text(pack, encoding="utf-8")
        sources.append(src)
    return sources


BASELINE_APP = """
import sys, flet as ft, flet_web.fastapi as ff, uvicorn
def main(page):
    out = ft.Text("count 0")
    n = [0]
    def tap(e):
        n[0] += 1
        out.value = f"count {n[0]}"
        page.update()
    page.add(ft.Button("Tap me", on_click=tap), out)
app = ff.FastAPI()
app.mount("/", ff.app(main, assets_dir=sys.argv[2], no_cdn=True))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            ws="websockets-sansio")
"""


def start_baseline(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    from tests.support.server import free_port

    port = free_port()
    script = work / "baseline_app.py"
    script.write_text(BASELINE_APP, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(port), str(ROOT / "app" / "assets")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    import urllib.request
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return proc, url


START_MARK = "ui-bench-input"
END_MARK = "ui-bench-end"


@dataclass
class Samples:
    """One path's figures (s): semantics as Playwright saw it (wall clock), and from the
    trace: input → text in the semantics DOM, input → pixels settled. ``unsettled``
    counts traces whose frames had not gone quiet by the trace's end."""

    semantics: list[float] = field(default_factory=list)
    text: list[float] = field(default_factory=list)
    pixels: list[float] = field(default_factory=list)
    unsettled: int = 0


@dataclass
class Meter:
    """Measures one navigation both ways: Playwright's wait for the new text (the
    semantics figure) and, inside a Chromium trace, input → settled frame."""

    page: Any
    pixels: bool
    quiet_ms: float
    tail_ms: float
    keep: Path | None = None
    kept: int = 0

    def _mark(self, name: str) -> None:
        self.page.evaluate(f"() => performance.mark({name!r})")

    def measure(self, into: Samples, act: Callable[[], object], seen: Callable[[], object],
                text: str, tap: bool) -> None:
        """``act`` makes the input, ``seen`` waits (Playwright) for the new screen whose
        semantics contain ``text``; ``tap``: the input is a pointer tap (else a
        navigation, whose page watches for ``text`` by the init script)."""
        browser = self.page.context.browser
        if not self.pixels:
            start = time.perf_counter()
            act()
            seen()
            into.semantics.append(time.perf_counter() - start)
            return
        if tap:
            self.page.evaluate("t => window.__uiBenchWatch(t)", text)
        browser.start_tracing(page=self.page, categories=CATEGORIES)
        try:
            self._mark(START_MARK)
            start = time.perf_counter()
            act()
            seen()
            into.semantics.append(time.perf_counter() - start)
            # The trace must go on long enough to hold the quiet gap after the last
            # frame. This wait sets the trace window; it synchronises nothing (the
            # settled criterion is read in trace time, and a trace that ends before the
            # frames went quiet counts as "unsettled", not as a figure).
            self.page.wait_for_timeout(self.tail_ms)
            self._mark(END_MARK)
        finally:
            raw = browser.stop_tracing()
        if self.keep is not None:
            self.kept += 1
            self.keep.mkdir(parents=True, exist_ok=True)
            (self.keep / f"trace-{self.kept:03d}.json").write_bytes(raw)
        timing: Timing = read_timing(load_events(raw), START_MARK, text, END_MARK,
                                     self.quiet_ms, from_input=tap)
        into.text.append(timing.text_ms / 1000)
        if timing.settled_ms is None:
            into.unsettled += 1
        else:
            into.pixels.append(timing.settled_ms / 1000)


@dataclass
class Results:
    n_courses: int
    isolated: dict[str, bool]
    base_load: Samples = field(default_factory=Samples)
    base_tap: Samples = field(default_factory=Samples)
    load: Samples = field(default_factory=Samples)
    home: Samples = field(default_factory=Samples)
    nxt: Samples = field(default_factory=Samples)


def sign_in(b: Any, meter: Meter, into: Samples) -> None:
    b.tap_card("Bench Learner")
    for digit in "2580":
        b.tap(digit)
        b.page.wait_for_timeout(150)
    meter.measure(into, lambda: b.tap("Sign in"), lambda: b.text("Safety 3.5"), "Safety 3.5",
                  tap=True)


def walk_cards(b: Any, meter: Meter, into: Samples, taps: int) -> None:
    b.tap_card("Safety 1.0")
    b.tap("Start")
    b.text("Card 1 of 3")
    for i in range(taps):
        card = i % 3 + 1  # 1 → 2 → 3 → (finish) outline … restart
        if card == 3:
            b.tap("Finish lesson")
            b.text("Lessons")
            b.page.get_by_role("button", name="1. Noticing change",
                               exact=False).first.click()
            b.text("Card 1 of 3")
            continue
        want = f"Card {card + 1} of 3"
        meter.measure(into, lambda: b.tap("Next"), partial(b.text, want), want, tap=True)


def run(args: argparse.Namespace) -> Results:
    from app.core.application import Device
    from tests.e2e.ui_harness import chromium, install_fixture_packs, start_app

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "device"
        install_fixture_packs(data, work, make_packs(work))
        device = Device.open(data)
        device.create_profile("Bench Learner", "B-1", "prison_officer", "en", "2580", "2580")
        n_courses = len(device.content.catalog().courses)
        device.close()
        app = start_app(data, work / "app.log")
        base_proc, base_url = start_baseline(work)
        try:
            with chromium((800, 1280)) as b:
                if not args.no_pixels:
                    b.page.context.add_init_script(watch_script(["Tap me", "Bench"]))
                meter = Meter(b.page, not args.no_pixels, args.quiet_ms,
                              args.quiet_ms + args.tail_ms, args.keep_traces)
                res = Results(n_courses, {})
                for _ in range(args.loads):
                    meter.measure(res.base_load, lambda: b.open(base_url),
                                  lambda: b.button("Tap me").wait_for(timeout=30_000),
                                  "Tap me", tap=False)
                res.isolated["baseline"] = bool(b.page.evaluate("crossOriginIsolated"))
                for i in range(1, args.taps + 1):
                    meter.measure(res.base_tap, lambda: b.button("Tap me").click(),
                                  partial(b.text, f"count {i}", exact=True), f"count {i}",
                                  tap=True)
                for k in range(args.loads):
                    meter.measure(res.load, lambda: b.open(app.url),
                                  lambda: b.page.get_by_role("button", name="Bench",
                                                             exact=False)
                                  .first.wait_for(timeout=30_000), "Bench", tap=False)
                    res.isolated["app"] = bool(b.page.evaluate("crossOriginIsolated"))
                    sign_in(b, meter, res.home)
                    if k < args.loads - 1:  # the app keeps a session over a reload
                        b.tap("Lock and switch learner")
                        b.page.get_by_role("button", name="Bench", exact=False).first \
                            .wait_for(timeout=15_000)
                walk_cards(b, meter, res.nxt, args.taps)
                assert not b.blocked, b.blocked
        finally:
            app.stop()
            base_proc.terminate()
            base_proc.wait(timeout=10)
    return res


def report(res: Results, args: argparse.Namespace, seconds: float) -> None:
    def med(xs: list[float]) -> float:
        return statistics.median(xs) if xs else float("nan")

    def cell(xs: list[float], base: list[float]) -> str:
        return f"{med(xs) * 1000:6.0f} ms {med(xs) / med(base):5.2f}×"

    def line(what: str, s: Samples, base: Samples) -> None:
        out = f"  {what:30s} {cell(s.semantics, base.semantics)}"
        if not args.no_pixels:
            out += f" | {cell(s.text, base.text)} | {cell(s.pixels, base.pixels)}"
            if s.unsettled:
                out += f" ({s.unsettled} unsettled)"
        print(out + f"  n={len(s.semantics)}")

    print(f"ui_render: {res.n_courses} courses in 3 packs, Chromium, offline (127.0.0.1); "
          f"app from {args.app_root}")
    print(f"  cross-origin isolated (multi-threaded skwasm): baseline "
          f"{res.isolated.get('baseline')}, app {res.isolated.get('app')}")
    head = f"  {'path (median; ratio to baseline)':30s} {'semantics (Playwright)':>18s}"
    if not args.no_pixels:
        head += f" | {'input→text (trace)':>18s} | {'pixels settled':>18s}"
        print(f"  pixels settled = input → last presented frame before "
              f"{args.quiet_ms:.0f} ms of trace time without a frame")
    print(head)
    line("baseline goto → interactive", res.base_load, res.base_load)
    line("baseline tap → update", res.base_tap, res.base_tap)
    line("goto → 'Who is learning?'", res.load, res.base_load)
    line(f"PIN → home ({res.n_courses} courses)", res.home, res.base_tap)
    line("tap Next → next card", res.nxt, res.base_tap)
    print(f"  (ratios: goto to the baseline goto, taps to the baseline tap; "
          f"total {seconds:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--taps", type=int, default=10)
    ap.add_argument("--loads", type=int, default=3)
    ap.add_argument("--app-root", type=Path, default=ROOT,
                    help="checkout whose app (and tests/e2e harness) is measured")
    ap.add_argument("--quiet-ms", type=float, default=250.0,
                    help="trace time without a frame that counts as 'settled'")
    ap.add_argument("--tail-ms", type=float, default=1000.0,
                    help="trace kept running this long (+ quiet) after the text is seen")
    ap.add_argument("--keep-traces", type=Path, default=None, metavar="DIR",
                    help="save every trace (JSON, for chrome://tracing or Perfetto) in DIR")
    ap.add_argument("--no-pixels", action="store_true",
                    help="semantics figures only, without tracing (as before issue 17)")
    args = ap.parse_args(argv)
    args.app_root = args.app_root.resolve()
    sys.path.insert(0, str(args.app_root))

    from tests.support.optional import browser_status

    ok, why = browser_status()
    if not ok:
        print(f"ui_render: skipped ({why})")
        return 0
    t0 = time.monotonic()
    try:
        res = run(args)
    except TraceError as exc:
        print(f"ui_render: could not read the trace: {exc}", file=sys.stderr)
        return 1
    report(res, args, time.monotonic() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
