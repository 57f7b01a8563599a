"""Settings → "Device administrator": unlock with the device admin PIN, or set / change
it (thin: the rules are app/core/application/device_admin.py)."""

from __future__ import annotations

from collections.abc import Callable

import flet as ft

from app.core.errors import ShiftError
from app.ui.ctx import ViewContext
from app.ui.messages import error_sentence
from app.ui.widgets import big_button, error_text, handler, icon_button, section_title


def _pin_field(ctx: ViewContext, label: str, key: str) -> ft.TextField:
    # no max_length: its "8 characters left" counter was squeezed to 31 px in Lithuanian
    # at Larger text (layout check); the core refuses a PIN over 8 digits by name.
    # Our own "Show PIN" button, not can_reveal_password: Flutter's eye button was a
    # 44 px target without a name (layout check).
    field = ft.TextField(label=label, key=key, password=True,
                         keyboard_type=ft.KeyboardType.NUMBER)

    def reveal(_e: object) -> None:
        field.password = not field.password
        field.update()
    field.suffix_icon = icon_button(ft.Icons.VISIBILITY, ctx._("Show or hide the PIN"),
                                    reveal, key=f"{key}-reveal")
    return field


def admin_controls(ctx: ViewContext) -> list[ft.Control]:
    _ = ctx._
    s = ctx.session
    gate = s.admin
    is_set = s.device.admin.is_set()
    message = s.view.form.get("admin_message", "")
    controls: list[ft.Control] = [section_title(_("Device administrator"))]

    def run(fn: Callable[[], object]) -> None:
        try:
            fn()
            s.view.form["admin_message"] = ""
        except ShiftError as exc:
            s.view.form["admin_message"] = error_sentence(ctx.tr, exc)
        ctx.refresh()

    if is_set and not gate.unlocked:
        pin = _pin_field(ctx, _("Administrator PIN"), "admin-pin")
        controls += [ft.Text(_("Server address, enrolment and other device settings can "
                               "only be changed by an administrator."), key="admin-locked"),
                     pin, big_button(_("Unlock device settings"),
                                     handler(ctx, lambda: run(lambda: gate.unlock(pin.value))),
                                     icon=ft.Icons.LOCK_OPEN, key="admin-unlock")]
    else:
        new = _pin_field(ctx, _("New administrator PIN (6 to 8 digits)"), "admin-new-pin")
        again = _pin_field(ctx, _("New administrator PIN again"), "admin-new-pin-again")
        intro = (_("Device settings are unlocked.") if is_set else
                 _("Set an administrator PIN for this tablet. It is needed to enrol the "
                   "tablet and to change device settings later."))
        controls += [ft.Text(intro, key="admin-open"), new, again,
                     big_button(_("Save administrator PIN"),
                                handler(ctx, lambda: run(lambda: gate.set_admin_pin(
                                    new.value, again.value))),
                                icon=ft.Icons.ADMIN_PANEL_SETTINGS, key="admin-save",
                                primary=False)]
    if message:
        controls.append(error_text(message, key="admin-message"))
    return controls
