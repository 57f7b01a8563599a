"""Lesson reader: one card per screen, previous/next, swipe, progress dots, text size."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import flet as ft

from app.core.application import TEXT_SIZES, card_blocks
from app.ui.ctx import ViewContext
from app.ui.routes import Route
from app.ui.widgets import (
    back_step_button,
    big_button,
    fallback_note,
    handler,
    icon_button,
    personal_view,
)

SWIPE_MIN_VELOCITY = 300.0


def media_url(pack: str, path: str) -> str:
    return f"/packmedia/{quote(pack)}/{quote(path)}"


def media_src(ctx: ViewContext, pack: str, path: str) -> str | bytes:
    return ctx.media(pack, path) if ctx.media is not None else media_url(pack, path)


def progress_dots(ctx: ViewContext, index: int, total: int) -> ft.Control:
    label = ctx._("Card {n} of {total}").format(n=index + 1, total=total)
    if total > 14:  # too many dots for a phone: a bar says the same
        return ft.Column([ft.ProgressBar(value=(index + 1) / total, semantics_label=label),
                          ft.Text(label, theme_style=ft.TextThemeStyle.BODY_SMALL)], spacing=4)
    dots: list[ft.Control]
    dots = [ft.Container(width=12 if i == index else 9, height=12 if i == index else 9,
                         border_radius=6,
                         bgcolor=ft.Colors.PRIMARY if i <= index else ft.Colors.OUTLINE_VARIANT)
            for i in range(total)]
    return ft.Row([ft.Row(dots, spacing=6, tight=True),
                   ft.Text(label, theme_style=ft.TextThemeStyle.BODY_SMALL, key="card-position")],
                  alignment=ft.MainAxisAlignment.SPACE_BETWEEN, wrap=True)


def text_size_control(ctx: ViewContext) -> ft.Control:
    _ = ctx._
    s = ctx.session
    i = TEXT_SIZES.index(s.text_size)

    def change(step: int) -> None:
        s.set_text_size(TEXT_SIZES[max(0, min(len(TEXT_SIZES) - 1, i + step))])
        ctx.refresh()
    return ft.Row([
        icon_button(ft.Icons.TEXT_DECREASE, _("Smaller text"), handler(ctx, lambda: change(-1)),
                    key="text-smaller", disabled=i == 0),
        icon_button(ft.Icons.TEXT_INCREASE, _("Larger text"), handler(ctx, lambda: change(1)),
                    key="text-larger", disabled=i == len(TEXT_SIZES) - 1),
    ], spacing=0, tight=True)


def zoomable_image(ctx: ViewContext, pack: str, path: str, alt: str) -> ft.Control:
    """A lesson image; a tap opens it full screen (diagrams are unreadable on a phone)."""
    _ = ctx._

    def open_full() -> None:
        ctx.session.view.zoom_image = (pack, path, alt)
        ctx.refresh()
    image = ft.Image(src=media_src(ctx, pack, path), semantics_label=alt,
                     fit=ft.BoxFit.CONTAIN, border_radius=8,
                     error_content=ft.Text(alt or _("Image not available")))
    hint = ft.Row([ft.Icon(ft.Icons.ZOOM_IN, size=18),
                   ft.Text(_("Tap to enlarge"), theme_style=ft.TextThemeStyle.LABEL_MEDIUM)],
                  spacing=4, tight=True)
    return ft.Container(ft.Column([image, hint], spacing=4,
                                  horizontal_alignment=ft.CrossAxisAlignment.CENTER),
                        on_click=handler(ctx, open_full), key=f"image-{path}",
                        tooltip=_("Open the image full screen"))


def build_zoom(ctx: ViewContext, route: Route, pack: str, path: str, alt: str) -> ft.View:
    """An image full screen: pinch (or wheel) to zoom, drag to pan, Close to go back to
    the card. Same route: closing returns to the same place."""
    _ = ctx._

    def close() -> None:
        ctx.session.view.zoom_image = None
        ctx.refresh()
    viewer = ft.InteractiveViewer(
        content=ft.Image(src=media_src(ctx, pack, path), semantics_label=alt,
                         fit=ft.BoxFit.CONTAIN,
                         error_content=ft.Text(alt or _("Image not available"))),
        min_scale=1.0, max_scale=6.0, pan_enabled=True, scale_enabled=True,
        trackpad_scroll_causes_scale=True, boundary_margin=ft.Margin.all(40),
        expand=True, key="zoom-viewer")
    bar = ft.AppBar(
        title=ft.Text(alt or _("Image"), max_lines=1, overflow=ft.TextOverflow.ELLIPSIS,
                      theme_style=ft.TextThemeStyle.TITLE_MEDIUM),
        leading=icon_button(ft.Icons.CLOSE, _("Close image"), handler(ctx, close),
                            key="zoom-close"),
        automatically_imply_leading=False, toolbar_height=64)
    return ft.View(route=route.path, appbar=bar, controls=[
        ft.Text(_("Pinch or use two fingers to zoom; drag to move."),
                theme_style=ft.TextThemeStyle.BODY_SMALL), viewer],
        scroll=None, padding=ft.Padding.symmetric(horizontal=8, vertical=8))


def build_lesson(ctx: ViewContext, route: Route) -> ft.View:
    _ = ctx._
    s = ctx.session
    pack, cid, lid = route.params["pack"], route.params["course"], route.params["lesson"]
    zoom = s.view.zoom_image
    if zoom is not None and zoom[0] == pack:
        return build_zoom(ctx, route, *zoom)
    s.view.zoom_image = None
    lv = s.learning.open_lesson(pack, cid, lid)
    total = len(lv.cards)
    index = max(0, min(total - 1, int(route.params["card"])))
    cardv = lv.cards[index]

    def go_prev() -> None:
        if index > 0:
            ctx.go(Route.lesson(pack, cid, lid, index - 1))

    def go_next() -> None:
        ctx.go(Route.place(s.learning.finish_card(pack, cid, lid, index)))

    def on_swipe(e: Any) -> None:
        v = getattr(e, "primary_velocity", None) or 0.0
        if v <= -SWIPE_MIN_VELOCITY:
            ctx.act(go_next)
        elif v >= SWIPE_MIN_VELOCITY and index > 0:
            ctx.act(go_prev)

    def on_link(e: Any) -> None:
        target = s.learning.link_target(pack, str(getattr(e, "data", "") or ""))
        if target is not None:
            ctx.act(lambda: ctx.go(Route.place(target)))
        else:
            ctx.flash(_("Web links open only on a connected computer: {url}").format(
                url=getattr(e, "data", "")))
            ctx.refresh()

    body: list[ft.Control] = []
    if lv.fallback:
        body.append(fallback_note(ctx, lv.lang))
    body.append(progress_dots(ctx, index, total))
    body.append(ft.Text(cardv.title, theme_style=ft.TextThemeStyle.HEADLINE_SMALL,
                        key="card-title"))
    for block in card_blocks(cardv.markdown):
        if block.kind == "image":
            body.append(zoomable_image(ctx, pack, block.path, block.text))
        else:
            body.append(ft.Markdown(block.text, selectable=False, on_tap_link=on_link,
                                    extension_set=ft.MarkdownExtensionSet.GITHUB_WEB))
    last = index == total - 1
    nav: list[ft.Control] = [
        back_step_button(_("Previous card"), handler(ctx, go_prev), key="prev",
                         disabled=index == 0),
        big_button(_("Finish lesson") if last else _("Next"), handler(ctx, go_next),
                   icon=ft.Icons.CHECK if last else ft.Icons.ARROW_FORWARD, key="next",
                   expand=True, tooltip=_("Finish lesson") if last else _("Next card")),
    ]
    swipe = ft.GestureDetector(content=ft.Column(body, spacing=14), on_horizontal_drag_end=on_swipe,
                               key="swipe")
    return personal_view(ctx, route.path, lv.title, [swipe], back=Route.course(pack, cid),
                         actions=[text_size_control(ctx)], bottom=nav)
