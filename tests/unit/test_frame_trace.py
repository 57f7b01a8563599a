"""benchmarks/frame_trace.py: "when did the screen settle?" read from Chromium traces.

The fixtures are traces recorded by benchmarks/ui_render.py (--keep-traces) on this
project's app, trimmed to the events the reader looks at (marks, DOM input events,
presented frames, the skwasm worker's tasks, and Graphics.Pipeline.DrawAndSwap, a
look-alike that must not count): a tap on "Next" with the single-threaded renderer (the
app today), the same tap with the multi-threaded one (the app before COEP was dropped),
and a page load with a pause in the middle of loading.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.frame_trace import (
    PRESENTED_FRAME,
    Event,
    TraceError,
    first_input_ts,
    load_events,
    mark_ts,
    presented_frames,
    read_timing,
    settled_frame,
    text_mark,
    watch_script,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ui_traces"
START, END = "ui-bench-input", "ui-bench-end"


def events(name: str) -> list[Event]:
    return load_events((FIXTURES / name).read_bytes())


def ms_after(evs: list[Event], ts: int, mark: str = START) -> float:
    return (ts - mark_ts(evs, mark)) / 1000


# -- settled_frame on hand-made frame lists -------------------------------------------

def test_first_quiet_gap_after_the_text_ends_the_navigation() -> None:
    frames = [100, 116, 132, 600, 616]          # 132 → 600: quiet; a later burst after
    assert settled_frame(frames, shown_us=110, end_us=2_000, quiet_us=250) == 132


def test_a_quiet_gap_before_the_text_arrived_is_a_loading_pause_not_the_end() -> None:
    frames = [100, 900, 916, 2_000]             # 100 → 900 is before the text (850)
    assert settled_frame(frames, shown_us=850, end_us=5_000, quiet_us=250) == 916


def test_the_end_of_the_watched_time_closes_the_last_gap() -> None:
    assert settled_frame([100, 200], shown_us=50, end_us=450, quiet_us=250) == 200
    assert settled_frame([100, 200], shown_us=50, end_us=449, quiet_us=250) is None


def test_no_frame_after_the_text_is_not_settled() -> None:
    assert settled_frame([100, 200], shown_us=300, end_us=5_000, quiet_us=250) is None
    assert settled_frame([], shown_us=0, end_us=5_000, quiet_us=250) is None


def test_frames_still_going_at_the_end_are_not_settled() -> None:
    frames = list(range(0, 1_000, 16))
    assert settled_frame(frames, shown_us=0, end_us=1_000, quiet_us=250) is None


# -- recorded traces ------------------------------------------------------------------

def test_single_threaded_tap_next() -> None:
    evs = events("single_threaded_next.json")
    tap = first_input_ts(evs, mark_ts(evs, START))
    assert tap is not None and ms_after(evs, tap) == pytest.approx(134.45, abs=0.01)
    timing = read_timing(evs, START, "Card 2 of 3", END, quiet_ms=250, from_input=True)
    # Text in the semantics 83 ms after the pointer-down; frames (the tap's ink ripple
    # and the new card) until 509 ms after the start mark, then 549 ms without a frame
    # before a later burst (the pointer resting on the new button).
    assert timing.text_ms == pytest.approx(83.33, abs=0.01)
    assert timing.settled_ms == pytest.approx(374.36, abs=0.01)
    assert timing.settled_ms is not None
    frames = presented_frames(evs)
    last = tap + round(timing.settled_ms * 1000)
    later = [f for f in frames if f > last]
    assert later and later[0] - last >= 250_000


def test_multi_threaded_tap_counts_the_workers_frames() -> None:
    evs = events("multi_threaded_next.json")
    timing = read_timing(evs, START, "Card 2 of 3", END, quiet_ms=250, from_input=True)
    assert timing.text_ms == pytest.approx(120.36, abs=0.01)
    assert timing.settled_ms == pytest.approx(573.51, abs=0.01)
    assert timing.settled_ms is not None
    # The worker rasters after the semantics update (skwasm with a render worker): its
    # last raster before the quiet gap ends before the settled frame, which shows it.
    tap = first_input_ts(evs, mark_ts(evs, START))
    assert tap is not None
    settled = tap + round(timing.settled_ms * 1000)
    shown = mark_ts(evs, text_mark("Card 2 of 3"))
    worker_tasks = [e["ts"] + e["dur"] for e in evs
                    if e["name"] == "HandlePostMessage" and e.get("dur", 0) > 10_000
                    and shown < e["ts"] < settled]
    assert worker_tasks and max(worker_tasks) < settled


def test_page_load_skips_the_pause_while_loading() -> None:
    evs = events("single_threaded_goto.json")
    timing = read_timing(evs, START, "Bench", END, quiet_ms=250, from_input=False)
    assert timing.text_ms == pytest.approx(2575.26, abs=0.01)
    assert timing.settled_ms == pytest.approx(3064.51, abs=0.01)
    # There were quiet gaps of > 250 ms while the page loaded (before the text came).
    frames = [f for f in presented_frames(evs) if f >= mark_ts(evs, START)]
    shown = mark_ts(evs, text_mark("Bench"))
    early_gaps = [b - a for a, b in zip(frames, frames[1:], strict=False) if b < shown]
    assert max(early_gaps) >= 250_000


def test_look_alike_events_are_not_frames() -> None:
    evs = events("single_threaded_next.json")
    assert any(e["name"] == "Graphics.Pipeline.DrawAndSwap" for e in evs)
    assert len(presented_frames(evs)) == sum(e["name"] == PRESENTED_FRAME for e in evs)


# -- bad traces -------------------------------------------------------------------------

def test_a_missing_mark_names_the_mark() -> None:
    evs = events("single_threaded_next.json")
    with pytest.raises(TraceError, match="Card 9 of 3"):
        read_timing(evs, START, "Card 9 of 3", END, quiet_ms=250, from_input=True)


def test_a_tap_without_a_pointer_down_is_refused() -> None:
    evs = [e for e in events("single_threaded_next.json") if e["name"] != "EventDispatch"]
    with pytest.raises(TraceError, match="pointer-down"):
        read_timing(evs, START, "Card 2 of 3", END, quiet_ms=250, from_input=True)


@pytest.mark.parametrize("raw", [b'{"traceEvents": 3}', b"7", b'"x"', b"{", b"\xff"])
def test_not_a_trace_is_refused(raw: bytes) -> None:
    with pytest.raises(TraceError, match="not a Chromium trace"):
        load_events(raw)


def test_garbage_events_are_skipped() -> None:
    raw = json.dumps({"traceEvents": [1, "x", None, {"name": PRESENTED_FRAME, "ts": 5}]})
    assert presented_frames(load_events(raw.encode())) == [5]


def test_watch_script_embeds_the_texts_as_json() -> None:
    script = watch_script(['He said "hi" </script>'])
    assert json.dumps(['He said "hi" </script>']) in script
    assert "TEXTS" not in script
