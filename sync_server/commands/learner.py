"""`python -m sync_server learner add FACILITY STAFF_NUMBER NAME --role ROLE` / `learner list`
/ `learner pin-reset LEARNER_ID` / `learner erase LEARNER_ID --yes` /
`learner export LEARNER_ID --out FILE.zip` (docs/privacy.md).

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
    erase = add("erase", "erase a learner for good (events, profile; certificates revoked)")
    erase.add_argument("learner_id")
    erase.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    export = add("export", "write everything held about a learner to a zip (JSON + HTML)")
    export.add_argument("learner_id")
    export.add_argument("--out", required=True)


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import repository, settings_from
    from sync_server.services import access_export, erasure, learners
    from sync_server.services.audit import cli_actor

    ttl = settings_from(args).pin_setup_ttl_s
    with repository(args) as repo:
        if args.learner_command == "add":
            made = learners.create_learner(
                repo=repo, staff_number=args.staff_number, display_name=args.name, role=args.role,
                language=args.language, facility_id=args.facility, setup_ttl_s=ttl,
                by=cli_actor())
            print(made.learner.id)
            print(f"PIN set-up code: {made.setup.code} (valid until {made.setup.expires_at})")
        elif args.learner_command == "pin-reset":
            setup = learners.reset_pin(repo=repo, learner_id=args.learner_id,
                                       setup_ttl_s=ttl, by=cli_actor()).setup
            print(f"PIN set-up code: {setup.code} (valid until {setup.expires_at})")
        elif args.learner_command == "erase":
            if not args.yes:
                print("erasing cannot be undone: add --yes to confirm")
                return 2
            done = erasure.erase_learner(repo=repo, learner_id=args.learner_id, by=cli_actor())
            print(f"learner {done.learner_id} erased: {done.events} event(s) deleted, "
                  f"{done.certificates} certificate(s) revoked")
        elif args.learner_command == "export":
            data = access_export.export_zip(repo=repo, learner_id=args.learner_id,
                                            by=cli_actor())
            with open(args.out, "wb") as fh:
                fh.write(data)
            print(args.out)
        else:
            for p in learners.list_learners(repo=repo, facility_id=args.facility):
                print(f"{p.id}\t{p.facility_id}\t{p.staff_number}\t{p.role}\t{p.display_name}")
    return 0
