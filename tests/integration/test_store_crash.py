"""SIGKILL crash test of the device store.

A child process opens the store and loops: append (print the id after `append`
returned), acknowledge / reject a few outbox events (print the intent before and the
ids after), merge pulled events (print after), sign a learner in (load the folds from
the snapshot + what came since, saving new snapshots often). The parent kills it with
SIGKILL at a random moment — so also in the middle of a snapshot, id index or journal
index write — reopens the store and checks: every file loads, every printed id is
there, no id is stored twice, no seq of this device repeats, acknowledged/rejected
events never come back to the outbox, every other appended event is still in it, and
each learner's folds at sign-in equal a fold of all their events from nothing.
Sometimes the parent does not reopen, so the next child opens a freshly crashed store.

`make test` runs 60 kills (< 60 s); `make soak` runs 1,000.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.core.events import validate_event
from app.core.learning import load_history
from app.core.store import Store
from app.core.store.conflicts import MAX_CONFLICTS
from app.core.store.keys import FixedKey
from tests.support.fold_compare import history_views, recomputed

ROOT = Path(__file__).resolve().parents[2]
LEARNERS = ["0a000000-0000-4000-8000-00000000000a", "0b000000-0000-4000-8000-00000000000b",
            "0c000000-0000-4000-8000-00000000000c"]

CHILD = r"""
import random, sys, uuid
from app.core.learning import load_history
from app.core.store import Store
data_dir, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
learners = sys.argv[3].split(",")
keys = None
if len(sys.argv) > 4:                       # an encrypted store folder (issue 15)
    from app.core.store.keys import FixedKey
    keys = FixedKey(bytes.fromhex(sys.argv[4]), created=True)
