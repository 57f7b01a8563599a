"""Draw the promote-core course diagrams as small PNGs with Pillow.

Why a script instead of hand-drawn images: the PNGs are reproducible (same Pillow + same
font give the same bytes), reviewable as code, and easy to redraw when a label changes.
Labels are English only; each lesson gives the image alt text in its own language.

Run:  .venv/bin/python -m tools.diagrams            (writes into content_packs/promote-core)
      .venv/bin/python -m tools.diagrams --out DIR  (writes <DIR>/<course>/media/<name>.png)

Pillow is an authoring-time dependency only (dev extras); the app never imports it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "content_packs" / "promote-core" / "courses"
MAX_BYTES = 60 * 1024  # content standard: every diagram ≤ 60 KB

WIDTH, HEIGHT = 960, 540
INK = (33, 37, 41)
MUTED = (88, 96, 105)
WHITE = (255, 255, 255)
BACKGROUND = (248, 249, 250)

# Regular, bold. Bundled fonts first (app/assets/fonts), then Debian's DejaVu.
_FONT_CANDIDATES: dict[bool, tuple[Path, ...]] = {
    False: (
        REPO / "app" / "assets" / "fonts" / "DejaVuSans.ttf",
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    ),
    True: (
        REPO / "app" / "assets" / "fonts" / "DejaVuSans-Bold.ttf",
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ),
}

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def font(size: int, bold: bool = False) -> Font:
    """A TrueType font of `size` px; Pillow's built-in font if no TTF is installed."""
    for path in _FONT_CANDIDATES[bold]:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def text_width(draw: ImageDraw.ImageDraw, text: str, fnt: Font) -> float:
    return draw.textlength(text, font=fnt)


