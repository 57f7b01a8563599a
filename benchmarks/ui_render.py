"""UI render benchmark in real Chromium (offline, 127.0.0.1), 3 packs / 20 courses.

Figures:
  * goto → "Who is learning?" interactive, and PIN → home (20 course cards) rendered;
  * tap "Next" → next lesson card rendered (median of several taps).
Each is printed as a ratio to a baseline measured in the same run: a minimal Flet page
served the same way (goto → one button interactive; tap → text changed), i.e. the cost
of Flet + Flutter itself. Needs /usr/bin/chromium and playwright; finishes in < 2 min.

    python benchmarks/ui_render.py [--taps 10] [--loads 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    from tests.e2e.ui_harness import free_port

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


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--taps", type=int, default=10)
    ap.add_argument("--loads", type=int, default=3)
    args = ap.parse_args(argv)

    from app.core.application import Device
    from tests.e2e.ui_harness import chromium, install_fixture_packs, start_app
    from tests.support.optional import browser_status

    ok, why = browser_status()
    if not ok:
        print(f"ui_render: skipped ({why})")
        return 0
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "device"
        install_fixture_packs(data, work, make_packs(work))
        device = Device.open(data)
        device.create_profile("Bench Learner", "B-1", "prison_officer", "en", "2580",
                                    "2580")
        n_courses = len(device.content.catalog().courses)
        device.close()
        app = start_app(data, work / "app.log")
        base_proc, base_url = start_baseline(work)
        try:
            with chromium((800, 1280)) as b:
                base_load, base_tap, load, home, nxt = [], [], [], [], []
                for _ in range(args.loads):
                    base_load.append(timed(lambda: (b.open(base_url), b.button("Tap me")
                                                    .wait_for(timeout=30_000))))
                for i in range(1, args.taps + 1):
                    base_tap.append(timed(lambda i=i: (b.button("Tap me").click(),
                                                       b.text(f"count {i}", exact=True))))
                for _ in range(args.loads):
                    load.append(timed(lambda: (b.open(app.url),
                                               b.page.get_by_role("button", name="Bench",
                                                                  exact=False)
                                               .first.wait_for(timeout=30_000))))
                b.tap_card("Bench Learner")
                for digit in "2580":
                    b.tap(digit)
                    b.page.wait_for_timeout(150)
                home.append(timed(lambda: (b.tap("Sign in"), b.text("Safety 3.5"))))
                b.tap_card("Safety 1.0")
                b.tap("Start")
                b.text("Card 1 of 3")
                for i in range(args.taps):
                    card = i % 3 + 1  # 1 → 2 → 3 → (finish) outline … restart
                    if card == 3:
                        b.tap("Finish lesson")
                        b.text("Lessons")
                        b.page.get_by_role("button", name="1. Noticing change",
                                           exact=False).first.click()
                        b.text("Card 1 of 3")
                        continue
                    nxt.append(timed(lambda c=card: (b.tap("Next"),
                                                     b.text(f"Card {c + 1} of 3"))))
                assert not b.blocked, b.blocked
        finally:
            app.stop()
            base_proc.terminate()
            base_proc.wait(timeout=10)

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    print(f"ui_render: {n_courses} courses in 3 packs, Chromium, offline (127.0.0.1)")
    print(f"  baseline goto→interactive (minimal Flet page): {med(base_load) * 1000:7.0f} ms")
    print(f"  baseline tap→update (minimal Flet page):       {med(base_tap) * 1000:7.0f} ms")
    print(f"  goto → 'Who is learning?' interactive:  {med(load) * 1000:7.0f} ms "
          f"= {med(load) / med(base_load):.2f}× baseline")
    print(f"  PIN → home with {n_courses} courses rendered:    {med(home) * 1000:7.0f} ms "
          f"= {med(home) / med(base_tap):.2f}× baseline tap")
    print(f"  tap Next → next card rendered (n={len(nxt)}):   {med(nxt) * 1000:7.0f} ms "
          f"= {med(nxt) / med(base_tap):.2f}× baseline tap")
    print(f"  (total {time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
