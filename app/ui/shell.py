"""The per-page controller: routing, rendering, snack bars and the idle-lock ticker.

This is the only module that talks to a live ``ft.Page``; it holds no decisions. Paths
come from app/ui/routes.py, the view of a route from app/ui/screens.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import flet as ft

from app.core.application import Device, IdleState, Session
from app.core.errors import ShiftError
from app.core.i18n import UI_LOCALES, flutter_locale
from app.ui import routes, screens
from app.ui.ctx import ViewContext
from app.ui.messages import error_sentence
from app.ui.routes import Route, Screen
from app.ui.theme import FONTS, build_theme
from app.ui.widgets import StillThere

log = logging.getLogger("shift.ui")
IDLE_TICK_SECONDS = 1.0
#: Reading counts as activity: the view reports scrolling at most this often (ms).
SCROLL_REPORT_MS = 1000
#: Width change (px) after which a resized page is drawn again.
RESIZE_STEP = 40
VIEW_FIELDS = ("route", "appbar", "controls", "navigation_bar", "bottom_appbar", "scroll",
               "padding", "floating_action_button")


def error_view(ctx: ViewContext, path: str) -> ft.View:
    _ = ctx._
    home = Route.start(ctx.session.signed_in)
    return ft.View(route=path, controls=[ft.Column([
        ft.Icon(ft.Icons.ERROR_OUTLINE, size=48, color=ft.Colors.ERROR),
        ft.Text(_("Something went wrong on this screen. Your work is saved."),
                theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
        ft.FilledButton(content=_("Back to start"), height=56, key="error-home",
                        on_click=lambda _e: ctx.act(lambda: ctx.go(home)))],
        spacing=16)], padding=24)


def no_auto_update() -> None:
    """For the page's own handlers (route change, scroll, resize, keys, back): they draw
    with render(), which updates the page itself, or draw nothing. Flet's auto-update
    would otherwise diff the whole page after each of them — after every navigation
    (the browser reports the route we just pushed) and every second of reading (scroll
    reports) — and send a second, redundant patch after each navigation."""
    ft.context.disable_auto_update()


def keep_identity(built: ft.View, screen: Screen) -> None:
    """Key the top-level parts of a freshly built screen by the screen's name.

    The shell patches one View in place with the parts of a newly built one. Without a
    key, Flet's diff takes every new part for a new control: the whole screen goes out
    again with fresh control ids, and a tap the browser sends for a control of the
    previous drawing (a second quick tap, before that drawing's patch has arrived) names
    an id the server no longer knows, and is dropped without a word ("Control with ID N
    not found") — issue 17's "frozen" tab was this: the screen waited for an answer to
    a tap that the server had thrown away. With the same key on both drawings, Flet
    reconciles them: unchanged controls keep their ids (the late tap reaches the new
    control, and its new handler), and only what changed is sent."""
    for name in ("appbar", "navigation_bar", "bottom_appbar"):
        part = getattr(built, name)
        if part is not None and part.key is None:
            part.key = f"{screen.value}:{name}"
    for i, part in enumerate(built.controls):
        if part.key is None:
            part.key = f"{screen.value}:{i}"


def sync_badge_state(session: Session) -> tuple[bool, datetime | None]:
    """What the home screen's sync badge shows; when it changes (a background sync
    finished, or the last sync grew old) the home screen is drawn again."""
    summary = session.sync_summary()
    return summary.online, summary.last_sync


class PageController:
    def __init__(self, page: ft.Page, device: Device, *, media_route: bool = True) -> None:
        self.page = page
        self.device = device
        self.media: Callable[[str, str], str | bytes] | None = \
            None if media_route else self.media_bytes
        self.session = Session(device)
        self.route = routes.parse(page.route)
        self._theme_key: tuple[str, str, bool] | None = None
        self._badge: tuple[bool, datetime | None] | None = None
        self._closed = False
        self._still_there: StillThere | None = None
        self._rendered_width: float | None = None
        self._pushed: str | None = None  # a path we pushed, until the browser echoes it

    # navigation ---------------------------------------------------------------
    def go(self, path: str) -> None:
        """Navigate: render now; the browser's address bar follows (`follow_url`). Every
        navigation opens the new screen at its top (the one View is patched in place,
        so Flutter would otherwise keep the previous screen's scroll offset)."""
        self.session.view.zoom_image = None   # a full-screen image belongs to its card
        self.render(path)
        self.scroll_to_top()
        self.follow_url()

    def follow_url(self) -> None:
        """Push the new screen's path to the browser history — when the *screen*
        changes, not when only a position on it does (the next lesson card, quiz
        question or duty). In Flet 1.0.5 a pushed route makes the client's router build
        the whole page again from scratch: a second full frame after the screen's own
        (≈ 250 ms of the browser's CPU with the single-threaded renderer; docs/app.md
        "Tap → screen cost"). It is not deferred to a quieter moment either: that rebuild
        empties a text field being typed into (seen in the e2e walk). Within a lesson
        the address bar keeps the card the lesson was entered at; the browser's back
        button leaves the lesson (or quiz) for the screen before it.

        Nor is it pushed when the address bar already leads to this screen: signed in,
        a sign-in path ("/", "/pin/…") resolves to home, so the push that would follow
        every sign-in (the most frequent screen change of a shift) is saved; a reload or
        the back button there still shows home. Signed out, the path is always pushed, so
        the lock leaves no personal path in the address bar."""
        path = self.route.path
        current = (routes.resolve(self.page.route, True) if self.session.signed_in
                   else routes.parse(self.page.route))
        if current.name == self.route.name:     # incl. the browser's path being `path`
            return
        self._pushed = path
        self.page.run_task(self.page.push_route, path)

    def scroll_to_top(self) -> None:
        if self.page.views:
            self.page.run_task(self.page.views[-1].scroll_to, offset=0, duration=0)

    def on_activity(self, _e: Any = None) -> None:
        """A scroll (reading), a key: the person is still there."""
        no_auto_update()
        self.session.touch()
        if self._still_there is not None:
            self.close_still_there()

    def on_route_change(self, e: ft.RouteChangeEvent) -> None:
        no_auto_update()
        if e.route == self._pushed:   # the browser reporting our own push: nothing to do
            self._pushed = None
            return
        if e.route != self.route.path:
            self.session.touch()
            self.session.view.zoom_image = None
            self.render(e.route)
            self.scroll_to_top()

    def on_keyboard(self, e: Any) -> None:
        """Any key counts as activity; a hardware keyboard works on the PIN pad: digits,
        Backspace, Enter."""
        self.on_activity()   # (no auto-update either: render() updates the page itself)
        if self.route.name != Screen.PIN \
                or self.device.profiles.needs_pin(self.route.params["profile"]):
            return   # the "Set your PIN" form types into its own fields
        key = str(getattr(e, "key", "") or "")
        name = key.removeprefix("Numpad ").strip()
        if len(name) == 1 and name.isdigit():
            self.session.pin_press(name)
        elif key == "Backspace":
            self.session.pin_press("del")
        elif key in ("Enter", "Numpad Enter") and len(self.session.view.pin_digits) >= 4:
            if self.session.sign_in(self.route.params["profile"], self.session.view.pin_digits):
                self.go(Route.home())
                return
        else:
            return
        self.render()

    def on_resize(self, _e: Any = None) -> None:
        """A rotation or a resized window: draw again when the width changed enough to
        change a layout decision (the navigation's labels), not on every pixel."""
        no_auto_update()
        width, last = self.page.width, self._rendered_width
        if width is not None and (last is None or abs(width - last) >= RESIZE_STEP):
            self.render()

    def on_view_pop(self, _e: Any) -> None:
        no_auto_update()
        self.go(Route.start(self.session.signed_in))

    def media_bytes(self, pack_id: str, path: str) -> str | bytes:
        """A lesson image's bytes (no /packmedia route under Flet's own runtime); an
        unknown file gives an empty source, so the Image shows its error text."""
        file = self.device.content.media_file(pack_id, path)
        return file.read_bytes() if file is not None else ""

    # rendering ------------------------------------------------------------------
    def apply_theme(self) -> None:
        """Send only what changed: a new theme on a text size / contrast change, a new
        locale configuration on a language change. (The app runs in light mode only, so
        no second copy of the theme goes out as ``dark_theme``; a locale configuration
        rebuilt on every text-size change made Flutter reload its localisations too.)"""
        s = self.session
        key = (s.locale, s.text_size, s.high_contrast)
        if key == self._theme_key:
            return
        old, self._theme_key = self._theme_key, key
        if old is None or old[1:] != key[1:]:
            self.page.theme = build_theme(s.text_size, s.high_contrast)
            self.page.theme_mode = ft.ThemeMode.LIGHT
        if old is None or old[0] != key[0]:
            lang, region = flutter_locale(s.locale)
            self.page.locale_configuration = ft.LocaleConfiguration(
                supported_locales=[ft.Locale(*flutter_locale(c)) for c in UI_LOCALES],
                current_locale=ft.Locale(lang, region))
            self.page.title = s.translator.gettext("Shift Learning")

    def render(self, path: str | None = None) -> None:
        route = routes.resolve(path if path is not None else self.route.path,
                               self.session.signed_in)
        self.route = route
        self._rendered_width = self.page.width
        ctx = ViewContext(self.session, go=self.go, refresh=self.render, media=self.media,
                          width=self.page.width)
        try:
            built = screens.build(ctx, route)
        except ShiftError as exc:
            log.warning("cannot show %s: %s", route.path, exc)
            ctx.flash(error_sentence(ctx.tr, exc))
            self.route = routes.resolve(Route.home(), self.session.signed_in)
            built = screens.build(ctx, self.route)
        except Exception:  # a bug must not leave a blank tablet: say so, offer a way out
            log.exception("view %s failed", route.path)
            built = error_view(ctx, route.path)
        keep_identity(built, self.route.name)
        self.apply_theme()
        self._badge = sync_badge_state(self.session) if self.route.name == Screen.HOME \
            else None
        if self.page.views:
            # One View, patched in place: Flet sends a diff and Flutter keeps its page
            # (no route transition on every tap).
            current = self.page.views[-1]
            del self.page.views[1:]
            for name in VIEW_FIELDS:
                setattr(current, name, getattr(built, name))
        else:
            built.on_scroll = self.on_activity
            built.scroll_interval = SCROLL_REPORT_MS
            self.page.views.append(built)
        flashes, self.session.view.flashes = self.session.view.flashes, []
        for flash in flashes[-1:]:  # one snack bar at a time; the latest matters
            self.page.show_dialog(ft.SnackBar(ft.Text(flash.text), duration=5000))
        self.page.update()

    # idle lock ---------------------------------------------------------------------
    def show_still_there(self) -> None:
        """The "Still there?" prompt of the last seconds before the lock (counting down)."""
        seconds = self.session.idle.seconds_left()
        if self._still_there is None:
            ctx = ViewContext(self.session, go=self.go, refresh=self.render)
            self._still_there = StillThere(ctx, on_stay=self.on_activity)
            self._still_there.set_seconds(seconds)
            self.page.show_dialog(self._still_there.dialog)
        elif self._still_there.set_seconds(seconds):
            self._still_there.dialog.update()

    def close_still_there(self) -> None:
        prompt, self._still_there = self._still_there, None
        if prompt is not None and prompt.dialog.open:
            prompt.dialog.open = False
            prompt.dialog.update()

    async def idle_ticker(self) -> None:
        while not self._closed:
            await asyncio.sleep(IDLE_TICK_SECONDS)
            try:
                state = self.session.idle_state()
                if state is IdleState.WARNING:
                    self.show_still_there()
                elif self._still_there is not None:
                    self.close_still_there()
                if self.session.check_idle():
                    self.render(Route.who())
                    self.scroll_to_top()
                    if self.page.route != Route.who():
                        await self.page.push_route(Route.who())
                elif self.route.name == Screen.PIN and self.session.tick_pin_wait():
                    self.render()
                elif self._badge is not None and self._badge != sync_badge_state(self.session):
                    self.render()  # background sync brought news: badge, progress, packs
            except Exception:  # a closed page must not kill the ticker's loop
                log.exception("idle ticker")
                return

    def close(self, _e: Any = None) -> None:
        self._closed = True
        self.session.lock()


def make_page_main(device: Device, *, media_route: bool = True) -> Callable[[ft.Page], Any]:
    """The Flet ``main`` of one page. ``media_route``: our web server serves lesson images
    at /packmedia (app/ui/main.py); False under Flet's own runtime (app/ui/native.py)."""
    async def page_main(page: ft.Page) -> None:
        page.fonts = dict(FONTS)
        page.padding = 0
        # No animated theme change: a text size or contrast change is drawn at once, and
        # never arrives while the previous theme is still being interpolated. (Tried
        # against issue 17's freeze: it did not cure it — tests/e2e/test_ui_display_stress.py
        # still reproduces it now and then.)
        page.theme_animation_style = ft.AnimationStyle.no_animation()
        ctl = PageController(page, device, media_route=media_route)
        page.on_route_change = ctl.on_route_change
        page.on_view_pop = ctl.on_view_pop
        page.on_keyboard_event = ctl.on_keyboard
        page.on_resize = ctl.on_resize
        page.on_close = ctl.close
        ctl.render(page.route)
        page.run_task(ctl.idle_ticker)
    return page_main
