"""SIGKILL crash test of pack installs (the batched blob store, issue 18) — from a .pack
file, and over the network (downloaded blobs adopted into a batch, `install_from_blobs`).

A child process installs version 2 of a pack (300 small images and edited lessons) over
version 1, printing a line as each phase begins: each blob staged, the batch flushed
and moved into the store, the new version folder written, the switch. The parent kills
it (SIGKILL) at a random one of those lines and checks the data folder: CURRENT names
version 1 or 2 — version 2 only if the switch had begun — and every blob of the live
version is in the store with its hash, its lessons load. Then, sometimes, an install
runs to the end in the same folder (the left-over staging folder must not disturb it,
and is removed), and the next kill starts from version 1 again or from the folder as it
is.

The network update is killed the same way at a random phase: a downloaded blob adopted
(hash-checked), the batch's flushes (the staged files; the folders after the moves), the
switch. Version 1 stays live until the switch; an update finished afterwards in the same
folder (downloads left in place or gone) makes version 2 whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from app.core.packs import (
    PackLibrary,
    TrustedKeys,
    build_pack,
    install_from_blobs,
    install_pack,
    load_private_key,
    load_public_key,
    write_keypair,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "content_packs" / "promote-sample"

CHILD = r"""
import sys
import zipfile
from pathlib import Path
from app.core.packs import TrustedKeys, install_pack, load_public_key
from app.core.packs import blob_batch, install

pack, data, pub = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
out = sys.stdout

def say(word):
    out.write(word + "\n"); out.flush()

real_put, real_commit, real_switch = blob_batch.BlobBatch.put, blob_batch.BlobBatch.commit, install._commit
def put(self, sha, *args, **kwargs):
    say("stage")
    return real_put(self, sha, *args, **kwargs)
def commit(self):
    say("flush")
    return real_commit(self)
def switch(lib, vp):
    say("switch")
    return real_switch(lib, vp)
blob_batch.BlobBatch.put, blob_batch.BlobBatch.commit, install._commit = put, commit, switch
install_pack(pack, data, TrustedKeys([load_public_key(pub)]))
say("installed")
"""

NETWORK_CHILD = r"""
import sys
from pathlib import Path
from app.core.packs import blob_batch, install
from tests.integration.test_pack_install_crash import network_update

pack, data, pub = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
out = sys.stdout

def say(word):
    out.write(word + "\n"); out.flush()

real_adopt, real_durable = blob_batch.BlobBatch.adopt_partial, blob_batch.BlobBatch._durable
real_switch = install._commit
def adopt(self, sha, size):
    say("adopt")
    return real_adopt(self, sha, size)
def durable(self, paths, **kwargs):
    say("durable")
    return real_durable(self, paths, **kwargs)
def switch(lib, vp):
    say("switch")
    return real_switch(lib, vp)
