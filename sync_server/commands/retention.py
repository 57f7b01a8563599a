"""`python -m sync_server retention run [--events-years N] [--audit-years M]`: apply the
retention rules now (the server also runs them once a day; docs/privacy.md). Prints how
many events were folded into the anonymous summary and deleted, and how many audit
entries were deleted."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync_server.cli_support import command_group
    add = command_group(sub, "retention", "apply the retention rules (events, audit log)",
                        "retention_command", run)
    cmd = add("run", "fold and delete events, delete audit entries older than the periods")
    cmd.add_argument("--events-years", type=int, default=None,
                     help="default: $SHIFT_RETENTION_EVENTS_YEARS or 6 (0 = keep)")
    cmd.add_argument("--audit-years", type=int, default=None,
                     help="default: $SHIFT_RETENTION_AUDIT_YEARS or 6 (0 = keep)")


def run(args: argparse.Namespace) -> int:
    from app.core.clock import now_utc
    from sync_server.cli_support import repository, settings_from
    from sync_server.services.audit import cli_actor
    from sync_server.services.retention import run_retention

    settings = settings_from(args)
    events_years = settings.retention_events_years if args.events_years is None \
        else args.events_years
    audit_years = settings.retention_audit_years if args.audit_years is None \
        else args.audit_years
    with repository(args) as repo:
        result = run_retention(repo=repo, now=now_utc(), events_years=events_years,
                               audit_years=audit_years, by=cli_actor())
    print(f"events before {result.events_cutoff or '-'}: {result.events_deleted} folded "
          f"and deleted")
    print(f"audit entries before {result.audit_cutoff or '-'}: {result.audit_deleted} deleted")
    return 0