def wrap(draw: ImageDraw.ImageDraw, text: str, fnt: Font, max_width: float) -> list[str]:
    """Greedy word wrap so labels never spill out of their box."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and text_width(draw, trial, fnt) > max_width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def centred_lines(
    draw: ImageDraw.ImageDraw,
    lines: list[str],
    fnt: Font,
    centre_x: float,
    top: float,
    fill: tuple[int, int, int],
    line_height: int,
) -> float:
    """Draw lines centred on centre_x from top; return the y below the last line."""
    y = top
    for line in lines:
        draw.text((centre_x - text_width(draw, line, fnt) / 2, y), line, font=fnt, fill=fill)
        y += line_height
    return y


def three_dimensions() -> Image.Image:
    """Physical, procedural and dynamic security as three pillars under one roof."""
    img = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(img)
    title_font, head_font, body_font = font(34, bold=True), font(26, bold=True), font(19)

    centred_lines(draw, ["Three dimensions of security"], title_font, WIDTH / 2, 22, INK, 40)
    # Roof: safe and decent prison.
    draw.polygon([(60, 130), (WIDTH / 2, 76), (WIDTH - 60, 130)], fill=(52, 58, 64))
    centred_lines(draw, ["Safety, order and decency"], font(20, bold=True), WIDTH / 2, 103,
                  WHITE, 24)

    pillars = [
        ("Physical", (13, 110, 253),
         ["Walls, fences, locks", "Doors and gates", "Cameras, alarms"]),
        ("Procedural", (111, 66, 193),
         ["Rules and routines", "Counts and searches", "Movement control"]),
        ("Dynamic", (25, 135, 84),
         ["Knowing people", "Talking and listening", "Noticing change",
          "Fair, consistent staff"]),
    ]
    margin, gap = 80, 40
    col_w = (WIDTH - 2 * margin - 2 * gap) / 3
    top, bottom = 150, 440
    for i, (name, colour, items) in enumerate(pillars):
        left = margin + i * (col_w + gap)
        draw.rounded_rectangle([left, top, left + col_w, bottom], radius=14, fill=WHITE,
                               outline=colour, width=4)
        draw.rounded_rectangle([left, top, left + col_w, top + 56], radius=14, fill=colour)
        draw.rectangle([left, top + 40, left + col_w, top + 56], fill=colour)
        centred_lines(draw, [name], head_font, left + col_w / 2, top + 13, WHITE, 30)
        y = top + 76.0
        for item in items:
            y = centred_lines(draw, wrap(draw, item, body_font, col_w - 24), body_font,
                              left + col_w / 2, y, INK, 24) + 14
    # Base.
    draw.rectangle([60, 455, WIDTH - 60, 480], fill=(52, 58, 64))
    note = "Dynamic security: relationships that help staff know what is happening"
    centred_lines(draw, wrap(draw, note, body_font, WIDTH - 120), body_font, WIDTH / 2, 495,
                  MUTED, 24)
    return img


def deescalation_ladder() -> Image.Image:
    """Escalation levels (left) matched with the staff response at each step (right)."""
    img = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(img)
    title_font, step_font, body_font = font(32, bold=True), font(22, bold=True), font(18)
    centred_lines(draw, ["The de-escalation ladder"], title_font, WIDTH / 2, 18, INK, 38)

    steps = [  # bottom → top
        ("Calm", (25, 135, 84), "Build rapport: greet, know names, keep promises"),
        ("Tension", (102, 153, 51), "Notice the change; ask what is wrong; listen"),
        ("Agitation", (230, 160, 0), "Calm voice, space, name the feeling, offer choices"),
        ("Aggression", (220, 100, 30), "Keep distance, call for support, keep talking"),
        ("Crisis", (200, 35, 51), "Team response; force only as a lawful last resort"),
    ]
    step_h, step_w, base_y, left0, shift = 72, 250, 505, 40, 44
    for i, (label, colour, action) in enumerate(steps):
        x0 = left0 + i * shift
        y1 = base_y - i * (step_h + 8)
        y0 = y1 - step_h
        draw.rounded_rectangle([x0, y0, x0 + step_w, y1], radius=10, fill=colour)
        centred_lines(draw, [label], step_font, x0 + step_w / 2, y0 + step_h / 2 - 14, WHITE,
                      28)
        # Arrow to the action.
        ax = x0 + step_w + 12
        mid = (y0 + y1) / 2
        draw.line([(ax, mid), (ax + 30, mid)], fill=MUTED, width=3)
        draw.polygon([(ax + 30, mid - 7), (ax + 42, mid), (ax + 30, mid + 7)], fill=MUTED)
        box_left = ax + 50
        box_w = WIDTH - 30 - box_left
        draw.rounded_rectangle([box_left, y0 + 4, box_left + box_w, y1 - 4], radius=8,
                               fill=WHITE, outline=colour, width=3)
        lines = wrap(draw, action, body_font, box_w - 20)
        text_top = mid - len(lines) * 22 / 2
        for n, line in enumerate(lines):
            draw.text((box_left + 12, text_top + n * 22), line, font=body_font, fill=INK)
    # Direction hint: step down as soon as you can.
    draw.text((left0, 60), "Escalation rises step by step; aim to bring it down one step at a time.",
              font=font(17), fill=MUTED)
    return img


DIAGRAMS: dict[str, tuple[str, Callable[[], Image.Image]]] = {
    "three-dimensions-of-security.png": ("dynamic-security", three_dimensions),
    "de-escalation-ladder.png": ("de-escalation", deescalation_ladder),
}


def save_small(img: Image.Image, path: Path) -> int:
    """Save as a palette PNG (flat colours compress well); return the byte size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    small = img.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, format="PNG", optimize=True)
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="courses folder to write <course>/media/<name>.png into")
    args = parser.parse_args(argv)
    status = 0
    for name, (course, draw_fn) in DIAGRAMS.items():
        path = args.out / course / "media" / name
        try:
            size = save_small(draw_fn(), path)
        except OSError as exc:
            print(f"cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        verdict = "ok" if size <= MAX_BYTES else f"TOO BIG (limit {MAX_BYTES})"
        print(f"{path}: {size} bytes {verdict}")
        if size > MAX_BYTES:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