blob_batch.BlobBatch.adopt_partial, blob_batch.BlobBatch._durable = adopt, durable
install._commit = switch
network_update(pack, data, pub)
say("installed")
"""


def network_update(pack: Path, data: Path, pub: Path) -> None:
    """What app/sync/packs.py does once the manifest is verified: the missing blobs
    "downloaded" into partial files (those already there are kept, as a resumed
    download does), each adopted into one batch, the batch committed, then the switch."""
    lib = PackLibrary(data)
    with zipfile.ZipFile(pack) as zf:
        manifest_bytes, sig_bytes = zf.read("manifest.json"), zf.read("manifest.sig")
        missing = lib.missing_blobs(json.loads(manifest_bytes))
        for f in missing:
            part = lib.blobs.partial_path(f["sha256"])
            if not part.is_file():
                part.write_bytes(zf.read(f"blobs/{f['sha256']}"))
    with lib.blobs.batch() as batch:
        for f in missing:
            batch.adopt_partial(f["sha256"], int(f["size"]))
        batch.commit()
    install_from_blobs(manifest_bytes, sig_bytes, data, TrustedKeys([load_public_key(pub)]))


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("packs")
    key, pub = write_keypair(base / "crash.key")
    src = base / "src"
    shutil.copytree(SAMPLE, src)
    v1 = build_pack(src, load_private_key(key), base / "o1", version=1)
    media = src / "media"
    media.mkdir()
    rng = random.Random(7)
    for i in range(300):
        (media / f"img-{i:03d}.jpg").write_bytes(b"\xff\xd8\xff" + rng.randbytes(2000))
    lesson = src / "courses/boundaries/02-warning-signs.en.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\nSecond edition.\n",
                      encoding="utf-8")
    v2 = build_pack(src, load_private_key(key), base / "o2", version=2)
    return v1, v2, pub


def check(data: Path, switched: bool, installed: bool) -> int:
    lib = PackLibrary(data)
    version = lib.current_version("promote-sample")
    assert version in (1, 2), version
    if installed:
        assert version == 2
    if not switched:
        assert version == 1, "the new version went live before the switch"
    pack = lib.get("promote-sample")
    assert pack is not None
    for entry in pack.manifest["files"]:
        data_ = lib.blobs.read(entry["sha256"])          # a loose file or in a container
        assert hashlib.sha256(data_).hexdigest() == entry["sha256"], entry["path"]
        if entry["path"].startswith("lessons/") and entry["path"].endswith(".json"):
            assert lib.lesson("promote-sample", entry["path"])["title"]
    return version


def killed_child(argv: list[str], env: dict[str, str],
                 stop: Callable[[str, list[str]], bool]) -> list[str]:
    """Run `python -c argv…` (a child that prints one word per step) and SIGKILL it at the
    first line `stop(line, words so far)` accepts: every word it printed. A child that
    died by itself before "installed" fails the test (with its stderr)."""
    proc = subprocess.Popen([sys.executable, "-c", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    words: list[str] = []
    while True:
        line = proc.stdout.readline().decode().strip()
        if not line:
            break
        words.append(line)
        if stop(line, words):
            break
    proc.send_signal(signal.SIGKILL)
    words += proc.stdout.read().decode().split()
    err = proc.stderr.read().decode(errors="replace")
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()
    if proc.returncode != -signal.SIGKILL and "installed" not in words:
        raise AssertionError(f"child died on its own ({proc.returncode}): {err[-2000:]}")
    return words


def check_finish_or_reset(data: Path, fresh: Path, words: list[str], rng: random.Random,
                          finish: Callable[[], object]) -> None:
    """After a kill: a whole live version (check); sometimes `finish` the update right
    there (the left-overs must not disturb it); back to the fresh v1 once v2 is live."""
    version = check(data, "switch" in words, "installed" in words)
    if rng.random() < 0.4:
        if version == 1:
            finish()
        assert check(data, True, True) == 2
        assert not any((data / "blobs" / "tmp").glob("batch-*")), "staging left behind"
    if check(data, True, False) == 2:
        shutil.rmtree(data)
        shutil.copytree(fresh, data)


def test_a_killed_install_leaves_a_whole_live_version(tmp_path: Path,
                                                      packs: tuple[Path, Path, Path]) -> None:
    v1, v2, pub = packs
    trusted = TrustedKeys([load_public_key(pub)])
    fresh = tmp_path / "fresh"
    install_pack(v1, fresh, trusted)
    rng = random.Random(20261206)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    data = tmp_path / "data"
    shutil.copytree(fresh, data)
    seen = {"stage": 0, "flush": 0, "switch": 0}
    for _ in range(24):
        stop_at = rng.choice(["stage"] * 4 + ["flush", "switch"])
        skip = rng.randrange(250) if stop_at == "stage" else 0
        words = killed_child([CHILD, str(v2), str(data), str(pub)], env,
                             lambda line, words, stop_at=stop_at, skip=skip: line == stop_at
                             and (stop_at != "stage" or words.count("stage") > skip))
        for word in seen:
            seen[word] += word in words
        check_finish_or_reset(data, fresh, words, rng,
                              lambda: install_pack(v2, data, trusted))
    assert all(seen.values()), f"every phase was interrupted at least once: {seen}"


def test_a_killed_network_update_leaves_a_whole_live_version(
        tmp_path: Path, packs: tuple[Path, Path, Path]) -> None:
    v1, v2, pub = packs
    fresh = tmp_path / "fresh"
    install_pack(v1, fresh, TrustedKeys([load_public_key(pub)]))
    rng = random.Random(20261207)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    data = tmp_path / "data"
    shutil.copytree(fresh, data)
    seen = {"adopt": 0, "durable": 0, "switch": 0}
    for _ in range(16):
        stop_at = rng.choice(["adopt"] * 3 + ["durable"] * 2 + ["switch"])
        skip = {"adopt": rng.randrange(250), "durable": rng.randrange(2), "switch": 0}[stop_at]
        words = killed_child([NETWORK_CHILD, str(v2), str(data), str(pub)], env,
                             lambda line, words, stop_at=stop_at, skip=skip: line == stop_at
                             and words.count(stop_at) > skip)
        for word in seen:
            seen[word] += word in words
        check_finish_or_reset(data, fresh, words, rng,
                              lambda: network_update(v2, data, pub))
    assert all(seen.values()), f"every phase was interrupted at least once: {seen}"
