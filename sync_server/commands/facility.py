"""`python -m sync_server facility add ID NAME` / `facility list`."""

from __future__ import annotations

import argparse
import re

from sync_server.errors import ServerError

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync_server.cli_support import command_group
    add = command_group(sub, "facility", "add or list facilities", "facility_command", run)
    cmd = add("add", "add a facility")
    cmd.add_argument("id", help="short id: lowercase letters, digits, - and _")
    cmd.add_argument("name")
    add("list", "list facilities")


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import repository
    from sync_server.services.admin import now_iso

    with repository(args) as repo:
        if args.facility_command == "add":
            if not SLUG.match(args.id):
                raise ServerError(f"facility id {args.id!r}: use lowercase letters, digits, - and _")
            repo.create_facility(args.id, args.name, now_iso())
            print(f"facility {args.id} added")
        else:
            for f in repo.list_facilities():
                print(f"{f.id}\t{f.name}")
    return 0
