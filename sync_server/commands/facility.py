"""`python -m sync_server facility add ID NAME` / `facility list`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync_server.cli_support import command_group
    add = command_group(sub, "facility", "add or list facilities", "facility_command", run)
    cmd = add("add", "add a facility")
    cmd.add_argument("id", help="short id: lowercase letters, digits, - and _")
    cmd.add_argument("name")
    add("list", "list facilities")


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import repository
    from sync_server.services import facilities
    from sync_server.services.audit import cli_actor

    with repository(args) as repo:
        if args.facility_command == "add":
            facilities.create_facility(repo=repo, facility_id=args.id, name=args.name,
                                       by=cli_actor())
            print(f"facility {args.id} added")
        else:
            for f in facilities.list_facilities(repo=repo):
                print(f"{f.id}\t{f.name}")
    return 0
