"""Theme: bundled font, text size and high contrast (pure: settings in, ft.Theme out)."""

from __future__ import annotations

import flet as ft

from app.core.application import TEXT_SCALE

FONTS = {"Body": "fonts/DejaVuSans.ttf", "BodyBold": "fonts/DejaVuSans-Bold.ttf"}
SEED = "#1F5C99"
HC_PRIMARY = "#00205B"
#: Minimum touch target (Material: 48 dp); gloved hands get more where it is cheap.
TOUCH = 48
BIG_TOUCH = 64


#: Labels (buttons, chips, tabs) grow less than reading text: they must still fit a
#: half-width button on a phone at the largest size.
LABEL_SCALE_CAP = 1.15


def text_theme(scale: float) -> ft.TextTheme:
    def s(size: float, bold: bool = False, cap: float | None = None) -> ft.TextStyle:
        factor = min(scale, cap) if cap else scale
        return ft.TextStyle(size=round(size * factor, 1),
                            font_family="BodyBold" if bold else "Body")
    return ft.TextTheme(
        display_small=s(34, True), headline_large=s(30, True), headline_medium=s(26, True),
        headline_small=s(22, True), title_large=s(21, True), title_medium=s(17, True),
        title_small=s(15, True), body_large=s(17), body_medium=s(15), body_small=s(13),
        label_large=s(15, True, LABEL_SCALE_CAP), label_medium=s(13, cap=LABEL_SCALE_CAP),
        label_small=s(12, cap=LABEL_SCALE_CAP))


def navigation_theme(scale: float) -> ft.NavigationBarTheme:
    """The bottom navigation's labels follow the text size like every label (Flutter's
    default draws them at a fixed 12 px); the bar grows for a second label line."""
    label = min(scale, LABEL_SCALE_CAP)
    return ft.NavigationBarTheme(
        label_text_style=ft.TextStyle(size=round(12 * label, 1), font_family="Body"),
        height=round(64 + 2 * 12 * label * 1.2))


def tooltip_theme(scale: float) -> ft.TooltipTheme:
    """Tooltips follow the text size too (Flutter's default is a fixed 12 px)."""
    return ft.TooltipTheme(text_style=ft.TextStyle(
        size=round(12 * min(scale, LABEL_SCALE_CAP), 1), font_family="Body",
        color=ft.Colors.WHITE))


def build_theme(text_size: str = "normal", high_contrast: bool = False) -> ft.Theme:
    scale = TEXT_SCALE.get(text_size, 1.0)
    if high_contrast:
        scheme = ft.ColorScheme(
            primary=HC_PRIMARY, on_primary="#FFFFFF", secondary="#000000",
            on_secondary="#FFFFFF", surface="#FFFFFF", on_surface="#000000",
            surface_container_highest="#FFFFFF", surface_container="#FFFFFF",
            surface_container_low="#FFFFFF", on_surface_variant="#000000",
            outline="#000000", error="#9B0000", on_error="#FFFFFF",
            primary_container="#FFFF00", on_primary_container="#000000",
            secondary_container="#FFFF00", on_secondary_container="#000000")
        return ft.Theme(font_family="Body", color_scheme=scheme, text_theme=text_theme(scale),
                        visual_density=ft.VisualDensity.COMFORTABLE,
                        navigation_bar_theme=navigation_theme(scale),
                        tooltip_theme=tooltip_theme(scale))
    return ft.Theme(font_family="Body", color_scheme_seed=SEED, text_theme=text_theme(scale),
                    visual_density=ft.VisualDensity.COMFORTABLE,
                    navigation_bar_theme=navigation_theme(scale),
                    tooltip_theme=tooltip_theme(scale))
