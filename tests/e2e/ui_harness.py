"""Helpers of the browser tests: a real app server on 127.0.0.1 and a Chromium page in
which every non-loopback request is blocked (and recorded, so tests can prove none was
needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.layout_check import settle
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_PACK = ROOT / "tests" / "e2e" / "fixtures" / "ui-demo"
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-default-apps", "--disable-sync",
                 "--no-first-run", "--disable-features=Translate,OptimizationHints,"
                 "MediaRouter,DialMediaRouteProvider"]
LOCAL_PREFIXES = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")


def install_fixture_packs(data_dir: Path, work: Path, sources: list[Path] | None = None) -> None:
    """Build the given pack sources with a throw-away key and install them (trusted)."""
    from app.core.packs import TrustedKeys, build_pack, generate_keypair, install_pack

    priv, pub = generate_keypair()
    for src in sources or [FIXTURE_PACK]:
        pack = build_pack(src, priv, work / "packs-out")
        install_pack(pack, data_dir, TrustedKeys([pub]))


@dataclass
class AppServer:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_app(data_dir: Path, log: Path, env: dict[str, str] | None = None) -> AppServer:
    port = free_port()
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "app", "--data-dir", str(data_dir),
                                 "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=full_env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app server exited: {log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return AppServer(url, proc, log)
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"app server did not start: {log.read_text(errors='replace')}")


#: The field's editing element holds the focus and Flutter's text input has taken it
#: over. Focus alone is not enough: a key typed between the focus and the take-over is
#: lost (the take-over writes Flutter's own, empty value into the element — measured:
#: "na Petraitytė", "580"). The take-over applies the field's input configuration in
#: the same task, turning the semantics element's `autocorrect="off"` to "on" (Flet
#: text fields keep autocorrect on), so that attribute is the event to wait for.
#: `window.__typeFrom`: the element focused before the tap.
EDITING_JS = """() => {
  const e = document.activeElement;
  return !!e && e !== window.__typeFrom && (e.tagName === 'INPUT' || e.tagName === 'TEXTAREA')
    && e.getAttribute('autocorrect') === 'on';
}"""
#: … and holds every typed key (the keys' input events have reached Flutter)
TYPED_JS = """(text) => {
  const e = document.activeElement;
  return !!e && typeof e.value === 'string' && e.value.endsWith(text);
}"""


@dataclass
class Browser:
    page: Any
    #: taps are touches (`chromium(touch=True)`): no mouse, so no hover and no tooltip
    touch: bool = False
    blocked: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    # -- navigation --------------------------------------------------------------
    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector("flt-semantics-placeholder", state="attached",
                                    timeout=30_000)
        # Turn on Flutter's accessibility tree (the placeholder is 1x1 px off-screen).
        self.page.locator("flt-semantics-placeholder").dispatch_event("click")

    def button(self, name: str, exact: bool = True) -> Any:
        return self.page.get_by_role("button", name=name, exact=exact)

    def tap(self, name: str, role: str = "button", exact: bool = True,
            timeout: float = 15_000) -> None:
        loc = self.page.get_by_role(role, name=name, exact=exact).first
        with self.shot_on_failure():
            loc.wait_for(timeout=timeout)
            self.press(loc, timeout=timeout)
            if role == "tab":
                self._until_selected(loc, name, exact, timeout)

    def back(self, to: str) -> None:
        """Tap Back, then wait for the screen it leads to: `to` on it, and the screen done
        changing. The new screen's text is in the page ≈ 0.09 s after the tap, but the
        screen goes on changing until ≈ 0.9 s (measured), and a tap sent in that window
        can be lost — so the next step starts only once the screen has settled."""
        self.tap("Back")
        self.text(to)
        with self.shot_on_failure():   # a screen that never settles: show what it was doing
            settle(self.page)

    def _until_selected(self, tab: Any, name: str, exact: bool, timeout: float) -> None:
        """Wait until the tapped tab shows selected; tap it again while it does not.

        A tap that lands while the screen is still changing can be lost (the layout test
        in CI: "My courses" was drawn, the tab tapped, and the tab never changed). A tab
        tells whether a tap took (aria-selected), and tapping a selected tab again
        changes nothing, so a lost tap on a tab is retried; a slow one is harmless."""
        selected = self.page.get_by_role("tab", name=name, exact=exact, selected=True).first
        deadline = time.monotonic() + timeout / 1000
        while True:
            try:
                selected.wait_for(timeout=3_000)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                print(f"tab {name!r}: the tap did not take; tapping again", file=sys.stderr)
                self.press(tab, timeout=timeout)

    def press(self, loc: Any, timeout: float = 30_000) -> None:
        """Tap `loc` the way this browser's user does: a touch in a touch browser, else
        a mouse click."""
        if self.touch:
            loc.tap(timeout=timeout)
        else:
            loc.click(timeout=timeout)

    def find(self, text: str, exact: bool = False) -> Any:
        """Text on screen: a text node, or part of a control's accessible name (Flutter
        merges a tappable card's texts into one aria-label)."""
        return self.page.get_by_text(text, exact=exact).or_(
            self.page.get_by_label(text, exact=exact))

    def tap_card(self, text: str) -> None:
        """Tap the tappable card whose accessible name contains ``text``."""
        loc = self.page.get_by_role("button", name=text, exact=False).first
        with self.shot_on_failure():
            loc.wait_for(timeout=15_000)
        self.press(loc)

    def text(self, text: str, exact: bool = False, timeout: float = 15_000) -> Any:
        loc = self.find(text, exact=exact).first
        with self.shot_on_failure():
            loc.wait_for(timeout=timeout)
        return loc

    @contextmanager
    def shot_on_failure(self) -> Iterator[None]:
        """Whatever fails inside leaves `failure_shot`'s screenshot and semantics, then
        goes on failing."""
        try:
            yield
        except Exception:
            self.failure_shot()
            raise

    def failure_shot(self) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / "failure.png"))
        labels = self.page.locator("flt-semantics").evaluate_all(
            "els => els.map(e => (e.getAttribute('role') || '') + ' | ' + "
            "(e.getAttribute('aria-label') || '') + ' | ' + (e.innerText || '').slice(0, 80))")
        (ARTIFACTS / "failure-semantics.txt").write_text("\n".join(labels), encoding="utf-8")

    def has_text(self, text: str) -> bool:
        return bool(self.find(text).count() > 0)

    def type_into(self, label: str, text: str) -> None:
        """Focus a Flutter text field, then type key by key. Waits for events, never a
        fixed time: the field's editing element focused *and* taken over by Flutter's
        text input (EDITING_JS), then holding every key typed (TYPED_JS)."""
        self.page.evaluate("() => { window.__typeFrom = document.activeElement; }")
        self.page.get_by_label(label, exact=True).click()
        self.page.wait_for_function(EDITING_JS, polling=50, timeout=15_000)
        self.page.keyboard.type(text, delay=30)
        self.page.wait_for_function(TYPED_JS, arg=text, polling=50, timeout=15_000)

    def at_sizes(self, sizes: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
        """Resize the page to each of `sizes` in turn, yielding once its layout has
        settled; then back to the size it had (no resize, and no wait, when the last
        size is that one)."""
        original = self.page.viewport_size
        for w, h in sizes:
            self.page.set_viewport_size({"width": w, "height": h})
            settle(self.page)
            yield w, h
        if self.page.viewport_size != original:
            self.page.set_viewport_size(original)
            settle(self.page)

    def screenshot(self, name: str, sizes: list[tuple[int, int]]) -> list[Path]:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        out = []
        for w, h in self.at_sizes(sizes):
            path = ARTIFACTS / f"{name}-{w}x{h}.png"
            path.write_bytes(self.still_shot())
            out.append(path)
        return out

    def still_shot(self, tries: int = 40) -> bytes:
        """A screenshot of the screen once it has stopped changing — two in a row the same
        (a chart's animation done, an image drawn) — rather than after a fixed time. A
        screen that never stops (a blinking caret) gives its last shot after `tries`."""
        last = self.page.screenshot()
        for _ in range(tries):
            shot = self.page.screenshot()
            if shot == last:
                break
            last = shot
        return bytes(last)


@contextmanager
def chromium(viewport: tuple[int, int] = (800, 1280), *, touch: bool = False) -> Any:
    """A headless Chromium page, offline but for 127.0.0.1. `touch`: a touch screen, as
    on the shared tablets — `Browser.press` (so `tap` and `tap_card`) touches instead
    of clicking, so no hover shows a tooltip whose accessibility nodes could swallow
    a click (docs/app.md, "Rapid taps and the frozen tab", point 3)."""
    from playwright.sync_api import sync_playwright

    from tests.support.optional import chromium_path

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": viewport[0],
                                                    "height": viewport[1]},
                                          service_workers="block", has_touch=touch)
            page = context.new_page()
            b = Browser(page, touch=touch)

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(LOCAL_PREFIXES):
                    r.continue_()
                else:
                    b.blocked.append(url)
                    r.abort()
            context.route("**/*", route)
            page.on("request", lambda req: b.requests.append(req.url))
            page.on("console", lambda m: b.console_errors.append(m.text)
                    if m.type == "error" else None)
            yield b
        finally:
            browser.close()
