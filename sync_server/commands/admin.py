"""`python -m sync_server admin create NAME` (+ `passwd NAME`, `list`, `roles NAME ROLES`).

Roles (docs/authoring.md "Studio" → "Roles"): `admin` (every right, the default),
`author`, `reviewer`, `publisher`, comma-separated.

The password is asked on a terminal, or read from SHIFT_ADMIN_PASSWORD, or from the first
line of stdin with --password-stdin; it is never a command-line argument (that would
leak into the process list and the shell history).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from sync_server.errors import ServerError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync_server.cli_support import command_group
    add = command_group(sub, "admin", "manage admin accounts", "admin_command", run)
    for name, help_text in (("create", "create an admin"), ("passwd", "set an admin's password")):
        c = add(name, help_text)
        c.add_argument("name")
        c.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of stdin")
    add("list", "list admin names")
    r = add("roles", "set an admin's console roles (admin | author, reviewer, publisher)")
    r.add_argument("name")
    r.add_argument("roles", help="comma-separated, e.g. author,publisher")


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    env = os.environ.get("SHIFT_ADMIN_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        raise ServerError("no password: use a terminal, SHIFT_ADMIN_PASSWORD or --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ServerError("the passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import repository
    from sync_server.services import admin_auth, roles
    from sync_server.services.audit import cli_actor

    with repository(args) as repo:
        if args.admin_command == "list":
            for admin in admin_auth.list_admins(repo=repo):
                print(admin.name)
            return 0
        if args.admin_command == "roles":
            given = roles.set_roles(repo=repo, name=args.name, roles=args.roles, by=cli_actor())
            print(f"roles of {args.name}: {', '.join(given)}")
            return 0
        password = read_password(args)
        if args.admin_command == "create":
            admin_auth.create_admin(repo=repo, name=args.name, password=password, by=cli_actor())
            print(f"admin {args.name} created")
        else:
            admin_auth.set_password(repo=repo, name=args.name, password=password, by=cli_actor())
            print(f"password of {args.name} changed")
        return 0
