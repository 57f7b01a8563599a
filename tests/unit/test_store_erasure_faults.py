"""An erasure or a wipe around faults (a reviewer's finds, each failing on the code
before): a purge killed or failing once the journal files were rewritten (the outbox
named the removed events for good), the work of a re-attributed offline profile, the
display preferences, a profile pulled again from a server restored from a backup, a
wipe killed inside a learner folder, and the copies of damaged files kept for
inspection (docs/privacy.md §4). They build plain and encrypted folders themselves."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.core.application.device import Device
from app.core.errors import StoreError
from app.core.store import Store, erasure, journal, reattribute, wipe
from app.core.store.keys import FixedKey
from app.core.store.sealed import sealer_for
from app.core.store.segments import learner_key
from tests.unit.test_store_erasure import event, every_byte, filled

pytestmark = pytest.mark.plain_store      # they damage and read files as bytes
ROOT = Path(__file__).resolve().parents[2]


# --- purge disk full ----------

@pytest.mark.parametrize("reopen", [True, False], ids=["reopened", "same-process"])
def test_a_purge_failing_once_its_journal_files_were_rewritten_leaves_a_sound_outbox(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reopen: bool) -> None:
    """The journal files are rewritten without the learner, then emptying the journal
    index fails (a full disk). The files no longer say which events went, and the
    index — and an outbox built from it — still named them: every push then failed
    ("events missing from the journal files"), for good. The next purge builds the
    outbox from the files."""
    store, gone, stay, ids = filled(tmp_path)
    real_forget, real_write, rewritten = (journal.Journal.forget_index,
                                          erasure.atomic_write_bytes, [])

    def write(path: Path, data: bytes, *args: object, **kwargs: object) -> None:
        real_write(path, data, *args, **kwargs)
        rewritten.append(path)

    def disk_full(self: journal.Journal) -> None:
        if rewritten:
            raise StoreError("index.log: No space left on device")
        real_forget(self)
    with monkeypatch.context() as patched:
        patched.setattr(erasure, "atomic_write_bytes", write)
        patched.setattr(journal.Journal, "forget_index", disk_full)
        with pytest.raises(StoreError):
            erasure.purge(store, [gone])
    assert rewritten
    if reopen:
        store.close()
        store = Store.open(tmp_path)
    with store:                                # space freed, the sync calls purge again
        erasure.purge(store, [])
        assert store.outbox_count() == 20      # the other learner's 20 unsent events
        assert {e["learner"] for e in store.outbox(500)} == {stay}


# --- purge crash ----------

PURGE_CHILD = textwrap.dedent(r"""
import os, sys, json
from pathlib import Path
from app.core.store import Store, erasure
from tests.unit.test_store_erasure import filled, kill_once_rewritten
tmp = Path(sys.argv[1]); where = sys.argv[2]
store, gone, stay, ids = filled(tmp)
json.dump({"gone": gone, "stay": stay, "ids": ids}, open(tmp / "facts.json", "w"))
if where == "forget_index":
    from app.core.store import journal
    kill_once_rewritten(journal, erasure)
