"""SIGKILL crash test of tablet retention while the learners keep tapping.

Retention holds the store's lock only in steps (app/core/store/ageing.py): it reads the
history and stages the new segments without it, while taps append answers (folded from
the journal into the segments meanwhile). Each round the parent merges a batch of old
"server" events of every learner, then a child opens the store, starts a thread that
taps (appends) without pause, and ages every learner's events out — and kills itself
with SIGKILL at a point the round chooses: after reading the k-th segment (the scan or
the staging pass, the lock free), before the k-th staged segment, right after the
staging or the commit marker became durable, before any new segment file, when the old
segments are about to go (`recover`), or after the whole ageing. No timing decides
where the kill lands; the taps are cut wherever they happen to be.

After every kill the parent reopens the store and checks: every file opens, no marker is
left, no id is stored twice, every tap the child reported is stored, and each learner's
folds at sign-in (retained fold + snapshot + what is stored) equal a fold from nothing
of every event the learner ever had — so an aged event is in the retained fold, and no
event was lost or doubled by a rewrite cut short. The last round lets the ageing finish:
then only the learner's last document may still be older than the cutoff.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.core.learning import load_history
from app.core.store import Store, segment_rewrite
from app.core.store.keys import FixedKey
from app.core.store.segments import learner_key
from tests.support.fold_compare import history_views, recomputed

ROOT = Path(__file__).resolve().parents[2]
LEARNERS = ["0a000000-0000-4000-8000-00000000000a", "0b000000-0000-4000-8000-00000000000b"]
CUTOFF = "2020-01-01T00:00:00.000Z"

CHILD = r"""
import os, pathlib, signal, sys, threading
from app.core.learning import retention
from app.core.store import Store, ageing, segment_rewrite
data_dir, point, at_call = sys.argv[1], sys.argv[2], int(sys.argv[3])
learners, cutoff = sys.argv[4].split(","), sys.argv[5]
keys = None
if len(sys.argv) > 6:                       # an encrypted store folder (issue 15)
    from app.core.store.keys import FixedKey
    keys = FixedKey(bytes.fromhex(sys.argv[6]), created=True)
s = Store.open(data_dir, journal_capacity=8, segment_capacity=16, keys=keys)
said = threading.Lock()

def say(line):
    with said:
        sys.stdout.write(line + "\n"); sys.stdout.flush()

def die():
    with said:                      # no half-written report line
        os.kill(os.getpid(), signal.SIGKILL)

calls = {}

def count(name):
    calls[name] = calls.get(name, 0) + 1
    return calls[name] == at_call and point == name

def before(name, real):
    def wrapper(*args, **kwargs):
        if count(name):
            die()
        return real(*args, **kwargs)
    return wrapper

def after(name, real):
    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        if count(name):
            die()
        return result
    return wrapper

real_prefix = ageing._prefix

def prefix(*args):
    for item in real_prefix(*args):
        yield item
        if count("read"):
            die()

ageing._prefix = prefix
segment_rewrite.write_next = before("write_next", segment_rewrite.write_next)
segment_rewrite._write = before("segment_file", segment_rewrite._write)
segment_rewrite.atomic_write_bytes = after("marker", segment_rewrite.atomic_write_bytes)
segment_rewrite.recover = before("recover", segment_rewrite.recover)

real_recover, real_unlink, recovering = segment_rewrite.recover, pathlib.Path.unlink, []

def recover(*args):
    recovering.append(True)
    try:
        return real_recover(*args)
    finally:
        recovering.pop()

def unlink(path, *args, **kwargs):
    real_unlink(path, *args, **kwargs)
    if recovering and path.stem.isdigit() and count("delete"):
        die()                       # a recovery cut short between two segments' deletes

segment_rewrite.recover = recover
pathlib.Path.unlink = unlink

def tap():
    n = 0
    while True:
        n += 1
        learner = learners[n % len(learners)]
        event_id = s.append({"learner": learner, "type": "card.viewed", "pack": "p",
                             "ref": {"course": "c%d" % (n % 3), "lesson": "l1",
                                     "card": str(n % 5)}, "data": {"seconds": n % 40}})
        say("appended %s %s" % (learner, event_id))

threading.Thread(target=tap, daemon=True).start()
for learner in learners:
    say("ageing %s" % learner)
    retention.age_out(s, learner, cutoff)
