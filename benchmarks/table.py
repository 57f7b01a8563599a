"""`make bench`: every benchmark that has a target, in ONE table.

    python benchmarks/table.py [--quick] [--only NAME ...]      (make bench [QUICK=1])

Each benchmark module listed in BENCHMARKS exposes

    rows(quick: bool = False, log: Callable[[str], None] = ...) -> list[Row]
    Row = tuple[str, str, str, float, str, bool]
          (name, figure, baseline, ratio, target, pass)

— figure and baseline as printed text (with units; the baseline measured in the same
run), ratio = figure / baseline, target as text, pass = the figure meets its target.
`quick` is a smaller smoke run (its figures are not the ones the targets are about);
`log` takes progress lines (printed to stderr here). A module joins the table by being
imported below and added to BENCHMARKS — static imports only (the project finds no
module by name at run time).

The table goes to stdout once every benchmark has run; the exit status is 1 when a row
fails its target or a benchmark could not run (its error is a failed row), else 0.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import admin_dashboard  # noqa: E402
import device_history  # noqa: E402
import event_checks  # noqa: E402
import learning_fold  # noqa: E402
import pack_import  # noqa: E402
import pin_hashing  # noqa: E402
import server_concurrency  # noqa: E402
import server_ingest  # noqa: E402
import store_append  # noqa: E402
import sync_device  # noqa: E402

from benchmarks.disk import flush_writes  # noqa: E402

Row = tuple[str, str, str, float, str, bool]
RowsFn = Callable[..., list[Row]]

#: (short name, what it measures, its rows function), in the order printed
BENCHMARKS: list[tuple[str, str, RowsFn]] = [
    ("device_history", "sign-in, first merge, open() at 1k-100k events (issue 18)",
     device_history.rows),
    ("pack_import", "pack install and update vs hashing (issue 18)", pack_import.rows),
    ("store_append", "durable Store.append (issue 3)", store_append.rows),
    ("store_append_sealed", "durable encrypted Store.append, 1k-20k events (issue 15)",
     store_append.sealed_rows),
    ("learning_fold", "library + outline on a folded history (issue 4)", learning_fold.rows),
    ("pin_hashing", "PIN hashing at sign-in (issue 13)", pin_hashing.rows),
    ("sync_device", "one device's sync and pack delta (issue 7)", sync_device.rows),
    ("admin_dashboard", "dashboard and progress CSV from the aggregates, 100k-10M events "
     "(issue 18)", admin_dashboard.rows),
    ("server_ingest", "ingest over HTTP vs raw executemany, SQLite and PostgreSQL (issue 18)",
     server_ingest.rows),
    ("server_concurrency", "200 devices x 500 events at once (issue 18)",
     server_concurrency.rows),
    ("event_checks", "parse + shared event checks per pushed event (issue 18, information)",
     event_checks.rows),
]


def progress(line: str) -> None:
    """A benchmark's progress line, indented under its `==` heading on stderr."""
    print(f"   {line}", file=sys.stderr, flush=True)


def run(names: list[str], quick: bool) -> list[tuple[str, Row]]:
    """Every row of the chosen benchmarks; a benchmark that raises gives one failed row
    naming the error (the others still run)."""
    out: list[tuple[str, Row]] = []
    for name, what, rows in BENCHMARKS:
        if names and name not in names:
            continue
        print(f"== {name}: {what}", file=sys.stderr, flush=True)
        flush_writes(progress)
        started = time.perf_counter()
        try:
            got = rows(quick, progress)
        except Exception as exc:   # noqa: BLE001 — reported as a failed row, not a crash
            traceback.print_exc(file=sys.stderr)
            got = [(f"could not run: {type(exc).__name__}: {exc}"[:120], "-", "-",
                    float("nan"), "runs", False)]
        print(f"   done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        out.extend((name, row) for row in got)
    return out


def render(table: list[tuple[str, Row]]) -> str:
    head = ("benchmark", "figure", "value", "baseline", "ratio", "target", "result")
    lines = [(bench, name, figure, base, f"{ratio:.2f}×", target, "pass" if ok else "FAIL")
             for bench, (name, figure, base, ratio, target, ok) in table]
    widths = [max(len(str(r[i])) for r in [head, *lines]) for i in range(len(head))]

    def fmt(r: tuple[str, ...]) -> str:
        cells = [str(c).ljust(w) if i in (0, 1, 5, 6) else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        return "  ".join(cells).rstrip()
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(head), rule, *(fmt(r) for r in lines)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="every benchmark with a target, in one table")
    ap.add_argument("--quick", action="store_true", help="smaller smoke runs")
    ap.add_argument("--only", nargs="+", default=[], metavar="NAME",
                    choices=[name for name, _w, _r in BENCHMARKS],
                    help="run only these benchmarks")
    args = ap.parse_args(argv)
    table = run(args.only, args.quick)
    failed = [row for _b, row in table if not row[5]]
    print(render(table))
    print(f"{len(table) - len(failed)} of {len(table)} figures meet their target"
          + (" (quick run: smaller sizes)" if args.quick else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
