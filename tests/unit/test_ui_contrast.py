"""Every text/background pair the screens draw has WCAG AA contrast in both themes
(≥ 4.5:1; ≥ 3:1 for large text): the pairs are listed in app/ui/theme.py next to the
colours, and the theme is built from those very colours (no seed colour generated on the
device that a test could not see)."""

from __future__ import annotations

import pytest

from app.ui.theme import (
    CONTRAST_PAIRS,
    HIGH_CONTRAST_SCHEME,
    NORMAL_SCHEME,
    build_theme,
    scheme_colours,
)


def luminance(colour: str) -> float:
    value = colour.lstrip("#")
    assert len(value) == 6, colour
    channels = [int(value[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_the_contrast_formula() -> None:
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    # the "Not quite" banner of issue 17: white on Material deep orange 800 is 4.4:1
    assert contrast("#FFFFFF", "#D84315") < 4.5


@pytest.mark.parametrize("high_contrast", [False, True], ids=["normal", "high-contrast"])
@pytest.mark.parametrize(("text", "background", "large"), CONTRAST_PAIRS)
def test_every_pair_meets_wcag_aa(high_contrast: bool, text: str, background: str,
                                  large: bool) -> None:
    colours = scheme_colours(high_contrast)
    ratio = contrast(colours[text], colours[background])
    assert ratio >= (3.0 if large else 4.5), \
        f"{text} {colours[text]} on {background} {colours[background]}: {ratio:.2f}:1"


def test_high_contrast_reaches_aaa_for_body_text() -> None:
    colours = scheme_colours(True)
    assert contrast(colours["on_surface"], colours["surface"]) >= 7


@pytest.mark.parametrize("high_contrast", [False, True])
def test_the_theme_uses_the_checked_colours(high_contrast: bool) -> None:
    scheme = build_theme("normal", high_contrast).color_scheme
    expected = HIGH_CONTRAST_SCHEME if high_contrast else NORMAL_SCHEME
    assert scheme is not None
    for role, colour in expected.items():
        assert getattr(scheme, role) == colour, role
