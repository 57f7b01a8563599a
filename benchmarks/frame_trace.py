"""Reading "when did the screen settle?" out of a Chromium trace (benchmarks/ui_render.py).

A presented frame is a ``Display::DrawAndSwap`` event of the viz display compositor (the
GPU process's VizCompositorThread): the step that puts a new picture on the screen,
whatever made it — the page's main thread, Flutter's single-threaded skwasm renderer
(raster on the main thread) or its multi-threaded one (raster in a worker, handed back
as an ImageBitmap / OffscreenCanvas frame). viz draws only when something was damaged, so
an idle page presents no frames at all.

"Settled" = the last presented frame before the screen stays still for ``quiet_us`` of
*trace time*: the first gap of at least ``quiet_us`` without a frame (or the end of the
trace, if it came ``quiet_us`` after the last frame) that has not already ended before
``seen_us`` — the moment the harness saw the new screen's text, so that a pause in the
middle of loading (the page waiting for its WebAssembly or its WebSocket) is not taken
for the end. No wall-clock sleep is part of the criterion; the trace only has to be
long enough to contain the quiet gap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

PRESENTED_FRAME = "Display::DrawAndSwap"
TAP_EVENT_TYPES = ("pointerdown", "mousedown", "touchstart")

# Trace categories enough for the events read here (frames, marks, DOM input events),
# plus the frame pipeline for a person opening the trace in chrome://tracing / Perfetto.
CATEGORIES = ["viz", "devtools.timeline", "blink.user_timing", "benchmark",
              "disabled-by-default-devtools.timeline.frame"]

Event = Mapping[str, Any]


class TraceError(ValueError):
    """The trace lacks what a figure needs (a mark, an input event)."""


def load_events(raw: bytes) -> list[Event]:
    """The events of a JSON trace (either the ``{"traceEvents": [...]}`` object that
    Playwright's ``stop_tracing`` returns or a bare list)."""
    doc = json.loads(raw)
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


def settled_frame(frames: list[int], start_us: int, seen_us: int, end_us: int,
                  quiet_us: int) -> int | None:
    """The last frame presented after ``start_us`` before the first quiet gap (≥
    ``quiet_us`` without a frame) that has not ended before ``seen_us``; None when the
    frames had not gone quiet by ``end_us`` (the trace was too short to tell)."""
    after = [f for f in frames if f >= start_us]
    if not after:
        return None
    for here, nxt in zip(after, [*after[1:], None], strict=True):
        gap_end = end_us if nxt is None else nxt
        if gap_end - here >= quiet_us and gap_end > seen_us:
            return here
    return None


def tap_to_settled_ms(events: list[Event], start_mark: str, seen_mark: str, end_mark: str,
                      quiet_ms: float, from_input: bool) -> float | None:
    """Milliseconds from the input (the first pointer-down after ``start_mark`` when
    ``from_input``, else the mark itself: a navigation) to the settled frame.
    ``end_mark`` is stamped just before the trace stops: an idle browser records
    nothing, so the last event recorded is not the end of the watched time."""
    start = mark_ts(events, start_mark)
    if from_input:
        tap = first_input_ts(events, start)
        if tap is None:
            raise TraceError(f"no pointer-down after performance.mark({start_mark!r})")
        start = tap
    settled = settled_frame(presented_frames(events), start, mark_ts(events, seen_mark),
                            mark_ts(events, end_mark), int(quiet_ms * 1000))
    return None if settled is None else (settled - start) / 1000
