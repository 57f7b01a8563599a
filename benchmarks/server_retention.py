"""Daily retention at national scale (issue 18): how long the server's retention run holds
the write lock, next to a plain read of every stored event measured in the same run (what
every daily run did before it asked the index `events_at`, schema 16, first).

    python benchmarks/server_retention.py [--events 1000000] [--learners 5000] [--cache DIR]

The database is admin_dashboard.py's (the same generator: 5,000 learners, events of 2026;
reused from --cache, where that benchmark keeps it), copied first. On the copy:

  upgrade       – the first open of a database made before schema 16: the index built;
  baseline      – `SELECT COUNT(*), MAX(at) FROM events` (a read of every event);
  nothing due   – `fold_events_before` with a cutoff before every event (most days), best
                  of 3;
  a day's worth – the same with a cutoff one day into the events (the generator spreads
                  them over 336 days: ≈ 0.3 % go, a group of learners per write
                  transaction — how many, and the longest one's hold of the lock, are
                  printed), then the next day's run (nothing due again).

`--learners 500` gives the same events to 500 learners first (2,000 each instead of 200):
the staff who keep long histories, whose recompute makes a transaction longer.

Figures only: the issue sets no target for retention.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import admin_dashboard  # noqa: E402
from admin_dashboard import timed  # noqa: E402

LEARNERS = 5_000


def old_schema(path: Path) -> None:
    """The database as a server before schema 16 left it (the generator makes the latest)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP INDEX IF EXISTS events_at")
    conn.execute("DELETE FROM schema_version WHERE version >= 16")
    conn.close()


def lock_holds(repo: Any) -> list[float]:
    """Seconds each write transaction of `repo` holds its lock from then on (from the
    cursor to the end of the commit), appended to the list returned."""
    held: list[float] = []
    real = repo._write

    @contextlib.contextmanager
    def write(*locks: int, **kw: Any) -> Iterator[Any]:
        with real(*locks, **kw) as cur:
            start = time.perf_counter()
            yield cur
        held.append(time.perf_counter() - start)
    repo._write = write
    return held


def fewer_learners(path: Path, learners: int) -> None:
    """The same events owned by `learners` learners (the i-th of the generator's →
    i mod `learners`): longer histories, the same day's worth going."""
    conn = sqlite3.connect(path, isolation_level=None)
    ids = [r[0] for r in conn.execute("SELECT DISTINCT learner_id FROM events ORDER BY 1")]
    conn.execute("BEGIN")
    conn.executemany("UPDATE events SET learner_id = ? WHERE learner_id = ?",
                     [(ids[i % learners], lid) for i, lid in enumerate(ids) if i >= learners])
    conn.execute("COMMIT")
    conn.close()


def measure(source: Path, work: Path, batch: int = 5000,
            learners: int = LEARNERS) -> dict[str, float]:
    from sync_server.db import open_repository
    from sync_server.services import summary

    shutil.copyfile(source, work)
    old_schema(work)
    if learners < LEARNERS:
        fewer_learners(work, learners)
    out: dict[str, float] = {}
    opened: list[Any] = []
    out["upgrade"] = timed(lambda: opened.append(open_repository(f"sqlite:///{work}")))
    repo = opened[0]
    conn = sqlite3.connect(work)
    out["raw"] = timed(lambda: conn.execute("SELECT COUNT(*), MAX(at) FROM events").fetchone())
    conn.close()

    held = lock_holds(repo)

    def run(cutoff: str) -> tuple[float, int]:
        gone: list[int] = []
        held.clear()
        seconds = timed(lambda: gone.append(repo.fold_events_before(
            cutoff, fold=summary.fold, batch=batch)))
        return seconds, gone[0]
    out["nothing"] = min(run("2020-01-01T00:00:00.000Z")[0] for _ in range(3))
    out["day"], out["gone"] = run("2026-01-02T00:00:00.000Z")
    out["transactions"], out["longest"] = len(held), max(held, default=0.0)
    out["next"] = run("2026-01-02T00:00:00.000Z")[0]
    repo.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--learners", type=int, default=LEARNERS,
                    help=f"fold the events onto this many learners first (≤ {LEARNERS}: "
                         "longer histories)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep the generated database here between runs")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-retention-") as tmp:
        folder = args.cache or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / f"dash-{args.events}-{LEARNERS}.sqlite3"
        admin_dashboard.cached(source, lambda: admin_dashboard.build(
            source, args.events, LEARNERS, print))
        m = measure(source, Path(tmp) / "work.sqlite3", learners=min(args.learners, LEARNERS))
    raw = m["raw"] * 1000
    print(f"{args.events:,} events of {min(args.learners, LEARNERS):,} learners; a read of "
          f"every event (the baseline): {raw:.0f} ms")
    print(f"  upgrade to schema 16 (the index built once)   {m['upgrade'] * 1000:8.0f} ms")
    for label, key in [("nothing due (most days)", "nothing"),
                       (f"a day's worth: {int(m['gone']):,} events go", "day"),
                       ("the next day (nothing due)", "next")]:
        ms = m[key] * 1000
        print(f"  {label:<46} {ms:8.1f} ms  {ms / raw:6.3f}× the baseline")
        if key == "day":
            print(f"    in {int(m['transactions'])} write transactions, the longest holding "
                  f"the lock {m['longest'] * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
