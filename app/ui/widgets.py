"""Small building blocks shared by the screens: big buttons, app bars, the bottom
navigation, choice chips, notes. Views share code only through this module (they never
import each other).

Every interactive control gets a tooltip or semantics label (screen readers and the e2e
tests find controls by these names) and a height of at least 48 px.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft

from app.core.application import TEXT_SCALE
from app.ui.ctx import ViewContext
from app.ui.routes import Route
from app.ui.theme import BIG_TOUCH, LABEL_SCALE_CAP, STATUS, TOUCH

Handler = Callable[[Any], None]


def handler(ctx: ViewContext, fn: Callable[..., object]) -> Handler:
    """An on_click handler that counts as activity and then runs ``fn`` (with no arguments;
    typed `...` because mypy cannot infer the loop idiom ``lambda k=k: press(k)``)."""
    def on_event(_e: Any = None) -> None:
        ctx.act(fn)
    return on_event


def big_button(text: str, on_click: Handler | None, *, icon: Any = None,
               tooltip: str | None = None, primary: bool = True, key: str | None = None,
               expand: bool | int | None = None, disabled: bool = False) -> ft.Control:
    # A label may take two lines (a long Lithuanian label at Larger on a phone) instead
    # of being cut: little vertical padding, the text centred and at most two lines.
    style = ft.ButtonStyle(padding=ft.Padding.symmetric(horizontal=16, vertical=4),
                           shape=ft.RoundedRectangleBorder(radius=12))
    cls = ft.FilledButton if primary else ft.OutlinedButton
    label = ft.Text(text, max_lines=2, overflow=ft.TextOverflow.ELLIPSIS,
                    text_align=ft.TextAlign.CENTER)
    return cls(content=label, icon=icon, on_click=on_click, tooltip=tooltip, key=key,
               height=BIG_TOUCH - 8, style=style, expand=expand, disabled=disabled)


def back_step_button(label: str, on_click: Handler | None, *, key: str,
                     disabled: bool = False) -> ft.Control:
    """The "previous" step of the action bar: a square 56 px outlined icon button (its
    name is `label`), so the primary action next to it gets the width."""
    return ft.OutlinedButton(
        content=ft.Icon(ft.Icons.ARROW_BACK, semantics_label=label), tooltip=label,
        on_click=on_click, key=key, disabled=disabled, width=BIG_TOUCH - 8,
        height=BIG_TOUCH - 8,
        style=ft.ButtonStyle(padding=ft.Padding.all(0),
                             shape=ft.RoundedRectangleBorder(radius=12)))


def text_button(text: str, on_click: Handler | None, *, icon: Any = None,
                tooltip: str | None = None, key: str | None = None) -> ft.Control:
    return ft.TextButton(content=text, icon=icon, on_click=on_click, tooltip=tooltip, key=key,
                         height=TOUCH)


def icon_button(icon: Any, tooltip: str, on_click: Handler | None, *,
                key: str | None = None, disabled: bool = False) -> ft.IconButton:
    # The tooltip is not exposed as the accessible name on web: the icon's label is.
    return ft.IconButton(icon=ft.Icon(icon, semantics_label=tooltip), tooltip=tooltip,
                         on_click=on_click, key=key,
                         icon_size=28, width=TOUCH + 4, height=TOUCH + 4, disabled=disabled)


def app_bar(ctx: ViewContext, title: str, *, back: str | None = None,
            actions: list[ft.Control] | None = None) -> ft.AppBar:
    _ = ctx._
    leading = None
    if back is not None:
        leading = icon_button(ft.Icons.ARROW_BACK, _("Back"),
                              handler(ctx, lambda: ctx.go(back)), key="back")
    return ft.AppBar(title=ft.Text(title, semantics_label=title, max_lines=1,
                                   overflow=ft.TextOverflow.ELLIPSIS, tooltip=title,
                                   theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
                     leading=leading, automatically_imply_leading=False,
                     actions=actions or [], toolbar_height=64)


def lock_action(ctx: ViewContext) -> ft.Control:
    """The "Lock" button on every personal screen: hand the tablet over in one tap."""
    _ = ctx._

    def lock() -> None:
        ctx.session.lock()
        ctx.go(Route.who())
    return icon_button(ft.Icons.LOCK_OUTLINE, _("Lock and switch learner"),
                       handler(ctx, lock), key="lock")


def fallback_note(ctx: ViewContext, lang: str) -> ft.Control:
    """The visible note when content is shown in another language than the learner's."""
    _ = ctx._
    name = ctx.tr.language_name(lang)
    text = _("Shown in {language}: not yet translated.").format(language=name)
    return ft.Container(
        content=ft.Row([ft.Icon(ft.Icons.TRANSLATE, size=18), ft.Text(text, expand=True)],
                       spacing=8),
        padding=ft.Padding.symmetric(horizontal=10, vertical=6), border_radius=8,
        bgcolor=STATUS["notice"], key="fallback-note")


def section_title(text: str) -> ft.Text:
    return ft.Text(text, theme_style=ft.TextThemeStyle.TITLE_MEDIUM)


