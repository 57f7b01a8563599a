"""Reading "when did the screen settle?" out of a Chromium trace (benchmarks/ui_render.py).

A presented frame is a ``Display::DrawAndSwap`` event of the viz display compositor (the
GPU process's VizCompositorThread): the step that puts a new picture on the screen,
whatever made it — the page's main thread, Flutter's single-threaded skwasm renderer
(raster on the main thread) or its multi-threaded one (raster in a worker, handed back
as an ImageBitmap / OffscreenCanvas frame). viz draws only when something was damaged, so
an idle page presents no frames at all.

"Settled" = the last presented frame before the screen stays still for ``quiet_us`` of
*trace time*: the first frame at or after the moment the new screen's text entered the
semantics DOM (a ``performance.mark`` stamped by a MutationObserver in the page) that is
followed by a gap of at least ``quiet_us`` without a frame (or by the end of the watched
time). Starting the search at the text's arrival keeps a pause in the middle of loading
(the page waiting for its WebAssembly or its WebSocket) from being taken for the end,
and is right for both renderers: single-threaded skwasm draws before it updates the
semantics, yet its frame is presented only after that task; multi-threaded skwasm's
frame comes after the semantics update. No wall-clock sleep is part of the criterion;
the trace only has to be long enough to contain the quiet gap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PRESENTED_FRAME = "Display::DrawAndSwap"
TAP_EVENT_TYPES = ("pointerdown", "mousedown", "touchstart")

# Trace categories enough for the events read here (frames, marks, DOM input events),
# plus the frame pipeline for a person opening the trace in chrome://tracing / Perfetto.
CATEGORIES = ["viz", "devtools.timeline", "blink.user_timing", "benchmark",
              "disabled-by-default-devtools.timeline.frame"]

Event = Mapping[str, Any]

# In the page: window.__uiBenchWatch(text) stamps performance.mark("ui-bench-text:" +
# text) when the text (a text node or an aria-label, as Playwright's get_by_text /
# get_by_label would find it) enters Flutter's semantics DOM. Installed as an init script
# (so a navigation's new document watches from its first moment) and called before taps.
WATCH_JS = """
(() => {
  const has = (text) => {
    const root = document.querySelector('flt-semantics-host') || document.body;
    if (!root) return false;
    if ((root.textContent || '').includes(text)) return true;
    for (const el of root.querySelectorAll('[aria-label]'))
      if ((el.getAttribute('aria-label') || '').includes(text)) return true;
    return false;
  };
  window.__uiBenchWatch = (text) => {
    if (has(text)) throw new Error('ui-bench: already on screen before the input: ' + text);
    const obs = new MutationObserver(() => {
      if (has(text)) { performance.mark('ui-bench-text:' + text); obs.disconnect(); }
    });
    obs.observe(document, {subtree: true, childList: true,
      characterData: true, attributes: true, attributeFilter: ['aria-label']});
  };
  for (const text of TEXTS) window.__uiBenchWatch(text);
})();
"""


def watch_script(texts_on_load: list[str]) -> str:
    """The page script, watching for ``texts_on_load`` from a document's first moment."""
    return WATCH_JS.replace("TEXTS", json.dumps(texts_on_load))



class TraceError(ValueError):
    """The trace lacks what a figure needs (a mark, an input event)."""


def load_events(raw: bytes) -> list[Event]:
    """The events of a JSON trace (either the ``{"traceEvents": [...]}`` object that
    Playwright's ``stop_tracing`` returns or a bare list)."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise TraceError(f"not a Chromium trace: not JSON ({exc})") from exc
    events = doc.get("traceEvents") if isinstance(doc, dict) else doc
    if not isinstance(events, list):
        raise TraceError("not a Chromium trace: no traceEvents list")
    return [e for e in events if isinstance(e, dict)]


def mark_ts(events: Iterable[Event], name: str) -> int:
    """Trace time (µs) of the last ``performance.mark(name)`` in the trace."""
    found = [int(e["ts"]) for e in events
             if e.get("name") == name and "blink.user_timing" in str(e.get("cat", ""))
             and "ts" in e]
    if not found:
        raise TraceError(f"no performance.mark({name!r}) in the trace")
    return max(found)


def first_input_ts(events: Iterable[Event], after_us: int,
                   types: tuple[str, ...] = TAP_EVENT_TYPES) -> int | None:
    """Trace time of the first DOM input event of one of ``types`` dispatched at or
    after ``after_us`` (the moment the finger lands), or None."""
    best: int | None = None
    for e in events:
        if e.get("name") != "EventDispatch" or int(e.get("ts", -1)) < after_us:
            continue
        data = (e.get("args") or {}).get("data") or {}
        if data.get("type") in types and (best is None or int(e["ts"]) < best):
            best = int(e["ts"])
    return best


def presented_frames(events: Iterable[Event]) -> list[int]:
    """Sorted trace times (µs, end of the draw) of the frames put on screen."""
    return sorted(int(e["ts"]) + int(e.get("dur", 0)) for e in events
                  if e.get("name") == PRESENTED_FRAME and "ts" in e)


def settled_frame(frames: list[int], shown_us: int, end_us: int, quiet_us: int) -> int | None:
    """The first frame presented at or after ``shown_us`` that is followed by a gap of at
    least ``quiet_us`` without a frame (the end of the watched time, ``end_us``, closes
    the last gap); None when there is none: no frame after ``shown_us``, or the frames
    had not gone quiet by ``end_us`` (the trace was too short to tell)."""
    after = [f for f in frames if f >= shown_us]
    for here, nxt in zip(after, [*after[1:], end_us], strict=False):
        if nxt - here >= quiet_us:
            return here
    return None


@dataclass(frozen=True)
class Timing:
    """One navigation read from its trace, in ms from the input."""

    text_ms: float  # the new text entered the semantics DOM
    settled_ms: float | None  # the screen's last frame before quiet; None: not settled


def text_mark(text: str) -> str:
    """The mark the page's MutationObserver stamps when ``text`` enters the semantics."""
    return f"ui-bench-text:{text}"


def read_timing(events: Sequence[Event], start_mark: str, text: str, end_mark: str,
                quiet_ms: float, from_input: bool) -> Timing:
    """Input → text in the semantics DOM, and input → settled frame. The input is the
    first pointer-down after ``start_mark`` when ``from_input``, else the mark itself
    (a navigation). ``end_mark`` is stamped just before the trace stops: an idle browser
    records nothing, so the last event recorded is not the end of the watched time."""
    start = mark_ts(events, start_mark)
    if from_input:
        tap = first_input_ts(events, start)
        if tap is None:
            raise TraceError(f"no pointer-down after performance.mark({start_mark!r})")
        start = tap
    shown = mark_ts(events, text_mark(text))
    settled = settled_frame(presented_frames(events), shown, mark_ts(events, end_mark),
                            int(quiet_ms * 1000))
    return Timing((shown - start) / 1000,
                  None if settled is None else (settled - start) / 1000)
