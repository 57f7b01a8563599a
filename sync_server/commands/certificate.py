"""`python -m sync_server certificate list | revoke ID --reason TEXT | audit [--apply]`.

* ``list`` — issued certificates (id, learner, pack/course, issued at, revoked).
* ``revoke`` — revoke one (the reason is kept; the first revocation wins); /verify then
  says revoked and tablets show it after their next sync.
* ``audit`` — judge every unrevoked certificate by the server's own rule (the learner's
  quiz answers re-scored against a pack version published to them) and list those that
  fail it; nothing changes unless ``--apply`` is given, which revokes them.
"""

from __future__ import annotations

import argparse

from sync_server.db.repository import Repository
from sync_server.services.audit import cli_actor

CLI_ADMIN = cli_actor()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from sync_server.cli_support import command_group
    add = command_group(sub, "certificate", "list, revoke or audit issued certificates",
                        "certificate_command", run)
    add("list", "list issued certificates").add_argument("--facility", default=None)
    revoke = add("revoke", "revoke a certificate")
    revoke.add_argument("certificate_id")
    revoke.add_argument("--reason", required=True, help="kept with the revocation (≤ 200 chars)")
    audit = add("audit", "find certificates the server's records do not support "
                         "(dry run unless --apply)")
    audit.add_argument("--apply", action="store_true",
                       help="revoke the certificates the audit lists")


def run(args: argparse.Namespace) -> int:
    from sync_server.cli_support import repository
    from sync_server.services import certificates

    with repository(args) as repo:
        if args.certificate_command == "list":
            for c in certificates.list_certificates(repo=repo, facility_id=args.facility,
                                                    limit=certificates.EVERY):
                state = f"revoked {c.revoked_at}" if c.revoked else "valid"
                print(f"{c.id}\t{c.learner_id}\t{c.pack_id}/{c.course_id}\t{c.issued_at}\t{state}")
            return 0
        if args.certificate_command == "revoke":
            cid = certificates.revoke_certificate(repo=repo, certificate_id=args.certificate_id,
                                                  by=CLI_ADMIN, reason=args.reason)
            print(f"certificate {cid} revoked")
            return 0
        return _audit(repo, apply=args.apply)


def _audit(repo: Repository, *, apply: bool) -> int:
    from sync_server.services.certificate_audit import judge, revoke_unverified

    findings = list(judge(repo))
    failed = [f for f in findings if not f.verified]
    for f in findings:
        c = f.certificate
        if not f.verified:
            print(f"UNVERIFIED\t{c.id}\t{c.learner_id}\t{c.pack_id}/{c.course_id}\t"
                  f"{c.issued_at}\t{f.code}: {f.detail}")
        elif f.server_score is not None:
            print(f"score differs\t{c.id}\tcertificate says {f.claimed_score}, "
                  f"the server's scoring {f.server_score} (kept)")
    print(f"{len(findings)} certificate(s) checked, {len(failed)} not verified by the server.")
    if not apply:
        if failed:
            print("Dry run: nothing changed. Run again with --apply to revoke them.")
        return 0
    revoked = revoke_unverified(repo=repo, findings=findings, by=CLI_ADMIN)
    print(f"{len(revoked)} certificate(s) revoked.")
    return 0
