"""The shared event checks per pushed event (issue 18), next to msgspec's decode of the same
push body measured in the same run:

    python benchmarks/event_checks.py [--quick] [--events 10000] [--repeat 7]

What the server runs for every pushed event besides the database: the envelope
(`app.core.events.validated_json`, with the push's msgspec encoder) and the payload
(`app.core.learning.payloads.check_payload`) — the same code the tablet runs. Measured on
the ingest benchmark's mix (benchmarks/server_ingest.py `make_chunks`: 80 % card.viewed,
10 % answer.given, 5 % quiz.submitted, 5 % selfassessment.rated), best of `repeat` runs,
µs per event:

* baseline: `sync_server.fastjson.decode` of the chunk bodies (the push's parse);
* before: decode + the checks as they were (tests/support/reference_events.py, the
  oracle the equivalence tests hold the new code to), chunk by chunk as the push runs;
* after: decode + today's checks.

Target (the helper brief of issue 18): parse + checks ≤ 3.5 µs per event. `rows()` gives
the figure to `make bench` as an "(information)" row (it never fails the table): the
issue's target is the ingest ratio (server_ingest.py); this one says where that time goes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.events import validated_json  # noqa: E402
from app.core.learning.payloads import check_payload  # noqa: E402
from benchmarks.server_ingest import make_chunks  # noqa: E402
from sync_server import fastjson  # noqa: E402
from tests.support import reference_events as before  # noqa: E402
from tests.support.server import make_profile  # noqa: E402

TARGET_US = 3.5
Row = tuple[str, str, str, float, str, bool]
Checks = Callable[..., Any]


def bodies(n_events: int) -> list[bytes]:
    profiles = [make_profile(f"Learner {i}") for i in range(20)]
    chunks = make_chunks(profiles, "dev-bench", n_events, 1)
    return [json.dumps({"events": chunk}).encode() for chunk in chunks]


def _timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _parse_and_check(raw: list[bytes], validate: Checks, payload: Checks) -> None:
    """What the push does before the database, chunk by chunk: decode, then check."""
    encode = fastjson.canonical
    for body in raw:
        decoded = fastjson.decode(body)
        assert decoded is not None
        for event in decoded.value["events"]:
            validate(event, encode=encode)
            payload(event)


def measure(n_events: int, repeat: int) -> dict[str, float]:
    """µs per event: decode (the baseline), before and after (decode + checks, chunk by
    chunk as the push does), best of `repeat` interleaved runs."""
    raw = bodies(n_events)
    decoded = [fastjson.decode(body) for body in raw]
    assert all(d is not None and d.plain_floats for d in decoded)
    n = sum(len(d.value["events"]) for d in decoded if d is not None)

    def decode() -> None:
        for body in raw:
            fastjson.decode(body)

    got = dict.fromkeys(("decode", "before", "after"), float("inf"))
    for _ in range(repeat):          # interleaved, so all three see the same machine load
        got["decode"] = min(got["decode"], _timed(decode))
        got["before"] = min(got["before"], _timed(lambda: _parse_and_check(
            raw, before.validated_json, before.check_payload)))
        got["after"] = min(got["after"], _timed(lambda: _parse_and_check(
            raw, validated_json, check_payload)))
    return {k: v / n * 1e6 for k, v in got.items()}


def rows(quick: bool = False, log: Callable[[str], None] = lambda s: None) -> list[Row]:
    """One "(information)" row for benchmarks/table.py: parse + checks per event."""
    n = 2_000 if quick else 10_000
    log(f"event checks: {n:,} events …")
    got = measure(n, 3 if quick else 7)
    total = got["after"]
    return [(f"parse + event checks per pushed event (before {got['before']:.2f} µs)",
             f"{total:.2f} µs", f"{got['decode']:.2f} µs msgspec decode",
             total / got["decode"], f"(information; brief: ≤ {TARGET_US} µs)", True)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 2_000 if args.quick else args.events
    got = measure(n, 3 if args.quick else args.repeat)
    d, b, a = got["decode"], got["before"], got["after"]
    print(f"event checks, {n:,} events of the ingest mix, in chunks of 500 "
          f"(µs per event, best of runs)")
    print(f"  baseline  msgspec decode of the body      {d:6.2f} µs = 1.00")
    print(f"  before    decode + checks {b:6.2f} µs = {b / d:.2f} ×   (checks {b - d:.2f} µs)")
    print(f"  after     decode + checks {a:6.2f} µs = {a / d:.2f} ×   (checks {a - d:.2f} µs)")
    print(f"  after / before: {a / b:.2f} (checks alone {(a - d) / (b - d):.2f});  "
          f"target decode + checks ≤ {TARGET_US} µs: {'pass' if a <= TARGET_US else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
