"""PIN hashing cost on sign-in, as ratios to the old verifier (scrypt n=2^14) in the same run.

    python benchmarks/pin_hashing.py [--rounds 7] [--tablet-factor 2.5]

Times, through the real store (app/core/store/profiles.py) where it matters:
  baseline   – one check of an old scrypt n=2^14 verifier (what a sign-in cost before);
  sign-in    – `verify_pin` with a current argon2id verifier (m=46 MiB, t=1, p=1, OWASP);
  upgrade    – the first sign-in with an old verifier: the old check plus making the new
               argon2id verifier (pending push);
  set-up     – checking a one-time set-up code and making the first PIN's verifier;
  server     – making one set-up code verifier (per learner an admin registers).

The target is at most 0.5 s of hashing per sign-in *on the tablet*. Absolute times here
depend on the load of this shared machine, so the checked figures are ratios to the old
check measured in the same run: a sign-in at most 2× the old one, the one-time upgrade
sign-in at most 3× (the old check took 40–65 ms on an idle core here, so ≤ 0.2 s; a tablet
core 2–2.5× slower stays under 0.5 s). `--tablet-factor` (default 2.5) prints a rough
tablet estimate beside the medians. Exit 1 when a ratio is over its target.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core import pins  # noqa: E402
from app.core.store import Store  # noqa: E402

PIN = "2468"
CODE = "K7QF-M2XP-9HTR"


def legacy_verifier(pin: str) -> str:
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(pin.encode(), salt=salt, n=2 ** 14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def median_s(fn: Callable[[int], object], rounds: int) -> float:
    fn(-1)                                        # warm up (allocator, imports)
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tablet-factor", type=float, default=2.5)
    args = parser.parse_args()
    legacy = legacy_verifier(PIN)
    setup = pins.make_setup_verifier(CODE)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        try:
            current = store.profiles.create("Bench Mark", "B-1", "trainer", "en", PIN)["id"]
            n = args.rounds + 1                         # + the warm-up round
            remote = [{"id": str(uuid.uuid4()), "display_name": "Old", "staff_number": f"OLD-{i}",
                       "role": "trainer", "language": "en", "pin_verifier": legacy}
                      for i in range(n)]
            first = [{**r, "id": str(uuid.uuid4()), "staff_number": f"NEW-{i}",
                      "pin_verifier": None, "pin_setup_verifier": setup,
                      "pin_setup_expires_at": "2099-01-01T00:00:00.000Z"}
                     for i, r in enumerate(remote)]
            store.profiles.upsert_remote(remote + first)

            rows = [
                ("baseline: old scrypt 2^14 check", median_s(
                    lambda i: pins.verify(legacy, PIN), args.rounds), True),
                ("sign-in: argon2id verify_pin", median_s(
                    lambda i: store.profiles.verify_pin(current, PIN), args.rounds), True),
                ("upgrade: first sign-in, old verifier", median_s(
                    lambda i: store.profiles.verify_pin(remote[i + 1]["id"], PIN), args.rounds),
                 True),
                ("set-up: code check + first PIN", median_s(
                    lambda i: store.profiles.set_first_pin(first[i + 1]["id"], PIN, CODE),
                    args.rounds), True),
                ("server: one set-up code verifier", median_s(
                    lambda i: pins.make_setup_verifier(CODE), args.rounds), False),
            ]
        finally:
            store.close()
    base = rows[0][1]
    print(f"{'operation':40} {'median':>9} {'ratio':>7} {'tablet est.':>12}   (ms depend on load)")
    for name, seconds, on_tablet in rows:
        estimate = f"{seconds * args.tablet_factor * 1000:10.0f}ms" if on_tablet else ""
        print(f"{name:40} {seconds * 1000:8.1f}ms {seconds / base:6.2f}x {estimate:>12}")
    failed = []
    for index, target in ((1, 2.0), (2, 3.0)):
        ratio = rows[index][1] / base
        print(f"{rows[index][0]}: {ratio:.2f}x the old check (target ≤ {target:g}x)")
        if ratio > target:
            failed.append(rows[index][0])
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
