""""Who is learning?": profile tiles, the PIN pad and the new-profile form."""

from __future__ import annotations

import flet as ft

from app.core.device import ROLE_LABELS, ProfileFormError
from app.core.i18n import UI_LOCALES
from app.core.roles import ROLES
from app.ui.ctx import ViewContext
from app.ui.router import Route
from app.ui.theme import BIG_TOUCH
from app.ui.widgets import (
    app_bar,
    big_button,
    card,
    error_text,
    handler,
    icon_button,
    section_title,
    view,
)


def build_who(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    controls: list[ft.Control] = []
    if s.locked_by_idle:
        controls.append(ft.Container(
            ft.Text(_("Locked after a few minutes without use. Your work is saved."),
                    key="idle-note"),
            bgcolor=ft.Colors.SECONDARY_CONTAINER, padding=12, border_radius=10))
    tiles = s.device.profiles()
    controls.append(section_title(_("Who is learning?")))
    if not tiles:
        controls.append(ft.Text(_("No profiles on this tablet yet. Create yours to start.")))
    grid = ft.ResponsiveRow(spacing=12, run_spacing=12)
    for tile in tiles:
        role = _(ROLE_LABELS[tile.role]) if tile.role in ROLE_LABELS else ""
        grid.controls.append(ft.Container(
            card(ft.Row([
                ft.CircleAvatar(content=ft.Text(tile.initials), radius=26),
                ft.Column([ft.Text(tile.name, theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
                           ft.Text(role, theme_style=ft.TextThemeStyle.BODY_SMALL)],
                          spacing=2, expand=True)]),
                on_click=handler(ctx, lambda t=tile: ctx.go(f"/pin/{t.id}")),
                key=f"profile-{tile.id}",
                tooltip=_("Sign in as {name}").format(name=tile.name)),
            col={"xs": 12, "sm": 6, "md": 4}))
    controls.append(grid)
    controls.append(big_button(_("New profile"), handler(ctx, lambda: ctx.go("/profiles/new")),
                               icon=ft.Icons.PERSON_ADD, primary=not tiles,
                               tooltip=_("Create a new learner profile"), key="new-profile"))
    controls.append(ft.Text(_("Each person uses their own profile and PIN. The tablet locks "
                              "itself when nobody uses it."),
                            theme_style=ft.TextThemeStyle.BODY_SMALL))
    settings = icon_button(ft.Icons.SETTINGS, _("Settings"),
                           handler(ctx, lambda: ctx.go("/settings")), key="settings")
    return view(route.path, app_bar(ctx, _("Shift Learning"), actions=[settings]), controls)


PIN_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "", "0", "del")


def build_pin(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    pid = route.params["profile"]
    tiles = {t.id: t for t in s.device.profiles()}
    tile = tiles.get(pid)
    if tile is None:
        return build_who(ctx, route)
    digits = s.view.pin_digits

    def press(key: str) -> None:
        s.view.pin_error = ""
        if key == "del":
            s.view.pin_digits = s.view.pin_digits[:-1]
        elif len(s.view.pin_digits) < 8:
            s.view.pin_digits += key
        ctx.refresh()

    def submit() -> None:
        if s.sign_in(pid, s.view.pin_digits):
            ctx.go("/home")
        else:
            ctx.refresh()

    keys: list[ft.Control] = []
    for k in PIN_KEYS:
        if not k:
            keys.append(ft.Container(col=4))
            continue
        if k == "del":
            btn = ft.IconButton(icon=ft.Icons.BACKSPACE_OUTLINED, tooltip=_("Delete last digit"),
                                on_click=handler(ctx, lambda: press("del")), icon_size=30,
                                height=BIG_TOUCH + 8, key="pin-del")
        else:
            btn = ft.FilledTonalButton(
                content=ft.Text(k, size=28, weight=ft.FontWeight.BOLD),
                on_click=handler(ctx, lambda k=k: press(k)), height=BIG_TOUCH + 8,
                key=f"pin-{k}", tooltip=k,
                style=ft.ButtonStyle(shape=ft.RoundedRectangleBorder(radius=16)))
        keys.append(ft.Container(btn, col=4))
    dots = "●" * len(digits) + "○" * max(0, 4 - len(digits))
    controls: list[ft.Control] = [
        ft.Row([ft.CircleAvatar(content=ft.Text(tile.initials), radius=28),
                ft.Text(tile.name, theme_style=ft.TextThemeStyle.HEADLINE_SMALL, expand=True)]),
        ft.Text(_("Enter your PIN"), theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
        ft.Text(dots, size=30, key="pin-dots", text_align=ft.TextAlign.CENTER,
                semantics_label=ctx.tr.ngettext("{n} digit entered", "{n} digits entered",
                                                len(digits)).format(n=len(digits))),
    ]
    if s.view.pin_error:
        controls.append(error_text(s.view.pin_error, key="pin-error"))
    controls.append(ft.ResponsiveRow(keys, spacing=10, run_spacing=10))
    controls.append(big_button(_("Sign in"), handler(ctx, submit), icon=ft.Icons.LOGIN,
                               key="pin-ok", disabled=len(digits) < 4,
                               tooltip=_("Sign in with this PIN")))
    return view(route.path, app_bar(ctx, _("Sign in"), back="/"), controls, max_width=420)


def build_new_profile(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    err = s.view.form_error
    tr = ctx.tr

    def field_error(name: str) -> str | None:
        return err.translated(tr) if err is not None and err.field == name else None

    form = s.view.form
    name = ft.TextField(label=_("Your name"), key="f-name", max_length=60,
                        value=form.get("name", ""),
                        error=field_error("display_name"), autofocus=True)
    staff = ft.TextField(label=_("Staff number (optional)"), key="f-staff", max_length=32,
                         value=form.get("staff", ""),
                         error=field_error("staff_number"))
    role = ft.Dropdown(label=_("Role"), key="f-role", expand=True, value=form.get("role"),
                       options=[ft.DropdownOption(key=r, text=_(ROLE_LABELS[r])) for r in ROLES],
                       error_text=field_error("role"))
    lang = ft.Dropdown(label=_("Language"), key="f-lang", value=form.get("lang", s.locale), expand=True,
                       options=[ft.DropdownOption(key=c, text=tr.language_name(c))
                                for c in UI_LOCALES],
                       error_text=field_error("language"))
    pin = ft.TextField(label=_("PIN (4 to 8 digits)"), key="f-pin", password=True,
                       keyboard_type=ft.KeyboardType.NUMBER, max_length=8,
                       error=field_error("pin"))
    pin2 = ft.TextField(label=_("PIN again"), key="f-pin2", password=True,
                        keyboard_type=ft.KeyboardType.NUMBER, max_length=8,
                        error=field_error("pin_again"))

    def create() -> None:
        s.view.form = {"name": name.value or "", "staff": staff.value or "",
                       "role": role.value or "", "lang": lang.value or ""}
        try:
            pid = s.device.create_profile(name.value, staff.value, role.value, lang.value,
                                          pin.value, pin2.value)
        except ProfileFormError as exc:
            s.view.form_error = exc
            ctx.refresh()
            return
        s.view.form_error = None
        s.view.form = {}
        if s.sign_in(pid, str(pin.value)):
            ctx.go("/home")
        else:
            ctx.go(f"/pin/{pid}")

    controls: list[ft.Control] = [
        ft.Text(_("Your profile stays on this tablet until it is synced. Do not enter any "
                  "information about prisoners."), theme_style=ft.TextThemeStyle.BODY_SMALL),
        name, staff, role, lang, pin, pin2,
    ]
    if err is not None:
        controls.append(error_text(err.translated(tr), key="form-error"))
    controls.append(big_button(_("Create profile"), handler(ctx, create), icon=ft.Icons.CHECK,
                               key="create", tooltip=_("Create profile")))
    return view(route.path, app_bar(ctx, _("New profile"), back="/"), controls, max_width=560)
