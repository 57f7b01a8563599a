"""`python -m sync_server learner add FACILITY STAFF_NUMBER NAME --role ROLE` / `learner list`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync_server.cli_support import add_db_options
    p = sub.add_parser("learner", help="add or list learners (staff, never prisoners)")
    lsub = p.add_subparsers(dest="learner_command", required=True)
    add = lsub.add_parser("add", help="register a learner (the PIN is set on a tablet)")
    add.add_argument("facility")
    add.add_argument("staff_number")
    add.add_argument("name")
    add.add_argument("--role", required=True)
    add.add_argument("--language", default="en")
    add_db_options(add)
    add.set_defaults(func=run)
    ls = lsub.add_parser("list", help="list learners")
    ls.add_argument("--facility", default=None)
    add_db_options(ls)
    ls.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import open_repo
    from sync_server.services.admin import create_learner

    repo = open_repo(args)
    try:
        if args.learner_command == "add":
            learner = create_learner(repo, staff_number=args.staff_number, display_name=args.name,
                                     role=args.role, language=args.language,
                                     facility_id=args.facility)
            print(learner.id)
        else:
            for p in repo.list_learners(args.facility):
                print(f"{p.id}\t{p.facility_id}\t{p.staff_number}\t{p.role}\t{p.display_name}")
    finally:
        repo.close()
    return 0
