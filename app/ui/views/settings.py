"""Settings: language, text size, high contrast, sync, storage, about + licences."""

from __future__ import annotations

from typing import Any

import flet as ft

from app.core.application import TEXT_SIZES
from app.core.errors import ShiftError
from app.core.i18n import UI_LOCALES
from app.core.learning import localize
from app.ui.admin_panel import admin_controls
from app.ui.ctx import ViewContext
from app.ui.messages import error_sentence, progress_text
from app.ui.pin_change_panel import pin_change_controls
from app.ui.routes import Route
from app.ui.theme import TOUCH
from app.ui.widgets import (
    app_bar,
    big_button,
    card,
    choice_chips,
    handler,
    nav_bar,
    section_title,
    view,
)

APP_VERSION = "0.1.0"
#: Extra padding above and below the contrast switch: 40 px (Flutter, comfortable
#: density) + 2 × 4 = the 48 px touch target.
SWITCH_PAD = (TOUCH - 40) // 2


def sync_result_text(ctx: ViewContext, result: ShiftError | str | None,
                     client_installed: bool) -> str:
    """The line under "Sync now", translated when drawn (never kept as a sentence)."""
    if result is None:
        return ""
    if result == "done":
        return ctx._("Sync finished.")
    if not client_installed:
        return ctx._("Sync client not installed yet.")
    return error_sentence(ctx.tr, result) if isinstance(result, ShiftError) else ""


def build_settings(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    tr = ctx.tr
    s = ctx.session
    dev = s.device
    size_words = {"normal": _("Normal"), "large": _("Large"), "larger": _("Larger")}

    def set_lang(code: str) -> None:
        s.set_language(code)
        ctx.refresh()

    def set_size(size: str) -> None:
        s.set_text_size(size)
        ctx.refresh()

    def set_contrast(e: Any) -> None:
        def apply() -> None:
            s.set_high_contrast(bool(e.control.value))
            ctx.refresh()
        ctx.act(apply)

    lang = choice_chips(ctx, [(c, tr.language_name(c)) for c in UI_LOCALES], s.locale,
                        set_lang, "lang", _("Language"))
    sizes = ft.Row([ft.Chip(label=ft.Text(size_words[z]), selected=s.text_size == z,
                            on_select=handler(ctx, lambda z=z: set_size(z)),
                            key=f"size-{z}", tooltip=_("Text size: {size}").format(
                                size=size_words[z]), height=48)
                    for z in TEXT_SIZES], wrap=True)
    # Flutter's switch is 40 px tall at the comfortable density: 4 px more padding above
    # and below make its row (label included) the 48 px touch target (TOUCH).
    contrast = ft.Switch(label=_("High contrast"), value=s.high_contrast, on_change=set_contrast,
                         key="contrast", tooltip=_("High contrast"),
                         padding=ft.Padding.symmetric(horizontal=4, vertical=SWITCH_PAD))
    whose = (_("Text size and contrast are kept for you on this tablet and come back "
               "when you sign in.") if s.signed_in else
             _("The tablet's default, used before sign-in and for new profiles."))
    controls: list[ft.Control] = [section_title(_("Display")), lang,
                                  ft.Text(_("Text size")), sizes, contrast,
                                  ft.Text(whose, theme_style=ft.TextThemeStyle.BODY_SMALL,
                                          key="display-whose")]

    # sync -------------------------------------------------------------------------
    status = s.sync_summary()
    admin_open = s.admin.unlocked          # device-wide settings need the administrator
    server = ft.TextField(label=_("Server address"), value=status.server_url, key="server-url",
                          hint_text="https://learning.example.org",
                          keyboard_type=ft.KeyboardType.URL, read_only=not admin_open)
    code = ft.TextField(label=_("Enrolment code"), key="enrol-code",
                        value=s.view.form.get("enrol_code", ""), visible=admin_open)
    bar = ft.ProgressBar(value=0, visible=False, key="sync-progress")
    message = ft.Text(sync_result_text(ctx, s.view.sync_result, status.client_installed),
                      key="sync-message")

    def on_progress(fraction: float, text: str) -> None:
        bar.visible, bar.value = True, max(0.0, min(1.0, fraction))
        message.value = progress_text(tr, bar.value, text)
        try:
            bar.update()
            message.update()
        except (AssertionError, RuntimeError):  # not on a live page (unit tests)
            pass

    def sync() -> None:
        s.view.form["enrol_code"] = code.value or ""
        try:
            url = str(server.value or "").strip()
            if url != status.server_url:
                s.admin.set_server_url(url)
            if (code.value or "").strip():
                s.admin.enrol(str(code.value), on_progress)
            else:
                dev.sync_now(progress=on_progress)
            s.view.sync_result = "done"
            s.view.form["enrol_code"] = ""
        except ShiftError as exc:
            s.view.sync_result = exc
        ctx.refresh()

    last = (_("Last synced {when}").format(when=tr.format_datetime(status.last_sync))
            if status.last_sync else _("Never synced"))
    # The progress and the outcome sit right above the button: on a phone a line below
    # it ended up under the navigation bar.
    controls += [section_title(_("Sync")), ft.Text(last, key="last-sync"), server, code,
                 bar, message,
                 big_button(_("Sync now"), handler(ctx, sync), icon=ft.Icons.SYNC,
                            key="sync-now", tooltip=_("Sync now"))]

    controls += pin_change_controls(ctx)
    controls += admin_controls(ctx)

    # storage + about -------------------------------------------------------------------
    controls += [section_title(_("Storage")),
                 ft.Text(_("Storage used: {size}").format(size=tr.format_bytes(
                     dev.storage_bytes())), key="storage")]
    if s.signed_in:
        controls.append(ft.Text(_("Locks after {time} without use.").format(
            time=tr.format_timedelta(dev.idle_lock_seconds)), key="idle-setting"))
    about: list[ft.Control] = [
        ft.Text(_("Shift Learning {version}").format(version=APP_VERSION),
                weight=ft.FontWeight.BOLD),
        ft.Text(_("Made for the Erasmus+ PROMOTE and WORKPRIS projects. App licence: EUPL-1.2.")),
        ft.Text(_("Font: DejaVu Sans (Bitstream Vera licence, public domain changes).")),
        ft.Text(_("Built with Flet and Flutter (Apache 2.0 / BSD licences) and Babel (BSD).")),
    ]
    for pack in dev.content.licences():
        name = localize(pack.title, s.locale, next(iter(pack.title), "en")).text
        about.append(ft.Text(_("Content “{pack}”: {licence}").format(pack=name,
                                                                    licence=pack.licence)
                             + (f" — {', '.join(pack.authors)}" if pack.authors else "")))
    controls += [section_title(_("About and licences")), card(ft.Column(about, spacing=6))]
    return view(route.path, app_bar(ctx, _("Settings"), back=Route.start(s.signed_in)), controls,
                navigation_bar=nav_bar(ctx, 3) if s.signed_in else None)