def progress_ring(value: float, label: str, size: int = 56) -> ft.Control:
    """A ring with the percentage in the middle (progress of a course)."""
    pct = max(0, min(100, round(value * 100)))
    # Excluded from semantics: inside a tappable card the ring's "progressbar" role would
    # replace the card's "button" role; the card's own text says the same in words.
    ring = ft.Stack(
        [ft.ProgressRing(value=max(0.0, min(1.0, value)), width=size, height=size,
                         stroke_width=5, semantics_label=label, semantics_value=pct,
                         bgcolor=ft.Colors.OUTLINE_VARIANT),
         ft.Text(f"{pct}%", theme_style=ft.TextThemeStyle.LABEL_SMALL,
                 weight=ft.FontWeight.BOLD)],
        width=size, height=size, alignment=ft.Alignment.CENTER)
    return ft.Semantics(content=ring, exclude_semantics=True)


def card(content: ft.Control, *, on_click: Handler | None = None, key: str | None = None,
         tooltip: str | None = None, highlight: bool = False) -> ft.Control:
    box = ft.Container(content=content, padding=16, border_radius=14, on_click=on_click,
                       tooltip=tooltip, key=key, ink=on_click is not None,
                       bgcolor=(ft.Colors.PRIMARY_CONTAINER if highlight
                                else ft.Colors.SURFACE_CONTAINER_LOW),
                       border=ft.Border.all(1, ft.Colors.OUTLINE_VARIANT))
    return box


def page_column(controls: list[ft.Control], *, max_width: int = 760) -> ft.Control:
    """Mobile-first: full width on a phone, a centred reading column on a tablet/desktop
    (a ResponsiveRow column; Flet 1.0 has no max-width constraint on containers)."""
    body = ft.Column(controls, spacing=14, horizontal_alignment=ft.CrossAxisAlignment.STRETCH,
                     col=column_span(max_width))
    return ft.ResponsiveRow([body], alignment=ft.MainAxisAlignment.CENTER)


def column_span(max_width: int) -> ft.ResponsiveNumber:
    """The ResponsiveRow columns of a reading column at most about `max_width` wide."""
    if max_width <= 420:
        return {"xs": 12, "sm": 8, "md": 6, "lg": 5, "xl": 4}
    if max_width <= 560:
        return {"xs": 12, "sm": 10, "md": 8, "lg": 6, "xl": 5}
    return {"xs": 12, "md": 11, "lg": 9, "xl": 7}


def action_bar(actions: list[ft.Control], *, max_width: int = 760) -> ft.BottomAppBar:
    """The primary action(s) of a learning screen (Next, Check answer, Finish…): pinned
    to the bottom edge, always visible without scrolling, in the same place on every
    card and at every screen size (aligned with the reading column)."""
    row = ft.Row(actions, spacing=12, col=column_span(max_width), key="action-bar-row")
    return ft.BottomAppBar(content=ft.ResponsiveRow([row], alignment=ft.MainAxisAlignment.CENTER),
                           padding=ft.Padding.symmetric(horizontal=14, vertical=12),
                           key="action-bar")


def view(route: str, appbar: ft.AppBar | None, controls: list[ft.Control], *,
         scroll: bool = True, navigation_bar: ft.NavigationBar | None = None,
         max_width: int = 760, bottom: list[ft.Control] | None = None) -> ft.View:
    """A screen. `bottom`: its primary actions, in the fixed bar at the bottom edge."""
    return ft.View(route=route, appbar=appbar, navigation_bar=navigation_bar,
                   bottom_appbar=action_bar(bottom, max_width=max_width) if bottom else None,
                   controls=[page_column(controls, max_width=max_width)],
                   scroll=ft.ScrollMode.AUTO if scroll else None,
                   padding=ft.Padding.symmetric(horizontal=14, vertical=12))


def error_text(text: str, key: str = "error") -> ft.Control:
    return ft.Text(text, color=ft.Colors.ERROR, key=key, weight=ft.FontWeight.BOLD)


def personal_view(ctx: ViewContext, route: str, title: str, controls: list[ft.Control], *,
                  back: str | None = None, actions: list[ft.Control] | None = None,
                  navigation_bar: ft.NavigationBar | None = None,
                  bottom: list[ft.Control] | None = None) -> ft.View:
    """A screen with the learner's own data: its app bar always ends with the Lock
    button, so the tablet can be handed over from anywhere in one tap. `bottom`: the
    screen's primary actions (the fixed action bar)."""
    return view(route, app_bar(ctx, title, back=back,
                               actions=[*(actions or []), lock_action(ctx)]),
                controls, navigation_bar=navigation_bar, bottom=bottom)



#: The bottom navigation's destinations, in order (its selected index).
NAV_TARGETS: tuple[str, ...] = (Route.home(), Route.assess_list(), Route.progress(),
                                Route.settings())


#: Average advance of a DejaVu Sans letter (em): enough to tell a word that fits from one
#: that would break (the layout e2e test measures the real thing).
EM_PER_CHAR = 0.62


