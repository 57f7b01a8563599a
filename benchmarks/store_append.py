"""Durable Store.append at 1,000 and 20,000 events of history, as ratios to an fsync'd
append of the same bytes to a plain file measured in the same run.

Targets (issue 3): store ≤ 3× the plain fsync'd append; 20k figure ≤ 1.5× the 1k figure.
For comparison: one insert into a plain TinyDB JSONStorage file holding 20k documents.

The encrypted store (issue 15 item 5: every record AES-256-GCM, app/core/store/sealed.py)
is measured the same way at 1k, 5k and 20k events (`measure_sealed`, `sealed_rows`;
``--sealed-only`` runs just that): same targets, ≤ 3× the plain fsync'd append and flat.

Rounds interleave the baseline and both stores so that disk-speed drift hits all alike;
each figure is the median over rounds of the mean time per append (the mean includes the
amortised journal folds). Runs in well under 2 minutes: `python benchmarks/store_append.py`
(`--quick` for a smoke run). `rows(quick)` gives the three figures with a target to
`make bench` (benchmarks/table.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinydb import TinyDB  # noqa: E402
from tinydb.storages import JSONStorage  # noqa: E402

from app.core.store import Store  # noqa: E402
from app.core.store.history import HISTORY_CACHE_BYTES  # noqa: E402
from app.core.store.keys import FixedKey  # noqa: E402
from app.core.store.records import encode_record  # noqa: E402

LEARNER = "9b1e0000-0000-4000-8000-000000000001"
Row = tuple[str, str, str, float, str, bool]


def make_event(i: int) -> dict:
    return {"learner": LEARNER, "type": "answer.given", "pack": "promote-core",
            "pack_version": 3,
            "ref": {"course": "dynamic-security", "attempt": f"a-{i // 10}",
                    "question": f"q{i % 10}"},
            "data": {"choice": ["b"], "correct": i % 3 == 0, "score": 1, "ms": 5400 + i}}


def fill(store: Store, n: int) -> None:
    """Build history with real appends; fsync is skipped while filling (not measured) so
    the run stays well under 2 minutes — the files are the same as with fsync."""
    real_fsync = os.fsync
    os.fsync = lambda fd: None
    try:
        for i in range(n):
            store.append(make_event(i))
    finally:
        os.fsync = real_fsync


def time_store(store: Store, n: int, offset: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        store.append(make_event(offset + i))
        out.append(time.perf_counter() - start)
    return out


def time_events(store: Store) -> tuple[int, float, float]:
    """(events, seconds of the first events() call, seconds of a second call)."""
    t = time.perf_counter()
    n = len(store.events(LEARNER))
    first = time.perf_counter() - t
    t = time.perf_counter()
    store.events(LEARNER)
    return n, first, time.perf_counter() - t


def time_plain(fd: int, line: bytes, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        os.write(fd, line)
        os.fsync(fd)
        out.append(time.perf_counter() - start)
    return out


def time_tinydb(path: Path, history: int, n: int) -> list[float]:
    db = TinyDB(path, storage=JSONStorage)
    table = db.table("events")
    table.insert_multiple({"event": make_event(i), "local": True} for i in range(history))
    out = []
    for i in range(n):
        start = time.perf_counter()
        table.insert({"event": make_event(history + i), "local": True})
        out.append(time.perf_counter() - start)
    db.close()
    return out


def measure(quick: bool) -> dict[str, Any]:
    """Every figure of the run (seconds), with the sizes it used."""
    small, large = (1_000, 20_000) if not quick else (200, 2_000)
    rounds, per_round = (7, 200) if not quick else (2, 50)
    started = time.perf_counter()
    # var/ (git-ignored) is on the project's disk; /tmp may be a RAM disk elsewhere
    scratch = Path(__file__).resolve().parents[1] / "var"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix="bench-store-") as tmp:
        root = Path(tmp)
        s1 = Store.open(root / "s1k")
        s20 = Store.open(root / "s20k")
        fill(s1, small)
        t = time.perf_counter()
        fill(s20, large)
        fill_s = time.perf_counter() - t
        probe = dict(make_event(0), id="3f0c2a9e-0000-4000-8000-000000000000",
                     device=s1.device_id, seq=123456, at="2026-11-23T15:38:28.123Z")
        line = encode_record(probe)
        fd = os.open(root / "plain.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        base, st1, st20 = [], [], []
        offset = large
        for _ in range(rounds):
            base.append(statistics.fmean(time_plain(fd, line, per_round)))
            st1.append(statistics.fmean(time_store(s1, per_round, offset)))
            st20.append(statistics.fmean(time_store(s20, per_round, offset)))
            offset += per_round
        os.close(fd)
        s1.close()
        s20.close()
        t = time.perf_counter()
        reopened = Store.open(root / "s20k")
        open_s = time.perf_counter() - t
        history, read_s, again_s = time_events(reopened)   # beyond the default cache bound
        outbox_bytes = reopened.storage_bytes()
        reopened.close()
        with Store.open(root / "s1k") as small_store:        # within the default bound
            small_history, small_read_s, small_cached_s = time_events(small_store)
        with Store.open(root / "s20k", history_cache_bytes=0) as no_cache:
            _, _, uncached_s = time_events(no_cache)
        tiny = time_tinydb(root / "tinydb.json", large, 5 if not quick else 2)

    return {"small": small, "large": large, "rounds": rounds, "per_round": per_round,
            "line": len(line), "base": statistics.median(base),
            "a1": statistics.median(st1), "a20": statistics.median(st20),
            "tiny": statistics.fmean(tiny), "open_s": open_s, "history": history,
            "read_s": read_s, "again_s": again_s, "outbox_bytes": outbox_bytes,
            "fill_s": fill_s, "small_history": small_history, "small_read_s": small_read_s,
            "small_cached_s": small_cached_s, "uncached_s": uncached_s,
            "total_s": time.perf_counter() - started}


def measure_sealed(quick: bool) -> dict[str, Any]:
    """Durable append of encrypted stores at 1k, 5k and 20k events of history, rounds
    interleaved with the fsync'd plain append (seconds per append, medians of means)."""
    sizes = (1_000, 5_000, 20_000) if not quick else (200, 1_000, 2_000)
    rounds, per_round = (7, 200) if not quick else (2, 50)
    scratch = Path(__file__).resolve().parents[1] / "var"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix="bench-sealed-") as tmp:
        root = Path(tmp)
        stores = [Store.open(root / f"s{n}", keys=FixedKey(os.urandom(32), created=True))
                  for n in sizes]
        for store, n in zip(stores, sizes, strict=True):
            fill(store, n)
        probe = dict(make_event(0), id="3f0c2a9e-0000-4000-8000-000000000000",
                     device=stores[0].device_id, seq=123456, at="2026-11-23T15:38:28.123Z")
        line = encode_record(probe)
        fd = os.open(root / "plain.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        base: list[float] = []
        times: list[list[float]] = [[] for _ in sizes]
        offset = max(sizes)
        for _ in range(rounds):
            base.append(statistics.fmean(time_plain(fd, line, per_round)))
            for store, out in zip(stores, times, strict=True):
                out.append(statistics.fmean(time_store(store, per_round, offset)))
            offset += per_round
        os.close(fd)
        for store in stores:
            store.close()
    return {"sizes": sizes, "base": statistics.median(base),
            "sealed": [statistics.median(t) for t in times]}


def sealed_rows(quick: bool = False, log: Callable[[str], None] = lambda s: None) -> list[Row]:
    """The encrypted store's rows (benchmarks/table.py, issue 15): each size ≤ 3× the
    plain fsync'd append, and the largest ≤ 1.5× the smallest."""
    log("encrypted store append …")
    got = measure_sealed(quick)
    b, sizes, sealed = got["base"], got["sizes"], got["sealed"]
    base = f"{b * 1e3:.3f} ms plain fsync'd append"
    out: list[Row] = [(f"encrypted Store.append at {n:,} events", f"{t * 1e3:.3f} ms", base,
                       t / b, "≤ 3×", t / b <= 3) for n, t in zip(sizes, sealed, strict=True)]
    out.append((f"encrypted Store.append flatness, {sizes[-1]:,} vs {sizes[0]:,}",
                f"{sealed[-1] * 1e3:.3f} ms", f"{sealed[0] * 1e3:.3f} ms at {sizes[0]:,}",
                sealed[-1] / sealed[0], "≤ 1.5×", sealed[-1] / sealed[0] <= 1.5))
    return out


def print_sealed(quick: bool) -> bool:
    got = measure_sealed(quick)
    b = got["base"]
    print(f"encrypted store (AES-256-GCM per record); baseline fsync'd plain append "
          f"{b * 1e3:7.3f} ms")
    for n, t in zip(got["sizes"], got["sealed"], strict=True):
        print(f"encrypted Store.append at {n:>6,} events  {t * 1e3:7.3f} ms  {t / b:5.2f}x"
              f"  (target <= 3x)")
    flat = got["sealed"][-1] / got["sealed"][0]
    print(f"encrypted flatness {got['sizes'][-1]:,} / {got['sizes'][0]:,}          "
          f"{flat:5.2f}x  (target <= 1.5x)")
    return all(t / b <= 3 for t in got["sealed"]) and flat <= 1.5


def rows(quick: bool = False, log: Callable[[str], None] = lambda s: None) -> list[Row]:
    """The table rows (benchmarks/table.py): the three figures with a target (issue 3)."""
    log("store append …")
    got = measure(quick)
    b, a1, a20 = got["base"], got["a1"], got["a20"]
    base = f"{b * 1e3:.3f} ms plain fsync'd append"
    return [
        (f"Store.append at {got['small']:,} events of history", f"{a1 * 1e3:.3f} ms", base,
         a1 / b, "≤ 3×", a1 / b <= 3),
        (f"Store.append at {got['large']:,} events of history", f"{a20 * 1e3:.3f} ms", base,
         a20 / b, "≤ 3×", a20 / b <= 3),
        (f"Store.append flatness, {got['large']:,} vs {got['small']:,}", f"{a20 * 1e3:.3f} ms",
         f"{a1 * 1e3:.3f} ms at {got['small']:,}", a20 / a1, "≤ 1.5×", a20 / a1 <= 1.5),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run (smoke test)")
    parser.add_argument("--sealed-only", action="store_true",
                        help="only the encrypted store (issue 15)")
    args = parser.parse_args()
    if args.sealed_only:
        print("targets met" if print_sealed(args.quick) else "TARGETS MISSED")
        return 0
    got = measure(args.quick)
    small, large, rounds, per_round = got["small"], got["large"], got["rounds"], got["per_round"]
    b, a1, a20, tiny_mean = got["base"], got["a1"], got["a20"], got["tiny"]
    open_s, history, read_s, again_s = got["open_s"], got["history"], got["read_s"], got["again_s"]
    outbox_bytes, fill_s, uncached_s = got["outbox_bytes"], got["fill_s"], got["uncached_s"]
    small_history, small_read_s = got["small_history"], got["small_read_s"]
    small_cached_s = got["small_cached_s"]
    print(f"line size {got['line']} B; {rounds} rounds x {per_round} appends each")
    print(f"baseline  fsync'd append to a plain file     {b * 1e3:7.3f} ms   1.00x")
    print(f"Store.append at {small:>6,} events of history  {a1 * 1e3:7.3f} ms  {a1 / b:5.2f}x"
          f"  (target <= 3x)")
    print(f"Store.append at {large:>6,} events of history  {a20 * 1e3:7.3f} ms  {a20 / b:5.2f}x"
          f"  (target <= 3x)")
    print(f"flatness: {large:,} / {small:,} figure                        {a20 / a1:5.2f}x"
          f"  (target <= 1.5x)")
    print(f"plain TinyDB JSONStorage insert at {large:,}     {tiny_mean * 1e3:7.1f} ms "
          f"{tiny_mean / b:6.0f}x  (for comparison; not crash-safe)")
    print(f"info: open at {large:,} {open_s * 1e3:.0f} ms, events() of {history:,} "
          f"{read_s * 1e3:.0f} ms, {outbox_bytes / 1e6:.1f} MB on disk "
          f"(all unacknowledged), fill {fill_s:.1f} s, total {got['total_s']:.0f} s")
    print(f"events(): a second call for the same learner comes from the history cache "
          f"(bound {HISTORY_CACHE_BYTES / 2**20:.0f} MiB of marshal bytes)")
    print(f"  {history:>6,} events   first {read_s * 1e3:7.1f} ms, again {again_s * 1e3:6.1f} ms "
          f"{read_s / again_s:5.1f}x faster;  second call without cache "
          f"{uncached_s * 1e3:6.1f} ms  ({uncached_s / again_s:4.1f}x the cached call)")
    print(f"  {small_history:>6,} events   first {small_read_s * 1e3:7.1f} ms, again "
          f"{small_cached_s * 1e3:6.1f} ms {small_read_s / small_cached_s:5.1f}x faster")
    ok = a1 / b <= 3 and a20 / b <= 3 and a20 / a1 <= 1.5
    ok = print_sealed(args.quick) and ok
    print("targets met" if ok else "TARGETS MISSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
