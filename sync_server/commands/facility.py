"""`python -m sync_server facility add ID NAME` / `facility list`."""

from __future__ import annotations

import argparse
import re

from sync_server.errors import ServerError

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync_server.cli_support import add_db_options
    p = sub.add_parser("facility", help="add or list facilities")
    fsub = p.add_subparsers(dest="facility_command", required=True)
    add = fsub.add_parser("add", help="add a facility")
    add.add_argument("id", help="short id: lowercase letters, digits, - and _")
    add.add_argument("name")
    add_db_options(add)
    add.set_defaults(func=run)
    ls = fsub.add_parser("list", help="list facilities")
    add_db_options(ls)
    ls.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import open_repo
    from sync_server.services.admin import now_iso

    repo = open_repo(args)
    try:
        if args.facility_command == "add":
            if not SLUG.match(args.id):
                raise ServerError(f"facility id {args.id!r}: use lowercase letters, digits, - and _")
            repo.create_facility(args.id, args.name, now_iso())
            print(f"facility {args.id} added")
        else:
            for f in repo.list_facilities():
                print(f"{f.id}\t{f.name}")
    finally:
        repo.close()
    return 0