def labels_fit(labels: list[str], width: float | None, font_px: float) -> bool:
    """Does every word of every label fit its navigation slot (width / n, less padding)?"""
    if width is None or not labels:
        return True
    slot = width / len(labels) - 8
    longest = max(len(w) for label in labels for w in label.replace("-", " ").split())
    return longest * EM_PER_CHAR * font_px <= slot


def nav_bar(ctx: ViewContext, selected: int) -> ft.NavigationBar:
    """Courses · Self-assessment · My progress · Settings (signed-in screens). On a narrow
    screen where a label would break inside a word ("Self-assessmen/t" at Larger,
    Lithuanian "Įsivertinima/s"), the labels are hidden: icons remain, and every
    destination keeps its name as tooltip and for screen readers."""
    _ = ctx._
    labels = [_("Courses"), _("Self-assessment"), _("My progress"), _("Settings")]
    font_px = 12 * min(TEXT_SCALE.get(ctx.session.text_size, 1.0), LABEL_SCALE_CAP)
    behaviour = None if labels_fit(labels, ctx.width, font_px) \
        else ft.NavigationBarLabelBehavior.ALWAYS_HIDE

    def change(e: Any) -> None:
        ctx.act(lambda: ctx.go(NAV_TARGETS[int(e.control.selected_index)]))
    return ft.NavigationBar(
        selected_index=selected, on_change=change, key="nav", label_behavior=behaviour,
        destinations=[
            ft.NavigationBarDestination(icon=ft.Icons.MENU_BOOK, label=_("Courses"),
                                        tooltip=_("Courses")),
            ft.NavigationBarDestination(icon=ft.Icons.CHECKLIST, label=_("Self-assessment"),
                                        tooltip=_("Self-assessment")),
            ft.NavigationBarDestination(icon=ft.Icons.INSIGHTS, label=_("My progress"),
                                        tooltip=_("My progress")),
            ft.NavigationBarDestination(icon=ft.Icons.SETTINGS, label=_("Settings"),
                                        tooltip=_("Settings")),
        ])


def choice_tile(label: str, selected: bool, on_click: Handler, *, key: str) -> ft.Control:
    """One option of a long single choice (a self-assessment level): a full-width tile
    whose text wraps — a Chip keeps its label on one line and cuts it on a phone. Its
    semantics is a checkbox (checked when selected) named by its text."""
    icon = ft.Icons.CHECK_CIRCLE if selected else ft.Icons.RADIO_BUTTON_UNCHECKED
    box = ft.Container(
        ft.Row([ft.Icon(icon, color=ft.Colors.PRIMARY if selected else ft.Colors.OUTLINE),
                ft.Text(label, expand=True)], spacing=10),
        # 24 px icon + 2 × 12 px padding: at least the 48 px touch target
        padding=ft.Padding.symmetric(horizontal=12, vertical=12), border_radius=10,
        # no tooltip: it would join the accessible name ("3 · Can teach others")
        on_click=on_click, ink=True,
        bgcolor=ft.Colors.PRIMARY_CONTAINER if selected else None,
        border=ft.Border.all(2 if selected else 1,
                             ft.Colors.PRIMARY if selected else ft.Colors.OUTLINE))
    return ft.Semantics(content=box, checked=selected, container=True, key=key)


def choice_chips(ctx: ViewContext, options: list[tuple[str, str]], selected: str | None,
                 on_pick: Callable[[str], None], key: str, label: str) -> ft.Control:
    """Big single-choice chips (gloved fingers; each chip is a named button)."""
    chips: list[ft.Control]   # a list of Chips is not a list[Control] (lists are invariant)
    chips = [ft.Chip(label=ft.Text(text), selected=value == selected, height=48,
                     on_select=handler(ctx, lambda v=value: on_pick(v)),
                     key=f"{key}-{value}", tooltip=f"{label}: {text}")
             for value, text in options]
    return ft.Column([ft.Text(label, theme_style=ft.TextThemeStyle.LABEL_LARGE),
                      ft.Row(chips, wrap=True, spacing=8, run_spacing=8)], spacing=6)


class StillThere:
    """The "Still there?" prompt of the last seconds before the idle lock: a count-down
    and one big button; any activity (the button, a tap outside, a scroll, a key) closes
    it. The decision when to show it is the session's (IdleLock.state)."""

    def __init__(self, ctx: ViewContext, on_stay: Handler) -> None:
        _ = ctx._
        self.ctx = ctx
        self.seconds = -1
        self.text = ft.Text("", key="still-there-text")
        self.dialog = ft.AlertDialog(
            key="still-there", modal=False,
            title=ft.Text(_("Still there?")),
            content=self.text,
            actions=[big_button(_("I'm still here"), on_stay, icon=ft.Icons.TOUCH_APP,
                                key="still-here", tooltip=_("I'm still here"))],
            on_dismiss=on_stay)

    def set_seconds(self, seconds: int) -> bool:
        """Show the seconds left; True when the text changed."""
        if seconds == self.seconds:
            return False
        self.seconds = seconds
        self.text.value = self.ctx.tr.ngettext(
            "The tablet locks in {n} second to protect your records. Your work is saved.",
            "The tablet locks in {n} seconds to protect your records. Your work is saved.",
            seconds).format(n=seconds)
        return True