s = Store.open(data_dir, journal_capacity=8, segment_capacity=16, keys=keys)
out = sys.stdout
out.write("open %s\n" % s.device_id); out.flush()
n = 0
while True:
    r = rng.random()
    if r < 0.06:
        ids = [e["id"] for e in s.outbox(rng.randint(1, 30))]
        out.write("acking %s\n" % " ".join(ids)); out.flush()
        s.acknowledge(ids)
        out.write("acked %s\n" % " ".join(ids)); out.flush()
    elif r < 0.08:
        ids = [e["id"] for e in s.outbox(rng.randint(1, 3))]
        out.write("acking %s\n" % " ".join(ids)); out.flush()
        s.reject({i: "crash-test reason" for i in ids})
        out.write("rejected %s\n" % " ".join(ids)); out.flush()
    elif r < 0.11:
        batch = [{"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                  "learner": rng.choice(learners), "device": "dev-server-side",
                  "seq": rng.randint(1, 10**6), "at": "2026-01-01T00:00:00.000Z",
                  "type": "card.viewed", "ref": {"card": "c"}} for _ in range(rng.randint(1, 20))]
        s.merge(batch)
        out.write("merged %s\n" % " ".join(e["id"] for e in batch)); out.flush()
    elif r < 0.125:   # a stored id pulled again with other content: the conflict log
        stored = s.events(rng.choice(learners))
        if stored:
            e = dict(rng.choice(stored), data={"tampered": rng.getrandbits(40)})
            s.merge([e])
            out.write("conflict %s\n" % e["id"]); out.flush()
    elif r < 0.15:    # sign-in: snapshots saved often, so kills land in their writes
        load_history(s, rng.choice(learners), resnapshot_after=rng.choice([0, 1, 5]))
    else:
        n += 1
        course = "c%d" % (n % 3)
        kind = rng.random()
        if kind < 0.4:
            event = {"type": "card.viewed", "pack": "p", "ref": {
                "course": course, "lesson": "l%d" % (n % 4), "card": str(n % 6)},
                "data": {"seconds": n % 40, "pad": "x" * rng.randint(0, 300)}}
        elif kind < 0.8:
            event = {"type": "answer.given", "pack": "p", "ref": {
                "course": course, "attempt": "a%d" % (n // 10), "question": "q%d" % (n % 7)},
                "data": {"choice": ["a"], "score": float(n % 2)}}
        else:
            event = {"type": "review.answered", "pack": "p", "ref": {
                "course": course, "question": "q%d" % (n % 7)},
                "data": {"choice": ["b"], "score": float(n % 3 == 0)}}
        event["learner"] = rng.choice(learners)
        event_id = s.append(event)
        out.write("appended %s\n" % event_id); out.flush()
"""


@dataclass
class Ledger:
    """What the children reported as done (durable) or attempted."""
    appended: set[str] = field(default_factory=set)
    merged: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)      # acknowledge returned
    rejected: set[str] = field(default_factory=set)   # reject returned
    conflicted: set[str] = field(default_factory=set)  # merge of a changed copy returned
    acking: set[str] = field(default_factory=set)     # acknowledge/reject was called
    device: str | None = None

    def read(self, text: str) -> None:
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                continue  # cut off by the kill: that call did not report back
            word, _, rest = line.strip().partition(" ")
            ids = set(rest.split())
            if word == "open":
                assert self.device in (None, rest), "device id changed"
                self.device = rest
            else:
                {"appended": self.appended, "merged": self.merged, "acked": self.acked,
                 "rejected": self.rejected, "acking": self.acking,
                 "conflict": self.conflicted}[word].update(ids)


def check(data_dir: Path, ledger: Ledger, key: bytes | None = None) -> None:
    with Store.open(data_dir, keys=FixedKey(key) if key else None) as store:
        assert store.damaged_files() == [], "a crash must never look like tampering"
        events = [e for learner in store.learner_ids() for e in store.events(learner)]
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids)), "an id is stored twice"
        stored = set(ids)
        assert ledger.appended <= stored, f"lost appended events: {ledger.appended - stored}"
        assert ledger.merged <= stored, f"lost merged events: {ledger.merged - stored}"
        own = [e["seq"] for e in events if e["device"] == store.device_id]
        assert len(own) == len(set(own)), "a seq was used twice"
        for event in events[:: max(1, len(events) // 200)]:
            validate_event(event, allow_server_fields=True)
        outbox = {e["id"] for e in store.outbox(10**6)}
        assert not outbox & (ledger.acked | ledger.rejected), "an acknowledged event came back"
        assert outbox <= (ledger.appended | (stored - ledger.merged)), "a merged event in outbox"
        missing = ledger.appended - outbox - ledger.acking
        assert not missing, f"unacknowledged events left the outbox: {missing}"
        rejected = {r["event"]["id"] for r in store.rejected()}
        assert ledger.rejected <= rejected
        assert store.event_count() == len(ids)
        conflicts = store.conflicts()      # the file loads after any kill
        by_id = {e["id"]: e for e in events}
        for row in conflicts:              # the first copy stayed the stored one
            assert by_id[row["id"]].get("data") == row["kept"].get("data")
            assert row["received"]["data"] != row["kept"].get("data")
        if len(conflicts) < MAX_CONFLICTS:
            assert ledger.conflicted <= {r["id"] for r in conflicts}, "a conflict was lost"
        if ledger.device:
            assert store.device_id == ledger.device
        for learner in store.learner_ids():        # sign-in state = a full recompute
            assert history_views(load_history(store, learner)) == \
                recomputed(store.events(learner), learner), f"folds of {learner} differ"


def run_kills(data_dir: Path, kills: int, seed: int, key: bytes | None = None) -> Ledger:
    rng = random.Random(seed)
    ledger = Ledger()
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    for i in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(data_dir), str(rng.getrandbits(32)),
             ",".join(LEARNERS), *([key.hex()] if key else [])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        lines = rng.choice([0, 1, 2, 5, 10, 20, 40, 80])
        seen: list[bytes] = []
        for _ in range(lines):
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
        time.sleep(rng.random() * 0.004)
        proc.send_signal(signal.SIGKILL)
        # read through proc.stdout (not communicate(): it bypasses what readline buffered)
        rest = proc.stdout.read()
        err = proc.stderr.read() if proc.stderr else b""
        proc.wait(timeout=30)
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
        if proc.returncode != -signal.SIGKILL:
            raise AssertionError(f"child {i} died on its own ({proc.returncode}): "
                                 f"{err.decode(errors='replace')[-2000:]}")
        ledger.read((b"".join(seen) + rest).decode())
        if rng.random() < 0.75 or i == kills - 1:
            check(data_dir, ledger, key)
    return ledger


def test_sigkill_crash_60_kills(tmp_path: Path) -> None:
    ledger = run_kills(tmp_path, kills=60, seed=20261123)
    assert len(ledger.appended) > 100, "the children did too little work to mean anything"
    assert ledger.acked and ledger.merged and ledger.rejected and ledger.conflicted


def test_sigkill_crash_of_an_encrypted_store_30_kills(tmp_path: Path) -> None:
    """The same crash rules with every file encrypted at rest (app/core/store/sealed.py):
    a torn frame is cut like a torn line, and no crash leaves a file that does not open."""
    ledger = run_kills(tmp_path, kills=30, seed=20261206, key=bytes(range(32)))
    assert len(ledger.appended) > 50, "the children did too little work to mean anything"
    assert ledger.acked and ledger.merged


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_soak_1000_kills(tmp_path: Path) -> None:
    kills = int(os.environ.get("SHIFT_SOAK_KILLS", "1000"))
    ledger = run_kills(tmp_path, kills=kills, seed=int(time.time()))
    assert len(ledger.appended) > kills
