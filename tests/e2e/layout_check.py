"""The layout check of the browser tests: is anything on the screen clipped, cut off or
broken inside a word, and is the screen's primary action visible without scrolling?

It reads Flutter's semantics tree (one ``flt-semantics`` element per node, with its box
and accessible name) and compares each box with the viewport and with its own text,
measured in the bundled DejaVu Sans at the *smallest* size the theme can draw that kind
of node at the current text size. That makes every finding a certain one (a lower
bound: the real text is at least that wide):

* **outside** — a named node reaches past the left or right edge of the viewport;
* **word** — a word of its name is wider than the node (the text must break inside the
  word, or is cut: "Kaz/lauskas", "Self-assessmen/t");
* **line** — a one-line control (a button or chip lower than two lines of its label
  font plus padding) whose whole name is wider than the node less 8 px of padding (a label
  cut at the end: "1 · Performs with close…");
* **small** — an interactive node under 48 × 48 px: a control (button, checkbox, radio,
  switch, tab, menu item), anything Flutter marks tappable, a text field or slider
  (inline links in a lesson's sentences are exempt, WCAG 2.5.8);
* **hidden action** — the primary action is not fully inside the viewport.

Icon-sized square nodes (≤ 60 px) and navigation tabs are checked for the edges only:
their name is a screen-reader label (a tab's label may be hidden on a narrow screen, a
decision unit-tested in tests/unit/test_shift_proof.py), not drawn text. Sizes are judged
only on nodes clear of their ancestors' edges (a node half scrolled out of view reports
its visible part).

Waiting is for an event: the semantics boxes staying the same across a few animation
frames (layout settled), never a fixed sleep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SETTLE_JS = """() => {
  const sig = [...document.querySelectorAll('flt-semantics')].map(e => {
    const r = e.getBoundingClientRect();
    return [r.x | 0, r.y | 0, r.width | 0, r.height | 0, e.getAttribute('aria-label') || '',
            e.textContent.length].join(',');
  }).join(';') + '|' + window.innerWidth + 'x' + window.innerHeight;
  const same = sig === window.__layoutSig;
  window.__layoutSig = sig;
  window.__layoutStable = same ? (window.__layoutStable || 0) + 1 : 0;
  return window.__layoutStable >= 3;
}"""

FONT_JS = """async () => {
  if (!window.__checkFont) {
    const face = new FontFace('ShiftCheck', 'url(/fonts/DejaVuSans.ttf)');
    await face.load();
    document.fonts.add(face);
    window.__checkFont = true;
  }
  return true;
}"""

CHECK_JS = """([textPx, labelPx, buttonPx]) => {
  const W = window.innerWidth;
  const ctx = (window.__measure ||= document.createElement('canvas').getContext('2d'));
  const width = (text, px) => { ctx.font = `${px}px ShiftCheck`; return ctx.measureText(text).width; };
  const CONTROLS = new Set(['button', 'checkbox', 'radio', 'switch', 'tab', 'link', 'menuitem']);
  const out = [];
  for (const el of document.querySelectorAll('flt-semantics')) {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    let name = el.getAttribute('aria-label') || '';
    if (!name && el.children.length === 0) name = el.textContent || '';
    if (!name) {
      const span = el.querySelector(':scope > span');
      if (span) name = span.textContent || '';
    }
    name = name.trim();
    const role = el.getAttribute('role') || '';
    const control = CONTROLS.has(role);
    const where = `${role || 'text'} "${name.slice(0, 60)}" at ${r.x | 0},${r.y | 0} ${r.width | 0}x${r.height | 0}`;
    // A node cut by a scrolling ancestor (half scrolled out of view) reports the visible
    // part only: sizes are judged on nodes clear of their ancestors' edges.
    let clipped = false;
    for (let a = el.parentElement; a; a = a.parentElement) {
      if (a.tagName !== 'FLT-SEMANTICS') continue;
      const p = a.getBoundingClientRect();
      if (p.height < 1) continue;
      if (r.bottom >= p.bottom - 1 || r.top <= p.top + 1) { clipped = true; break; }
    }
    // Every interactive node, named or not, is a 48 px touch target: a control role,
    // anything Flutter marks tappable, a text field or slider. Inline links (in a
    // sentence of a lesson) are exempt (WCAG 2.5.8's inline exception).
    const interactive = (control && role !== 'link') || el.hasAttribute('flt-tappable')
        || ['slider', 'textbox', 'combobox', 'spinbutton'].includes(role)
        || el.querySelector(':scope > input, :scope > textarea') !== null;
    if (interactive && !clipped && (r.height < 47.5 || r.width < 47.5)
        && el.getAttribute('aria-disabled') !== 'true')
      out.push(`small (< 48 px): ${where}`);
    if (!name) continue;
    const px = control ? labelPx : textPx;
    // An icon (or icon button): its name is a label for screen readers, not drawn text.
    // (A node cut by the scroll edge shows only part of its square: icon-sized too.)
    const icon = r.width <= 60 && (Math.abs(r.width - r.height) <= 8 || clipped);
    if (r.left < -1 || r.right > W + 1) out.push(`outside: ${where}`);
    // An icon's name, and a navigation tab's (label and tooltip; the label may be hidden
    // on a narrow screen, app/ui/widgets.py labels_fit — unit-tested), are not drawn text.
    if (icon || role === 'tab') continue;
    // Flutter's text-field counter draws "0/80"; "80 characters remaining" is its label.
    if (/^\\d+ characters? remaining$/.test(name)) continue;
    const room = r.width;
    for (const word of name.split(/[\\s\\u00a0\\-\\u2010\\u2011\\/·]+/)) {
      if (word && width(word, px) > room + 1) {
        out.push(`word "${word}" (${width(word, px) | 0}px): ${where}`);
        break;
      }
    }
    // A button or chip label (label large): a node lower than two lines of it plus
    // 8 px of padding can only show one line, and must hold the whole name.
    const oneLine = r.height < 2 * buttonPx * 1.16 + 8;
    if (control && role !== 'tab' && oneLine && !name.includes('\\n')
        && width(name, buttonPx) > r.width - 8) {
      out.push(`line (${width(name, buttonPx) | 0}px): ${where}`);
    }
  }
  return out;
}"""


@dataclass(frozen=True)
class FontFloor:
    """The smallest text size (px) the theme draws at a text-size setting: label small,
    12 × min(scale, label cap) — app/ui/theme.py. One floor for text and controls keeps
    every finding certain (a plain Text may use a label style too)."""

    text: float
    label: float
    button: float = 0.0     # button and chip labels (label large, 15 px × capped scale)


def font_floor(scale: float, label_cap: float) -> FontFloor:
    px = 12 * min(scale, label_cap)
    return FontFloor(text=px, label=px, button=15 * min(scale, label_cap))


def settle(page: Any, timeout: float = 20_000) -> None:
    """Wait until the semantics boxes stop changing (layout and animations done)."""
    page.evaluate("() => { window.__layoutSig = ''; window.__layoutStable = 0; }")
    page.wait_for_function(SETTLE_JS, polling=100, timeout=timeout)


def check_layout(page: Any, floor: FontFloor) -> list[str]:
    page.evaluate(FONT_JS)
    return list(page.evaluate(CHECK_JS, [floor.text, floor.label, floor.button]))


def action_visible(page: Any, name: str) -> str | None:
    """None when the button `name` is fully on screen; else what is wrong."""
    loc = page.get_by_role("button", name=name, exact=True).first
    if loc.count() == 0:
        return f"hidden action: no button {name!r}"
    box = loc.bounding_box()
    size = page.viewport_size
    if box is None or box["y"] < 0 or box["y"] + box["height"] > size["height"] + 1 \
            or box["x"] < 0 or box["x"] + box["width"] > size["width"] + 1:
        return f"hidden action: {name!r} at {box} in {size}"
    return None
