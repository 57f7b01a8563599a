"""SIGKILL crash test of pack installs (the batched blob store, issue 18).

A child process installs version 2 of a pack (300 small images and edited lessons) over
version 1, printing a line as each phase begins: each blob staged, the batch flushed
and moved into the store, the new version folder written, the switch. The parent kills
it (SIGKILL) at a random one of those lines and checks the data folder: CURRENT names
version 1 or 2 — version 2 only if the switch had begun — and every blob of the live
version is in the store with its hash, its lessons load. Then, sometimes, an install
runs to the end in the same folder (the left-over staging folder must not disturb it,
and is removed), and the next kill starts from version 1 again or from the folder as it
is.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.packs import (
    PackLibrary,
    TrustedKeys,
    build_pack,
    install_pack,
    load_private_key,
    load_public_key,
    write_keypair,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "content_packs" / "promote-sample"

CHILD = r"""
import sys
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
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(v2), str(data), str(pub)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert proc.stdout is not None and proc.stderr is not None
        words: list[str] = []
        while True:
            line = proc.stdout.readline().decode().strip()
            if not line:
                break
            words.append(line)
            if line == stop_at and (stop_at != "stage" or words.count("stage") > skip):
                break
        proc.send_signal(signal.SIGKILL)
        words += proc.stdout.read().decode().split()
        err = proc.stderr.read().decode(errors="replace")
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
        if proc.returncode != -signal.SIGKILL and "installed" not in words:
            raise AssertionError(f"child died on its own ({proc.returncode}): {err[-2000:]}")
        for word in seen:
            seen[word] += word in words
        version = check(data, "switch" in words, "installed" in words)
        if rng.random() < 0.4:        # finish it here: the left-overs must not disturb
            if version == 1:
                install_pack(v2, data, trusted)
            assert check(data, True, True) == 2
            assert not any((data / "blobs" / "tmp").glob("batch-*")), "staging left behind"
        if check(data, True, False) == 2:
            shutil.rmtree(data)
            shutil.copytree(fresh, data)
    assert all(seen.values()), f"every phase was interrupted at least once: {seen}"
