"""`python -m sync_server learner add FACILITY STAFF_NUMBER NAME --role ROLE` / `learner list`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync_server.cli_support import command_group
    add = command_group(sub, "learner", "add or list learners (staff, never prisoners)",
                        "learner_command", run)
    cmd = add("add", "register a learner (the PIN is set on a tablet)")
    cmd.add_argument("facility")
    cmd.add_argument("staff_number")
    cmd.add_argument("name")
    cmd.add_argument("--role", required=True)
    cmd.add_argument("--language", default="en")
    add("list", "list learners").add_argument("--facility", default=None)


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import repository
    from sync_server.services.admin import create_learner

    with repository(args) as repo:
        if args.learner_command == "add":
            learner = create_learner(repo, staff_number=args.staff_number, display_name=args.name,
                                     role=args.role, language=args.language,
                                     facility_id=args.facility)
            print(learner.id)
        else:
            for p in repo.list_learners(args.facility):
                print(f"{p.id}\t{p.facility_id}\t{p.staff_number}\t{p.role}\t{p.display_name}")
    return 0
