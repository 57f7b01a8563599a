"""`python -m sync_server rebuild-aggregates` — recompute the report aggregates (progress
per learner × course, latest self-assessment ratings, events per facility) from the
stored events, and the dashboard's totals per facility × role from them (under the stored
self-assessment mapping), in one transaction (docs/admin-guide.md "Report aggregates").

The ingest keeps them up to date by itself; this is for after a repair by hand in the
database, or to check them: `--check` recomputes and says whether anything differed,
changing nothing.
"""

from __future__ import annotations

import argparse

from sync_server.cli_support import add_db_options


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("rebuild-aggregates",
                       help="recompute the dashboard / report aggregates from the events")
    p.add_argument("--check", action="store_true",
                   help="only compare the stored aggregates with a recompute; change nothing "
                        "(exit code 1 when they differ)")
    add_db_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import repository
    from sync_server.services import reports

    with repository(args) as repo:
        result = reports.rebuild_aggregates(repo=repo, check=args.check)
    print(f"{result.counts.events} events: {result.counts.courses} learner × course rows, "
          f"{result.counts.ratings} self-assessment ratings")
    if args.check:
        print("aggregates match the events" if result.matched
              else "aggregates DIFFERED from the events (run without --check to repair)")
        return 0 if result.matched else 1
    print("aggregates rebuilt" + ("" if result.matched else " (they had differed)"))
    return 0
