"""Settings → "Change my PIN" for the signed-in learner (thin: the rules — the PIN
policy, the old PIN's lock-out — are ``Session.change_pin``)."""

from __future__ import annotations

import flet as ft

from app.ui.ctx import ViewContext
from app.ui.messages import error_sentence
from app.ui.widgets import big_button, error_text, handler, section_title


def pin_change_controls(ctx: ViewContext) -> list[ft.Control]:
    _ = ctx._
    s = ctx.session
    if not s.signed_in:
        return []
    digits = s.device.pin_min_digits

    def field(label: str, key: str) -> ft.TextField:
        return ft.TextField(label=label, key=key, password=True,
                            keyboard_type=ft.KeyboardType.NUMBER)

    old = field(_("Current PIN"), "pin-old")
    new = field(_("New PIN ({n} to 8 digits)").format(n=digits), "pin-new")
    again = field(_("PIN again"), "pin-new-again")

    def change() -> None:
        if s.change_pin(old.value, new.value, again.value):
            ctx.flash(_("Your PIN was changed."))
        ctx.refresh()

    controls: list[ft.Control] = [
        section_title(_("Change my PIN")), old, new, again,
        big_button(_("Change my PIN"), handler(ctx, change), icon=ft.Icons.PASSWORD,
                   primary=False, key="pin-change")]
    if s.view.form_error is not None and s.view.form_error.field in (
            "old_pin", "pin", "pin_again"):
        controls.append(error_text(error_sentence(ctx.tr, s.view.form_error),
                                   key="pin-change-error"))
    elif s.view.form_message:
        controls.append(error_text(s.view.form_message, key="pin-change-error"))
    return controls