say("done")
die()
"""

#: (kill point, at which call): every step of an ageing, several times over
POINTS = [("read", 1), ("write_next", 1), ("marker", 1), ("segment_file", 2), ("read", 4),
          ("marker", 2), ("recover", 1), ("write_next", 2), ("read", 7), ("segment_file", 1),
          ("delete", 1), ("marker", 3), ("write_next", 3), ("recover", 2), ("delete", 3),
          ("read", 2), ("segment_file", 4), ("delete", 2), ("none", 0)]


def pulled(rng: random.Random, learner: str, n: int, year: int) -> list[dict[str, Any]]:
    """`n` events of the learner pulled from the server, made in `year`."""
    return [{"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "learner": learner,
             "device": "dev-server-side", "seq": rng.randint(1, 10**9),
             "at": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00.000Z",
             "type": "card.viewed", "pack": "p",
             "ref": {"course": f"c{rng.randint(0, 2)}", "lesson": f"l{rng.randint(0, 3)}",
                     "card": str(rng.randint(0, 9))},
             "data": {"seconds": rng.randint(1, 60)}} for _ in range(n)]


def damage_markers(data_dir: Path, names: tuple[str, ...]) -> int:
    """Damage the rewrite markers `names` a kill left (a bit flipped: an encrypted one
    no longer opens, a plain one is no longer JSON); how many there were."""
    damaged = 0
    for name in names:
        for marker in data_dir.glob(f"store/learners/*/{name}"):
            raw = bytearray(marker.read_bytes())
            raw[len(raw) // 2] ^= 0x5A
            marker.write_bytes(bytes(raw))
            damaged += 1
    return damaged


def check(data_dir: Path, merged: dict[str, dict[str, dict[str, Any]]],
          appended: dict[str, set[str]], key: bytes | None, *, finished: bool) -> None:
    with Store.open(data_dir, keys=FixedKey(key) if key else None) as store:
        # a damaged marker is not moved aside (segment_rewrite._plan): nothing is listed
        assert store.damaged_files() == [], "a crash must never look like tampering"
        for learner in LEARNERS:
            folder = store.root / "learners" / learner_key(learner)
            assert not any((folder / name).exists() for name in segment_rewrite.MARKERS), \
                "a rewrite left half done"
            stored = store.events(learner)
            ids = [e["id"] for e in stored]
            assert len(ids) == len(set(ids)), "an id is stored twice"
            assert appended[learner] <= set(ids), "a tap was lost"
            everything = {**merged[learner], **{e["id"]: e for e in stored}}
            assert history_views(load_history(store, learner)) == \
                recomputed(list(everything.values()), learner), f"folds of {learner} differ"
            if finished:
                old = [e for e in stored if e["at"] < CUTOFF]
                assert len(old) <= 1, "the ageing did not finish"


@pytest.mark.parametrize("damage", [(), segment_rewrite.MARKERS[:1], segment_rewrite.MARKERS],
                         ids=["", "marker-damaged", "both-markers-damaged"])
@pytest.mark.parametrize("key", [None, bytes(range(32))], ids=["plain", "encrypted"])
def test_retention_killed_at_every_step_while_taps_go_on(tmp_path: Path, key: bytes | None,
                                                         damage: tuple[str, ...]) -> None:
    """With `damage`, the markers named that a kill left are damaged before the store
    is reopened: the marker's copy says the plan, or — both damaged — the segments
    decide (segment_rewrite._unplanned); the checks are the same."""
    rng = random.Random(20261207)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    merged: dict[str, dict[str, dict[str, Any]]] = {lr: {} for lr in LEARNERS}
    appended: dict[str, set[str]] = {lr: set() for lr in LEARNERS}
    unreached = []
    markers = 0
    for point, at_call in POINTS:
        # a sync's pull: old events to age out, and enough recent ones that every ageing
        # stages at least two full segments per learner whatever the taps did
        with Store.open(tmp_path, segment_capacity=16,
                        keys=FixedKey(key, created=True) if key else None) as store:
            for learner in LEARNERS:
                batch = pulled(rng, learner, rng.randint(30, 60), 2018) + \
                    pulled(rng, learner, 40, 2026)
                store.merge(batch)
                merged[learner].update((e["id"], e) for e in batch)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(tmp_path), point, str(at_call),
             ",".join(LEARNERS), CUTOFF, *([key.hex()] if key else [])],
            capture_output=True, env=env)
        assert done.returncode == -signal.SIGKILL, \
            f"child ({point} {at_call}) died on its own: {done.stderr.decode()[-2000:]}"
        lines = done.stdout.decode().splitlines()
        for line in lines:
            word, *rest = line.split()
            if word == "appended":
                appended[rest[0]].add(rest[1])
        if ("done" in lines) != (point == "none"):
            unreached.append((point, at_call))
        markers += damage_markers(tmp_path, damage)
        check(tmp_path, merged, appended, key, finished=point == "none")
    assert not unreached, f"kill points never reached: {unreached}"
    assert markers >= 8 or not damage, f"only {markers} markers were left to damage"
    assert all(len(ids) > 10 for ids in appended.values()), "the taps did not go on"
