"""Inline SVG charts rendered on the server (no JavaScript, no CDN, print-friendly).

Every function returns an SVG string that is safe to put into a page as it is: all text
is XML-escaped here. Charts carry a <title> and aria-label so a screen reader can name
them, and the numbers are also in a table next to them on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


def _e(value: object) -> str:
    return escape(str(value), quote=True)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None      # 0..1 (a rate); None = no data
    note: str = ""           # e.g. "12 of 20"


@dataclass(frozen=True)
class BarGroup:
    label: str
    bars: tuple[Bar, ...]


PALETTE = ("#1f4e79", "#2e8b57", "#c05a00", "#7a3e9d", "#b22222", "#4b6f8a", "#8a6d1f")


def grouped_bars(title: str, groups: Sequence[BarGroup], series: Sequence[str], *,
                 width: int = 720) -> str:
    """Horizontal grouped bars of rates (0..1), one group per row label, one colour per
    series (e.g. completion and pass rate)."""
    bar_h, gap, label_w, top = 14, 10, 220, 34
    rows = sum(max(len(g.bars), 1) for g in groups)
    height = top + rows * bar_h + len(groups) * gap + 30
    plot_w = width - label_w - 70
    out = [_open(title, width, height)]
    # legend
    x = label_w
    for i, name in enumerate(series):
        out.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
                   f'<text x="{x + 16}" y="16" font-size="12">{_e(name)}</text>')
        x += 24 + 8 * len(name)
    # grid
    for pct in (0, 25, 50, 75, 100):
        gx = label_w + plot_w * pct / 100
        out.append(f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{height - 24}" '
                   f'stroke="#ddd"/><text x="{gx:.1f}" y="{height - 10}" font-size="10" '
                   f'text-anchor="middle" fill="#555">{pct}%</text>')
    y = top
    for group in groups:
        out.append(f'<text x="{label_w - 8}" y="{y + bar_h - 3}" font-size="12" '
                   f'text-anchor="end">{_e(_clip(group.label, 34))}</text>')
        for i, bar in enumerate(group.bars):
            colour = PALETTE[i % len(PALETTE)]
            if bar.value is None:
                out.append(f'<text x="{label_w + 4}" y="{y + bar_h - 3}" font-size="10" '
                           f'fill="#777">no data</text>')
            else:
                w = max(plot_w * min(max(bar.value, 0.0), 1.0), 1)
                out.append(f'<rect x="{label_w}" y="{y + 1}" width="{w:.1f}" height="{bar_h - 2}" '
                           f'fill="{colour}"><title>{_e(group.label)} · {_e(bar.label)}: '
                           f'{bar.value:.0%} {_e(bar.note)}</title></rect>'
                           f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" font-size="10">'
                           f'{bar.value:.0%}</text>')
            y += bar_h
        if not group.bars:
            y += bar_h
        y += gap
    out.append("</svg>")
    return "".join(out)


def _open(title: str, width: int, height: int) -> str:
    """The <svg> start tag: scales down on a phone, never up past its natural size."""
    return (f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {width} '
            f'{height}" width="100%" style="max-width:{width}px" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>')


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


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


def heat_map(title: str, rows: Sequence[str], columns: Sequence[str],
             values: dict[tuple[int, int], tuple[float, int]], *, max_gap: float = 4.0) -> str:
    """A rows × columns grid; ``values[(r, c)] = (mean gap, number of learners)``."""
    cell_w, cell_h, label_w, top = 92, 30, 360, 26
    width = max(label_w + cell_w * max(len(columns), 1) + 10, label_w + 5 * 70 + 20)
    height = top + cell_h * max(len(rows), 1) + 40
    out = [_open(title, width, height)]
    for c, name in enumerate(columns):
        cx = label_w + c * cell_w + cell_w / 2
        out.append(f'<text x="{cx:.1f}" y="{top - 10}" font-size="11" text-anchor="middle">'
                   f'{_e(_clip(name, 14))}</text>')
    for r, name in enumerate(rows):
        y = top + r * cell_h
        out.append(f'<text x="{label_w - 8}" y="{y + cell_h / 2 + 4:.1f}" font-size="11" '
                   f'text-anchor="end">{_e(_clip(name, 58))}</text>')
        for c in range(len(columns)):
            gap, n = values.get((r, c), (None, 0))
            x = label_w + c * cell_w
            label = "–" if gap is None else f"{gap:+.1f}"
            tip = f"{name} × {columns[c]}: " + ("no ratings" if gap is None else
                                                 f"mean gap {gap:+.2f} ({n} learners)")
            out.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                       f'fill="{gap_colour(gap, max_gap)}" stroke="#fff"><title>{_e(tip)}</title>'
                       f'</rect><text x="{x + cell_w / 2 - 1:.1f}" y="{y + cell_h / 2 + 4:.1f}" '
                       f'font-size="12" text-anchor="middle">{_e(label)}</text>')
    # legend
    ly = top + cell_h * max(len(rows), 1) + 14
    for i, g in enumerate((-max_gap / 2, 0, max_gap / 4, max_gap / 2, max_gap)):
        lx = label_w + i * 70
        out.append(f'<rect x="{lx}" y="{ly}" width="18" height="14" fill="{gap_colour(g, max_gap)}" '
                   f'stroke="#999"/><text x="{lx + 22}" y="{ly + 11}" font-size="10">{g:+.1f}</text>')
    out.append(f'<text x="{label_w - 8}" y="{ly + 11}" font-size="10" text-anchor="end">'
               f'gap = expected − self-rated</text></svg>')
    return "".join(out)
