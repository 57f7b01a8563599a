"""Certificate costs, as ratios to a raw Ed25519 verify of 64 bytes measured in the same run.

    python benchmarks/certificates.py [--seconds 1.5]

Prints per-operation time for: raw Ed25519 verify (baseline), full offline
verify_credential (JCS canonical form + 2 × SHA-256 + Ed25519), the tablet's full check of a
received certificate with a revocation list (check_received: credential + signed status
list + GZIP of 16 KiB), issuing (build + sign), signing a status list, the server's
verdict on a completion (fold + re-score of one learner's course work), and rendering the
PDF. A device checks its certificate list on screen open, so the check_received figure is
the one that matters there; the verdict runs once per pushed completion.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from app.core.certificates import did_key, sign_credential, verify_credential  # noqa: E402
from app.core.credential_status import (  # noqa: E402
    check_received,
    status_entry,
    status_list_credential,
)
from app.core.learning.catalog import Catalog  # noqa: E402
from app.core.learning.verify import verify_course  # noqa: E402
from sync_server.certificates import (  # noqa: E402
    Alignment,
    CourseAchievement,
    Learner,
    issue_credential,
    issuer_for,
)
from sync_server.certificates_pdf import render_pdf  # noqa: E402
from tests.support.learner_work import study  # noqa: E402
from tests.support.learning_fixtures import LEARNER, PACK, sample_manifest  # noqa: E402

KEY = Ed25519PrivateKey.generate()
BASE = "https://learning.example.org"
LEARNER_ID = str(uuid.uuid4())
LIST_URL = f"{BASE}/status/1"


def issue() -> dict:
    return issue_credential(
        KEY, credential_id=str(uuid.uuid4()), issuer=issuer_for(KEY, "Prison service"),
        learner=Learner(LEARNER_ID, "Žydrūnė Šėtonaitė", "lt"),
        achievement=CourseAchievement("promote-core", "boundaries", "lt", "Profesinės ribos",
                                      "Aprašymas", 70, tuple(Alignment(
                                          f"http://data.europa.eu/esco/skill/{i}", f"įgūdis {i}")
                                          for i in range(4))),
        public_base_url=BASE, valid_from=datetime.now(UTC), awarded_at="2026-11-23T15:00:00.000Z",
        score=87.5, status=status_entry(LIST_URL, 48_213))


def status_list() -> dict:
    revoked = range(0, 131_072, 97)                      # 1 352 revoked certificates
    return sign_credential(status_list_credential(
        list_url=LIST_URL, issuer_id=did_key(KEY.public_key()),
        valid_from="2026-11-24T00:00:00Z", revoked=revoked), KEY)


def per_op(fn: Callable[[], object], seconds: float) -> float:
    fn()
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return elapsed / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    args = parser.parse_args()
    public = KEY.public_key()
    message = b"x" * 64
    signature = KEY.sign(message)
    credential = issue()
    trusted = [public]
    baseline = per_op(lambda: public.verify(signature, message), args.seconds)
    lists = {LIST_URL: status_list()}
    keys = [did_key(public)]
    manifest = sample_manifest()
    catalog = Catalog.from_manifests([manifest])
    work = study(manifest, LEARNER, "boundaries", answers="half")

    def verdict() -> object:
        return verify_course(work, learner=LEARNER, pack=PACK, course="boundaries",
                             lookup=lambda v: catalog.courses.get((PACK, "boundaries"))
                             if v == 1 else None)

    def received() -> object:
        return check_received(credential, learner=LEARNER_ID, certificate_id=None,
                              issuer_keys=keys, status_lists=lists)

    rows = [
        ("raw Ed25519 verify (baseline)", baseline),
        ("verify_credential (offline)", per_op(lambda: verify_credential(credential, trusted),
                                               args.seconds)),
        ("check_received (tablet, + list)", per_op(received, args.seconds)),
        ("issue (build + sign)", per_op(issue, args.seconds)),
        ("sign a status list (16 KiB)", per_op(status_list, args.seconds)),
        (f"server verdict ({len(work)} events)", per_op(verdict, args.seconds)),
        ("render PDF", per_op(lambda: render_pdf(credential, public_base_url=BASE),
                              args.seconds)),
    ]
    print(f"{'operation':34} {'per op':>12} {'× baseline':>12}")
    for name, t in rows:
        print(f"{name:34} {t * 1e6:10.1f} µs {t / baseline:11.1f}×")
    assert verify_credential(credential, trusted).genuine
    assert received().verified and verdict().ok      # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
