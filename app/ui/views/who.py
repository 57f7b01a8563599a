""""Who is learning?": profile tiles, the PIN pad, the new-profile form and "Set your
PIN" (a profile an admin registered on the server arrives without a PIN)."""

from __future__ import annotations

from typing import Any

import flet as ft

from app.core.application import (
    CODE_MAX,
    NAME_MAX,
    ROLE_LABELS,
    STAFF_NUMBER_MAX,
    ProfileFormError,
    ProfileTile,
)
from app.core.errors import ShiftError
from app.core.i18n import UI_LOCALES
from app.core.pins import PIN_MAX_DIGITS
from app.core.roles import ROLES
from app.ui.ctx import ViewContext
from app.ui.messages import error_sentence
from app.ui.routes import Route
from app.ui.theme import BIG_TOUCH
from app.ui.widgets import (
    app_bar,
    big_button,
    card,
    choice_chips,
    error_text,
    handler,
    icon_button,
    section_title,
    text_button,
    view,
)


def build_who(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    s.view.form, s.view.form_error, s.view.form_message = {}, None, ""
    controls: list[ft.Control] = []
    if s.locked_by_idle:
        controls.append(ft.Container(
            ft.Text(_("Locked after a few minutes without use. Your work is saved."),
                    key="idle-note"),
            bgcolor=ft.Colors.SECONDARY_CONTAINER, padding=12, border_radius=10))
    if s.device.profiles.take_reattribution_notice():
        # shown once: a sync moved her work from a profile made here to the one she
        # registered first on another tablet (app/core/store/reattribute.py)
        controls.append(ft.Container(
            ft.Text(_("Your profile was already registered on another tablet; your work has "
                      "been moved to it. Sign in with the PIN you set there."),
                    key="reattributed-note"),
            bgcolor=ft.Colors.TERTIARY_CONTAINER, padding=12, border_radius=10))
    tiles = s.device.profiles.tiles()
    controls.append(section_title(_("Who is learning?")))
    if not tiles:
        controls.append(ft.Text(_("No profiles on this tablet yet. Create yours to start.")))
    grid = ft.ResponsiveRow(spacing=12, run_spacing=12)
    # Wider tiles at bigger text: a name never has to break inside a word.
    col: ft.ResponsiveNumber = {"xs": 12, "sm": 6, "md": 4} if s.text_size == "normal" \
        else {"xs": 12, "md": 6, "xl": 4}
    for tile in tiles:
        role = _(ROLE_LABELS[tile.role]) if tile.role in ROLE_LABELS else ""
        lines: list[ft.Control] = [
            ft.Text(tile.name, theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
            ft.Text(role, theme_style=ft.TextThemeStyle.BODY_SMALL)]
        if tile.needs_pin:
            lines.append(ft.Text(_("New here: set your PIN"), key=f"needs-pin-{tile.id}",
                                 theme_style=ft.TextThemeStyle.LABEL_MEDIUM))
        tip = (_("Set your PIN, {name}") if tile.needs_pin else _("Sign in as {name}"))
        grid.controls.append(ft.Container(
            card(ft.Row([
                ft.CircleAvatar(content=ft.Text(tile.initials), radius=26),
                ft.Column(lines, spacing=2, expand=True)]),
                on_click=handler(ctx, lambda t=tile: ctx.go(Route.pin(t.id))),
                key=f"profile-{tile.id}",
                tooltip=tip.format(name=tile.name)),
            col=col))
    controls.append(grid)
    controls.append(big_button(_("New profile"), handler(ctx, lambda: ctx.go(Route.new_profile())),
                               icon=ft.Icons.PERSON_ADD, primary=not tiles,
                               tooltip=_("Create a new learner profile"), key="new-profile"))
    controls.append(ft.Text(_("Each person uses their own profile and PIN. The tablet locks "
                              "itself when nobody uses it."),
                            theme_style=ft.TextThemeStyle.BODY_SMALL))
    settings = icon_button(ft.Icons.SETTINGS, _("Settings"),
                           handler(ctx, lambda: ctx.go(Route.settings())), key="settings")
    return view(route.path, app_bar(ctx, _("Shift Learning"), actions=[settings]), controls)


PIN_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "", "0", "del")


def build_pin(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    pid = route.params["profile"]
    tiles = {t.id: t for t in s.device.profiles.tiles()}
    tile = tiles.get(pid)
    if tile is None:
        return build_who(ctx, route)
    if tile.needs_pin:
        return build_first_pin(ctx, route, tile)
    digits = s.view.pin_digits

    def press(key: str) -> None:
        s.pin_press(key)
        ctx.refresh()

    def submit() -> None:
        if s.sign_in(pid, s.view.pin_digits):
            ctx.go(Route.home())
        else:
            ctx.refresh()

    locked = s.pin_locked   # a lock-out after wrong PINs: the keys are visibly off
    keys: list[ft.Control] = []
    for k in PIN_KEYS:
        if not k:
            keys.append(ft.Container(col=4))
            continue
        btn: ft.Control
        if k == "del":
            btn = ft.IconButton(icon=ft.Icon(ft.Icons.BACKSPACE_OUTLINED,
                                             semantics_label=_("Delete last digit")),
                                tooltip=_("Delete last digit"),
                                on_click=handler(ctx, lambda: press("del")), icon_size=30,
                                height=BIG_TOUCH + 8, key="pin-del", disabled=locked)
        else:
            btn = ft.FilledTonalButton(
                content=ft.Text(k, size=28, weight=ft.FontWeight.BOLD),
                on_click=handler(ctx, lambda k=k: press(k)), height=BIG_TOUCH + 8,
                key=f"pin-{k}", tooltip=k, disabled=locked,
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
        line: ft.Control = error_text(s.view.pin_error, key="pin-error")
        if locked:
            line = ft.Row([ft.Icon(ft.Icons.LOCK_CLOCK, color=ft.Colors.ERROR),
                           ft.Container(line, expand=True)], key="pin-locked")
        controls.append(line)
    controls.append(ft.ResponsiveRow(keys, spacing=10, run_spacing=10,
                                     opacity=0.45 if locked else 1.0))
    controls.append(big_button(_("Sign in"), handler(ctx, submit), icon=ft.Icons.LOGIN,
                               key="pin-ok", disabled=len(digits) < 4 or locked,
                               tooltip=_("Sign in with this PIN")))

    def toggle_forgot() -> None:
        s.view.forgot_pin = not s.view.forgot_pin
        ctx.refresh()
    controls.append(text_button(_("Forgot PIN?"), handler(ctx, toggle_forgot),
                                icon=ft.Icons.HELP_OUTLINE, key="forgot-pin",
                                tooltip=_("Forgot PIN?")))
    if s.view.forgot_pin:
        controls.append(card(ft.Text(
            _("Ask your training administrator to reset your PIN. You get a one-time "
              "set-up code. After this tablet's next sync, tap your name and choose a new "
              "PIN with that code. Your work stays saved."), key="forgot-pin-help")))
    return view(route.path, app_bar(ctx, _("Sign in"), back=Route.who()), controls,
                max_width=420)


class _FormFields:
    """Shared pieces of the profile forms (new profile, first PIN): the field's error
    text, the binder that keeps typed values across redraws, the two PIN fields and the
    form-level error line."""

    def __init__(self, ctx: ViewContext) -> None:
        self.ctx = ctx
        self.err = ctx.session.view.form_error
        self.form = ctx.session.view.form

    def error_for(self, name: str) -> str | None:
        err = self.err
        return error_sentence(self.ctx.tr, err) if err is not None and err.field == name \
            else None

    def typed(self, field_name: str) -> Any:
        def on_change(e: Any) -> None:
            self.form[field_name] = str(e.control.value or "")
        return on_change

    def pin_fields(self) -> tuple[ft.TextField, ft.TextField]:
        _ = self.ctx._
        # Short labels, the rule (the PIN policy, docs/app.md) as a wrapping helper line: a
        # floating label is one line and was cut at 360 px ("the PIN hint", issue 17).
        digits = self.ctx.session.device.pin_min_digits
        rule = (_("4 to 8 digits") if digits <= 4 else _("{n} to 8 digits").format(n=digits))
        pin = ft.TextField(label=_("PIN"), helper=rule, helper_max_lines=3,
                           key="f-pin", password=True,
                           keyboard_type=ft.KeyboardType.NUMBER, max_length=PIN_MAX_DIGITS,
                           value=self.form.get("pin", ""), error=self.error_for("pin"),
                           on_change=self.typed("pin"))
        pin2 = ft.TextField(label=_("PIN again"), key="f-pin2", password=True,
                            keyboard_type=ft.KeyboardType.NUMBER, max_length=PIN_MAX_DIGITS,
                            value=self.form.get("pin2", ""), error=self.error_for("pin_again"),
                            on_change=self.typed("pin2"))
        return pin, pin2

    def add_error_line(self, controls: list[ft.Control]) -> None:
        if self.err is not None:
            controls.append(error_text(error_sentence(self.ctx.tr, self.err), key="form-error"))
        elif self.ctx.session.view.form_message:
            controls.append(error_text(self.ctx.session.view.form_message, key="form-error"))


def build_new_profile(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    tr = ctx.tr
    fields = _FormFields(ctx)
    form = fields.form

    name = ft.TextField(label=_("Your name"), key="f-name", max_length=NAME_MAX,
                        value=form.get("name", ""), error=fields.error_for("display_name"),
                        on_change=fields.typed("name"))
    staff = ft.TextField(label=_("Staff number"), key="f-staff", max_length=STAFF_NUMBER_MAX,
                         value=form.get("staff", ""), error=fields.error_for("staff_number"),
                         on_change=fields.typed("staff"))
    pin, pin2 = fields.pin_fields()

    def pick(field_name: str, value: str) -> None:
        form[field_name] = value
        ctx.refresh()

    role = choice_chips(ctx, [(r, _(ROLE_LABELS[r])) for r in ROLES], form.get("role"),
                        lambda v: pick("role", v), "role", _("Role"))
    lang = choice_chips(ctx, [(c, tr.language_name(c)) for c in UI_LOCALES],
                        form.get("lang", s.locale), lambda v: pick("lang", v), "lang",
                        _("Language"))

    def create() -> None:
        try:
            pid = s.device.create_profile(form.get("name"), form.get("staff"), form.get("role"),
                                          form.get("lang", s.locale), form.get("pin"),
                                          form.get("pin2"))
        except ProfileFormError as exc:
            s.view.form_error = exc
            ctx.refresh()
            return
        except ShiftError as exc:  # e.g. the staff number is already used on this tablet
            s.view.form_error = None
            s.view.form_message = error_sentence(ctx.tr, exc)
            ctx.refresh()
            return
        typed_pin = str(form.get("pin"))
        s.view.form_error = None
        s.view.form = {}
        if s.sign_in(pid, typed_pin):
            ctx.go(Route.home())
        else:
            ctx.go(Route.pin(pid))

    controls: list[ft.Control] = [
        ft.Text(_("Your profile stays on this tablet until it is synced. Do not enter any "
                  "information about prisoners."), theme_style=ft.TextThemeStyle.BODY_SMALL),
        name, staff, role, lang, pin, pin2,
    ]
    fields.add_error_line(controls)
    controls.append(big_button(_("Create profile"), handler(ctx, create), icon=ft.Icons.CHECK,
                               key="create", tooltip=_("Create profile")))
    return view(route.path, app_bar(ctx, _("New profile"), back=Route.who()), controls,
                max_width=560)


def build_first_pin(ctx: ViewContext, route: Route, tile: ProfileTile) -> ft.View:
    """"Set your PIN": a profile registered by an admin has none yet. The one-time
    set-up code the admin handed over, then the PIN twice (same rules as a new profile);
    then the learner is signed in."""
    _ = ctx._
    s = ctx.session
    fields = _FormFields(ctx)
    form = fields.form
    code = ft.TextField(label=_("Set-up code"),
                        helper=_("The one-time code your administrator gave you"),
                        helper_max_lines=3, key="f-code",
                        max_length=CODE_MAX, value=form.get("code", ""),
                        capitalization=ft.TextCapitalization.CHARACTERS,
                        error=fields.error_for("code"), on_change=fields.typed("code"))
    pin, pin2 = fields.pin_fields()

    def save() -> None:
        if s.set_first_pin(tile.id, form.get("pin"), form.get("pin2"), code=form.get("code")):
            ctx.go(Route.home())
        else:
            ctx.refresh()

    controls: list[ft.Control] = [
        ft.Row([ft.CircleAvatar(content=ft.Text(tile.initials), radius=28),
                ft.Text(tile.name, theme_style=ft.TextThemeStyle.HEADLINE_SMALL, expand=True)]),
        ft.Text(_("Your profile was registered for you. Choose a PIN: you will enter it "
                  "each time you sign in, on any tablet of your facility."),
                theme_style=ft.TextThemeStyle.BODY_MEDIUM),
        ft.Text(_("Enter the set-up code your administrator gave you. Nobody else can set "
                  "your PIN without it."), theme_style=ft.TextThemeStyle.BODY_SMALL),
        code, pin, pin2,
    ]
    fields.add_error_line(controls)
    controls.append(big_button(_("Set PIN and sign in"), handler(ctx, save), icon=ft.Icons.CHECK,
                               key="set-pin", tooltip=_("Set PIN and sign in")))
    return view(route.path, app_bar(ctx, _("Set your PIN"), back=Route.who()), controls,
                max_width=420)
