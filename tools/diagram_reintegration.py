"""Draw the through-the-gate timeline of the promote-core reintegration course (Pillow).

Reuses the drawing helpers of tools/diagrams.py (fonts, wrapping, small palette PNGs) so
all promote-core diagrams share one look; this file only adds the reintegration diagram,
which the reintegration course owns. Labels are English; each lesson gives alt text in
its own language.

Run:  .venv/bin/python -m tools.diagram_reintegration            (writes into the pack)
      .venv/bin/python -m tools.diagram_reintegration --out DIR  (writes DIR/through-the-gate.png)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from tools.diagrams import (
    BACKGROUND,
    HEIGHT,
    INK,
    MAX_BYTES,
    MUTED,
    REPO,
    WHITE,
    WIDTH,
    centred_lines,
    font,
    save_small,
    wrap,
)

DEFAULT_OUT = REPO / "content_packs" / "promote-core" / "courses" / "reintegration" / "media"
NAME = "through-the-gate.png"

INSIDE = (111, 66, 193)
OUTSIDE = (25, 135, 84)
GATE = (52, 58, 64)

STAGES: tuple[tuple[str, str, bool], ...] = (  # (title, what happens, outside the gate?)
    ("Induction", "Record ID, housing, health, family", False),
    ("During the sentence", "Learning, work, treatment, family contact", False),
    ("Last months", "Applications and appointments", False),
    ("Release day", "Documents, medication, travel, first appointment", False),
    ("First weeks", "Probation or partner checks the plan", True),
)
AREAS = ("Housing", "Work and money", "Health", "Documents", "Family")


def through_the_gate() -> Image.Image:
    """Five stages left to right; a gate line before the last; the five areas below."""
    img = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(img)
    title_font, head_font, body_font = font(32, bold=True), font(19, bold=True), font(16)
    centred_lines(draw, ["Through the gate: one plan, no gap"], title_font, WIDTH / 2, 20,
                  INK, 38)

    margin, gap, gate_gap = 30, 16, 34
    n = len(STAGES)
    box_w = (WIDTH - 2 * margin - (n - 2) * gap - gate_gap) / n
    top, bottom = 120, 330
    lefts: list[float] = []
    x = float(margin)
    for i in range(n):
        lefts.append(x)
        x += box_w + (gate_gap if i == n - 2 else gap)

    # Inside / outside bands above the boxes.
    gate_x = lefts[-1] - gate_gap / 2
    draw.rectangle([margin, 78, gate_x - 6, 104], fill=INSIDE)
    draw.rectangle([gate_x + 6, 78, WIDTH - margin, 104], fill=OUTSIDE)
    centred_lines(draw, ["Inside prison"], head_font, (margin + gate_x) / 2, 80, WHITE, 22)
    centred_lines(draw, ["Outside"], head_font, (gate_x + WIDTH - margin) / 2, 80, WHITE, 22)

    for left, (title, text, outside) in zip(lefts, STAGES, strict=True):
        colour = OUTSIDE if outside else INSIDE
        draw.rounded_rectangle([left, top, left + box_w, bottom], radius=12, fill=WHITE,
                               outline=colour, width=3)
        y = centred_lines(draw, wrap(draw, title, head_font, box_w - 16), head_font,
                          left + box_w / 2, top + 14, colour, 24)
        centred_lines(draw, wrap(draw, text, body_font, box_w - 18), body_font,
                      left + box_w / 2, y + 12, INK, 21)
    # Arrows between boxes (the one across the gate is drawn over the gate line).
    mid = (top + bottom) / 2
    for i in range(n - 1):
        x0, x1 = lefts[i] + box_w + 2, lefts[i + 1] - 2
        draw.line([(x0, mid), (x1 - 6, mid)], fill=MUTED, width=3)
        draw.polygon([(x1 - 8, mid - 6), (x1, mid), (x1 - 8, mid + 6)], fill=MUTED)
    # The gate.
    draw.line([(gate_x, 70), (gate_x, bottom + 24)], fill=GATE, width=5)
    centred_lines(draw, ["gate"], font(15, bold=True), gate_x, bottom + 28, GATE, 18)

    # The five planning areas, as chips.
    centred_lines(draw, ["Plan five areas from the start"], head_font, WIDTH / 2, 382, INK, 24)
    chip_font = font(16, bold=True)
    chip_gap = 14
    chip_w = (WIDTH - 2 * margin - (len(AREAS) - 1) * chip_gap) / len(AREAS)
    for i, area in enumerate(AREAS):
        left = margin + i * (chip_w + chip_gap)
        draw.rounded_rectangle([left, 420, left + chip_w, 470], radius=25, fill=(233, 236, 239),
                               outline=MUTED, width=2)
        centred_lines(draw, [area], chip_font, left + chip_w / 2, 434, INK, 22)
    note = "Each action has a named person and a date."
    centred_lines(draw, [note], body_font, WIDTH / 2, 494, MUTED, 22)
    return img


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNG")
    args = parser.parse_args(argv)
    path = args.out / NAME
    size = save_small(through_the_gate(), path)
    ok = size <= MAX_BYTES
    print(f"{path}: {size} bytes {'ok' if ok else f'TOO BIG (limit {MAX_BYTES})'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
