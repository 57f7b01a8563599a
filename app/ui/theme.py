"""Theme: bundled font, text size and high contrast (pure: settings in, ft.Theme out)."""

from __future__ import annotations

import flet as ft

from app.core.application import TEXT_SCALE

FONTS = {"Body": "fonts/DejaVuSans.ttf", "BodyBold": "fonts/DejaVuSans-Bold.ttf"}
SEED = "#1F5C99"
HC_PRIMARY = "#00205B"

#: The colour scheme, spelled out (not generated from a seed colour on the device), so a
#: unit test can check every text/background pair the screens use (CONTRAST_PAIRS):
#: ≥ 4.5:1, ≥ 3:1 for large text (WCAG AA). Material 3 tones of SEED.
NORMAL_SCHEME: dict[str, str] = {
    "primary": SEED, "on_primary": "#FFFFFF",
    "primary_container": "#D3E4FF", "on_primary_container": "#001C38",
    "secondary": "#545F70", "on_secondary": "#FFFFFF",
    "secondary_container": "#D8E3F8", "on_secondary_container": "#111C2B",
    "tertiary": "#6D5677", "on_tertiary": "#FFFFFF",
    "tertiary_container": "#F6D9FF", "on_tertiary_container": "#271430",
    "error": "#BA1A1A", "on_error": "#FFFFFF",
    "error_container": "#FFDAD6", "on_error_container": "#410002",
    "surface": "#F8F9FF", "on_surface": "#191C20", "on_surface_variant": "#43474E",
    "surface_container_lowest": "#FFFFFF", "surface_container_low": "#F2F3F9",
    "surface_container": "#ECEEF4", "surface_container_high": "#E6E8EE",
    "surface_container_highest": "#E1E2E8",
    "outline": "#73777F", "outline_variant": "#C3C6CF",
    "inverse_surface": "#2E3035", "on_inverse_surface": "#EFF0F7",
    "inverse_primary": "#A2C9FF",
}
HIGH_CONTRAST_SCHEME: dict[str, str] = {
    "primary": HC_PRIMARY, "on_primary": "#FFFFFF",
    "primary_container": "#FFFF00", "on_primary_container": "#000000",
    "secondary": "#000000", "on_secondary": "#FFFFFF",
    "secondary_container": "#FFFF00", "on_secondary_container": "#000000",
    "tertiary": "#000000", "on_tertiary": "#FFFFFF",
    "tertiary_container": "#FFFF00", "on_tertiary_container": "#000000",
    "error": "#9B0000", "on_error": "#FFFFFF",
    "error_container": "#FFFFFF", "on_error_container": "#9B0000",
    "surface": "#FFFFFF", "on_surface": "#000000", "on_surface_variant": "#000000",
    "surface_container_lowest": "#FFFFFF", "surface_container_low": "#FFFFFF",
    "surface_container": "#FFFFFF", "surface_container_high": "#FFFFFF",
    "surface_container_highest": "#FFFFFF",
    "outline": "#000000", "outline_variant": "#000000",
    "inverse_surface": "#000000", "on_inverse_surface": "#FFFFFF",
    "inverse_primary": "#FFFF00",
}

#: Status colours drawn with white text (badges, the quiz verdict) and the notice
#: background drawn with on_surface text — the same in both themes (each checked).
STATUS = {"ok": "#1B5E20", "attention": "#B33200", "neutral": "#37474F",
          "notice": "#FFECB3", "white": "#FFFFFF"}

#: (text colour, background colour, large text only) of every pair the screens draw.
CONTRAST_PAIRS: tuple[tuple[str, str, bool], ...] = (
    ("on_surface", "surface", False), ("on_surface_variant", "surface", False),
    ("on_surface", "surface_container_low", False),
    ("on_surface_variant", "surface_container_low", False),
    ("on_surface", "surface_container", False),
    ("on_surface", "surface_container_highest", False),
    ("primary", "surface", False), ("primary", "surface_container_low", False),
    ("on_primary", "primary", False),
    ("on_primary_container", "primary_container", False),
    ("on_secondary_container", "secondary_container", False),
    ("on_tertiary_container", "tertiary_container", False),
    ("error", "surface", False), ("error", "surface_container_low", False),
    ("on_error", "error", False), ("on_error_container", "error_container", False),
    ("on_inverse_surface", "inverse_surface", False),
    ("white", "ok", False), ("white", "attention", False), ("white", "neutral", False),
    ("on_surface", "notice", False), ("ok", "surface", False),
    ("attention", "surface", False),
)
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


def scheme_colours(high_contrast: bool) -> dict[str, str]:
    """Every colour of a theme by name: the scheme's roles and the STATUS colours."""
    return {**(HIGH_CONTRAST_SCHEME if high_contrast else NORMAL_SCHEME), **STATUS}


def build_theme(text_size: str = "normal", high_contrast: bool = False) -> ft.Theme:
    scale = TEXT_SCALE.get(text_size, 1.0)
    scheme = ft.ColorScheme(**(HIGH_CONTRAST_SCHEME if high_contrast else NORMAL_SCHEME))
    return ft.Theme(font_family="Body", color_scheme=scheme, text_theme=text_theme(scale),
                    visual_density=ft.VisualDensity.COMFORTABLE,
                    navigation_bar_theme=navigation_theme(scale),
                    tooltip_theme=tooltip_theme(scale))