erasure.purge(store, [gone])
os._exit(0)
""")


def crashed(tmp_path: Path, where: str) -> dict:
    import json
    r = subprocess.run([sys.executable, "-c", PURGE_CHILD, str(tmp_path), where], cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert r.returncode == 9, r.stderr
    return json.loads((tmp_path / "facts.json").read_text())


def test_purge_killed_before_the_journal_index_is_forgotten(tmp_path: Path) -> None:
    facts = crashed(tmp_path, "forget_index")
    with Store.open(tmp_path) as store:
        erasure.purge(store, [])                    # resumes the unfinished row
        assert store.events(facts["gone"]) == []
        outbox = store.outbox(1000)                 # push reads the outbox
        assert all(e["learner"] != facts["gone"] for e in outbox)
        assert store.outbox_count() == 20
    text = every_byte(tmp_path / "store")
    leaked = [i for i in facts["ids"] if i in text]
    assert not leaked, f"{len(leaked)} erased event ids still on disk"


WIPE_CHILD = textwrap.dedent(r"""
import os, sys, json
from pathlib import Path
from app.core.store import Store, wipe, journal, erasure
from tests.unit.test_store_erasure import filled, kill_once_rewritten
tmp = Path(sys.argv[1])
store, gone, stay, ids = filled(tmp)
json.dump({"gone": gone, "stay": stay, "ids": ids}, open(tmp / "facts.json", "w"))
kill_once_rewritten(journal, erasure)
wipe.wipe_learner_data(store)
""")


def test_wipe_killed_before_the_journal_index_is_forgotten(tmp_path: Path) -> None:
    from app.core.application.device import Device
    r = subprocess.run([sys.executable, "-c", WIPE_CHILD, str(tmp_path)], cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert r.returncode == 9, r.stderr
    device = Device.open(tmp_path)                  # finishes the wipe
    try:
        store = device.store
        assert store.learner_ids() == [] and store.profiles.list() == []
        assert store.outbox_count() == 0
        assert store.outbox(1000) == []             # what a push reads first
    finally:
        device.close()


# --- erasure reattributed ----------

def test_an_erasure_takes_the_work_of_her_retired_offline_profile_too(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        # she made an offline profile here; the server said her staff number is taken
        old = store.profiles.create("Ana Offline", "ANA-1", "prison_officer", "en", "2468")["id"]
        old_ids = [store.append(event(old, n)) for n in range(5)]
        # her server profile E arrives with the pull (made here for brevity)
        e = store.profiles.create("Ana Server", "ANA-2", "prison_officer", "en", "1357")["id"]
        reattribute.plan(store, old, e)
        assert reattribute.run(store, old, e) == 5          # copies now belong to E
        assert store.profiles.get(old) is None               # retired
        erasure.purge(store, [e])                            # the admin erases Ana
        assert store.events(e) == []
        left = store.events(old)
        rejected = [r for r in store.rejected() if r["event"]["learner"] == old]
        assert not left and not rejected, (f"{len(left)} events and {len(rejected)} "
                                           "rejected rows of her old id remain")
    text = every_byte(tmp_path / "store")
    assert not [i for i in old_ids if i in text]


# --- erasure settings ----------

def test_an_erasure_drops_the_learners_display_preferences(tmp_path: Path) -> None:
    store, gone, stay, _ = filled(tmp_path)
    try:
        store.settings.set("learner_display", {gone: {"text_size": "larger",
                                                      "high_contrast": True}})
        erasure.purge(store, [gone])
        assert gone not in (store.settings.get("learner_display", {}) or {})
    finally:
        store.close()


# --- erased profile back ----------

def test_a_pulled_profile_of_an_erased_learner_is_not_kept(
        tmp_path: Path) -> None:
    store, gone, stay, _ = filled(tmp_path)
    try:
        as_pushed = [p for p in store.profiles.pending_push() if p["id"] == gone]
        erasure.purge(store, [gone])
        assert store.profiles.get(gone) is None
        # a server restored from a backup taken before the erasure: the pull from 0
        # brings the profile back (its events are refused by merge)
        store.profiles.upsert_remote(as_pushed)
        # the operator re-runs the erasure (docs/privacy.md §7): a new tombstone
        erasure.purge(store, [gone])
        assert store.profiles.get(gone) is None, "the erased learner's tile is back for good"
    finally:
        store.close()


# --- wipe orphan ----------

X = "0d000000-0000-4000-8000-00000000000d"     # events here, no profile on this tablet

ORPHAN_CHILD = textwrap.dedent(r"""
import os, sys, shutil, uuid
from pathlib import Path
from app.core.learning import load_history
from app.core.store import Store, wipe, erasure
tmp = Path(sys.argv[1]); X = sys.argv[2]
s = Store.open(tmp, journal_capacity=8, segment_capacity=4)
s.profiles.create("Has Profile", "HAS-1", "prison_officer", "en", "2468")
evs = [{"id": str(uuid.uuid4()), "learner": X, "device": "dev-other", "seq": n + 1,
        "at": "2026-01-01T10:00:%02d.000Z" % n, "type": "card.viewed", "pack": "p",
        "pack_version": 1, "ref": {"course": "c", "lesson": "l", "card": str(n)},
        "data": {"seconds": 1.0}} for n in range(10)]
s.merge(evs)
load_history(s, X)                                   # sign-in: saves folds.snap
assert list((tmp / "store" / "learners").glob("*/folds.snap"))
real = shutil.rmtree
def rmtree(folder, *a, **k):                        # killed part-way through the folder
    for p in sorted(Path(folder).glob("*.json")):
        p.unlink()
    os._exit(9)
