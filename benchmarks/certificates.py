"""Certificate costs, as ratios to a raw Ed25519 verify of 64 bytes measured in the same run.

    python benchmarks/certificates.py [--seconds 1.5]

Prints per-operation time for: raw Ed25519 verify (baseline), full offline
verify_credential (JCS canonical form + 2 × SHA-256 + Ed25519), issuing (build + sign),
and rendering the PDF. A device verifies a certificate list on screen open, so the verify
figure is the one that matters there.
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

from app.core.certificates import verify_credential  # noqa: E402
from sync_server.certificates import (  # noqa: E402
    Alignment,
    CourseAchievement,
    Issuer,
    Learner,
    issue_credential,
)
from sync_server.certificates_pdf import render_pdf  # noqa: E402

KEY = Ed25519PrivateKey.generate()
BASE = "https://learning.example.org"


def issue() -> dict:
    return issue_credential(
        KEY, credential_id=str(uuid.uuid4()), issuer=Issuer(f"{BASE}/issuer", "Prison service"),
        learner=Learner(str(uuid.uuid4()), "Žydrūnė Šėtonaitė", "lt", "LT-42"),
        achievement=CourseAchievement("promote-core", "boundaries", "lt", "Profesinės ribos",
                                      "Aprašymas", 70, tuple(Alignment(
                                          f"http://data.europa.eu/esco/skill/{i}", f"įgūdis {i}")
                                          for i in range(4))),
        public_base_url=BASE, valid_from=datetime.now(UTC), awarded_at="2026-11-23T15:00:00.000Z")


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
    rows = [
        ("raw Ed25519 verify (baseline)", baseline),
        ("verify_credential (offline)", per_op(lambda: verify_credential(credential, trusted),
                                               args.seconds)),
        ("issue (build + sign)", per_op(issue, args.seconds)),
        ("render PDF", per_op(lambda: render_pdf(credential, public_base_url=BASE),
                              args.seconds)),
    ]
    print(f"{'operation':34} {'per op':>12} {'× baseline':>12}")
    for name, t in rows:
        print(f"{name:34} {t * 1e6:10.1f} µs {t / baseline:11.1f}×")
    assert verify_credential(credential, trusted).genuine


if __name__ == "__main__":
    main()
