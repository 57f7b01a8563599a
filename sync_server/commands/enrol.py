"""`python -m sync_server enrol-code FACILITY [--ttl SECONDS]` — prints a one-time code."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync_server.cli_support import add_db_options
    p = sub.add_parser("enrol-code", help="print a one-time enrolment code for a facility")
    p.add_argument("facility")
    p.add_argument("--ttl", type=int, default=None, help="seconds until it expires (default 7 days)")
    add_db_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import repository, settings_from
    from sync_server.services.audit import cli_actor
    from sync_server.services.devices import create_enrol_code

    with repository(args) as repo:
        ttl = args.ttl or settings_from(args).enrol_code_ttl_s
        made = create_enrol_code(repo=repo, facility_id=args.facility, ttl_s=ttl, by=cli_actor())
    print(made.code)
    return 0