erasure.shutil.rmtree = rmtree
wipe.wipe_learner_data(s)
""")


def test_a_wipe_killed_inside_a_learner_folder_leaves_nothing_once_finished(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-c", ORPHAN_CHILD, str(tmp_path), X], cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert r.returncode == 9, r.stderr
    device = Device.open(tmp_path)                   # finishes the pending wipe
    try:
        assert not wipe.pending(device.store)
        assert device.store.learner_ids() == [] and device.store.profiles.list() == []
    finally:
        device.close()
    folder = tmp_path / "store" / "learners" / learner_key(X)
    left = sorted(p.name for p in folder.glob("*")) if folder.exists() else []
    assert left == [], f"left after the wipe finished: {left}"
    assert X not in every_byte(tmp_path / "store")


# --- corrupt copies ----------

def test_copies_of_damaged_files_go_with_an_erasure_and_a_wipe(tmp_path: Path) -> None:
    store = Store.open(tmp_path, journal_capacity=50)
    gone = store.profiles.create("Gone Person", "GONE-1", "prison_officer", "en", "2468")["id"]
    ids = [store.append(event(gone, n)) for n in range(5)]
    store.close()
    log = next((tmp_path / "store" / "journal").glob("0*.log"))
    lines = log.read_bytes().split(b"\n")
    lines[2] = lines[2][:10] + b"#" + lines[2][11:]         # one damaged line mid-file
    log.write_bytes(b"\n".join(lines))
    with Store.open(tmp_path) as s:
        s.outbox(100)
        erasure.purge(s, [gone])
        wipe.wipe_learner_data(s)
    left = [p.name for p in (tmp_path / "store" / "journal").glob("*.corrupt-*")]
    text = every_byte(tmp_path / "store")
    assert not left and ids[3] not in text and "Gone Person" not in text, left


SEALED_CHILD = r"""
import os, sys, json
from app.core.store import Store
from app.core.store.keys import FixedKey
from tests.unit.test_store_erasure import event
s = Store.open(sys.argv[1], journal_capacity=50, keys=FixedKey(bytes(range(32)), created=True))
gone = s.profiles.create("Gone Person", "GONE-1", "prison_officer", "en", "2468")["id"]
ids = [s.append(event(gone, n)) for n in range(5)]
print(json.dumps({"gone": gone, "ids": ids}), flush=True)
os._exit(9)                       # power cut (the next append would be torn)
"""


def test_an_encrypted_torn_journal_copy_goes_with_an_erasure(tmp_path: Path) -> None:
    root = ROOT
    r = subprocess.run([sys.executable, "-c", SEALED_CHILD, str(tmp_path)], cwd=root,
                       env={"PYTHONPATH": str(root)}, capture_output=True, text=True)
    facts = json.loads(r.stdout)
    log = next((tmp_path / "store" / "journal").glob("0*.log"))
    log.write_bytes(log.read_bytes() + b"\x00\x00\x01\x00torn")   # a torn 6th record
    s = Store.open(tmp_path, journal_capacity=50, keys=FixedKey(bytes(range(32))))
    try:
        erasure.purge(s, [facts["gone"]])
        wipe.wipe_learner_data(s)
        copies = list((tmp_path / "store" / "journal").glob("*.corrupt-*"))
        opened = b"".join(sealer_for(log).open_frames(log, c.read_bytes()) for c in copies)
        readable = [i for i in facts["ids"] if i.encode() in opened]
        assert not copies, (f"{[c.name for c in copies]} left after erasure + wipe; "
                            f"{len(readable)} erased event ids open with the folder key")
    finally:
        s.close()


def test_an_encrypted_damaged_profiles_copy_goes_with_a_wipe(tmp_path: Path) -> None:
    key = bytes(range(32))
    with Store.open(tmp_path, keys=FixedKey(key, created=True)) as s:
        s.profiles.create("Gone Person", "GONE-1", "prison_officer", "en", "2468")
    prof = tmp_path / "store" / "profiles.json"
    raw = bytearray(prof.read_bytes())
    raw[-20] ^= 1
    prof.write_bytes(bytes(raw))
    with Store.open(tmp_path, keys=FixedKey(key)) as s:
        s.profiles.list()
        wipe.wipe_learner_data(s)
    assert not list((tmp_path / "store").glob("profiles.json.damaged-*"))
