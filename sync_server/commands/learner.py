"""`python -m sync_server learner add FACILITY STAFF_NUMBER NAME --role ROLE` / `learner list`
/ `learner pin-reset LEARNER_ID`.

`learner add` prints the new learner id (first line) and the one-time PIN set-up code to
hand to that person (second line: `PIN set-up code: K7QF-M2XP-9HTR (valid until …)`).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync_server.cli_support import command_group
    add = command_group(sub, "learner", "add or list learners (staff, never prisoners)",
                        "learner_command", run)
    cmd = add("add", "register a learner; prints the id and a one-time PIN set-up code")
    cmd.add_argument("facility")
    cmd.add_argument("staff_number")
    cmd.add_argument("name")
    cmd.add_argument("--role", required=True)
    cmd.add_argument("--language", default="en")
    add("list", "list learners").add_argument("--facility", default=None)
    add("pin-reset", "remove a learner's PIN and print a new one-time PIN set-up code"
        ).add_argument("learner_id")


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import repository, settings_from
    from sync_server.services import learners

    ttl = settings_from(args).pin_setup_ttl_s
    with repository(args) as repo:
        if args.learner_command == "add":
            made = learners.create_learner(
                repo=repo, staff_number=args.staff_number, display_name=args.name, role=args.role,
                language=args.language, facility_id=args.facility, setup_ttl_s=ttl)
            print(made.learner.id)
            print(f"PIN set-up code: {made.setup.code} (valid until {made.setup.expires_at})")
        elif args.learner_command == "pin-reset":
            setup = learners.reset_pin(repo=repo, learner_id=args.learner_id,
                                       setup_ttl_s=ttl).setup
            print(f"PIN set-up code: {setup.code} (valid until {setup.expires_at})")
        else:
            for p in learners.list_learners(repo=repo, facility_id=args.facility):
                print(f"{p.id}\t{p.facility_id}\t{p.staff_number}\t{p.role}\t{p.display_name}")
    return 0
