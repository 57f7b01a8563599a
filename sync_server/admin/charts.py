"""The colour scale of the console's gap heat map (an HTML table, no JavaScript, no CDN,
print-friendly: admin/templates; the numbers are printed in each cell, so the colour is
never the only carrier of the value)."""

from __future__ import annotations


def gap_colour(gap: float | None, max_gap: float) -> str:
    """White (no gap) → deep red (largest gap); green for negative gaps (self-rated above
    expectation); grey for no data."""
    if gap is None:
        return "#eeeeee"
    if gap <= 0:
        strength = min(-gap / max(max_gap, 1e-9), 1.0)
        return _mix((255, 255, 255), (46, 139, 87), strength * 0.6)
    return _mix((255, 255, 255), (178, 34, 34), min(gap / max(max_gap, 1e-9), 1.0))


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))
