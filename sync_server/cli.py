"""`python -m sync_server …` — keys, packs, serve, admins, enrolment codes.

Each sub-command lives in sync_server/commands/<name>.py and exposes
`register(subparsers)`, which adds its parser and sets `func(args) -> int`; COMMANDS
lists them. Errors derived from ShiftError are printed as one line on stderr with exit
code 1.
"""

from __future__ import annotations

import argparse
import sys

from app.core.errors import ShiftError
from sync_server.commands import (
    admin,
    aggregates,
    backup,
    certificate,
    enrol,
    facility,
    keys,
    learner,
    pack,
    restore,
    retention,
    serve,
)

COMMANDS = (admin, aggregates, backup, certificate, enrol, facility, keys, learner, pack, restore,
            retention, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sync_server",
                                     description="Shift Learning sync server and pack tools")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ShiftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
