"""The command-line contracts of README.md, run as real processes."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_packs_support import Entry, manifest_of, read_entries, rewrite, snapshot

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "content_packs" / "promote-sample"


def run(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", *map(str, args)], cwd=ROOT, text=True,
                          capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if ok:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode == 1, (proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr           # one clear line
        assert lines[0].startswith("error: ")
    return proc


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("cli")
    key = base / "keys" / "admin.key"
    run("sync_server", "keygen", key)
    out = run("sync_server", "pack", "build", SAMPLE, "--key", key, "--out", base / "out")
    pack = Path(out.stdout.strip().splitlines()[-1])
    return {"base": base, "key": key, "pub": Path(f"{key}.pub"), "pack": pack}


def test_keygen_writes_a_private_and_a_public_key(env: dict[str, Path]) -> None:
    assert stat.S_IMODE(env["key"].stat().st_mode) == 0o600
    assert env["pub"].read_text().startswith("-----BEGIN PUBLIC KEY-----")
    err = run("sync_server", "keygen", env["key"], ok=False)
    assert "already exists" in err.stderr


def test_build_prints_the_pack_path_last(env: dict[str, Path]) -> None:
    assert env["pack"].is_file() and env["pack"].name == "promote-sample-1.pack"
    out = run("sync_server", "pack", "build", SAMPLE, "--key", env["key"], "--out",
              env["base"] / "again", "--version", "5")
    assert out.stdout.strip().splitlines()[-1].endswith("promote-sample-5.pack")


def test_verify_ok_and_refusals(env: dict[str, Path], tmp_path: Path) -> None:
    out = run("sync_server", "pack", "verify", env["pack"], "--trust", env["pub"])
    assert "OK promote-sample version 1" in out.stdout and "lessons: 3" in out.stdout
    other = tmp_path / "other.key"
    run("sync_server", "keygen", other)
    err = run("sync_server", "pack", "verify", env["pack"], "--trust", f"{other}.pub", ok=False)
    assert "unknown key" in err.stderr
    # several --trust flags: any one of them may have signed
    run("sync_server", "pack", "verify", env["pack"], "--trust", f"{other}.pub",
        "--trust", env["pub"])
    broken = tmp_path / "broken.pack"
    broken.write_bytes(env["pack"].read_bytes()[:-100])
    err = run("sync_server", "pack", "verify", broken, "--trust", env["pub"], ok=False)
    assert "not a readable pack" in err.stderr
    err = run("sync_server", "pack", "verify", tmp_path / "missing.pack", "--trust", env["pub"],
              ok=False)
    assert "file not found" in err.stderr


def test_build_error_is_one_line_with_file_and_line(env: dict[str, Path], tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(SAMPLE, src)
    quiz = src / "courses/boundaries/quiz.toml"
    quiz.write_text(quiz.read_text().replace('type = "true_false"', 'type = "yes_no"'))
    err = run("sync_server", "pack", "build", src, "--key", env["key"], "--out", tmp_path / "o",
              ok=False)
    assert "quiz.toml:" in err.stderr and "[questions[2].type]" in err.stderr
    assert "known types: multiple, scenario, single, true_false" in err.stderr


def test_install_then_refuse_rollback(env: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "device"
    out = run("app", "install", env["pack"], "--data-dir", data, "--trust", env["pub"])
    assert "installed promote-sample version 1" in out.stdout
    current = (data / "packs/promote-sample/CURRENT").read_bytes()
    err = run("app", "install", env["pack"], "--data-dir", data, "--trust", env["pub"], ok=False)
    assert "rollback refused" in err.stderr
    assert (data / "packs/promote-sample/CURRENT").read_bytes() == current
    err = run("app", "install", tmp_path / "nope.pack", "--data-dir", data, "--trust",
              env["pub"], ok=False)
    assert "file not found" in err.stderr
    err = run("app", "install", env["pack"], "--data-dir", data, "--trust",
              tmp_path / "nokey.pub", ok=False)
    assert "cannot read key file" in err.stderr


def test_make_packs_tool_builds_every_source_with_a_dev_key(tmp_path: Path) -> None:
    """`make packs` (tools.build_packs) on the real content_packs/: every pack is built,
    signed with a new dev key and passes `pack verify` (issue 6's definition of done)."""
    srcs = tmp_path / "content_packs"
    names = sorted(p.parent.name for p in (ROOT / "content_packs").glob("*/pack.toml"))
    assert {"promote-sample", "promote-core"} <= set(names)
    for name in names:
        shutil.copytree(ROOT / "content_packs" / name, srcs / name)
    key = tmp_path / "var/dev-keys/dev.key"
    out = run("tools.build_packs", "--src", srcs, "--out", tmp_path / "var/packs", "--key", key)
    built = out.stdout.strip().splitlines()
    # one pack per source folder, named <id>-<version>.pack (the folder name is the pack id)
    assert sorted(Path(line).name.rsplit("-", 1)[0] for line in built) == names
    assert any(line.endswith("promote-sample-1.pack") for line in built)
    assert key.is_file() and Path(f"{key}.pub").is_file()
    for line in built:
        ok = run("sync_server", "pack", "verify", line, "--trust", f"{key}.pub")
        assert ok.stdout.startswith("OK ")


def test_unwritable_targets_are_one_line_errors(env: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    err = run("sync_server", "keygen", blocker / "k.key", ok=False)
    assert "cannot write the key" in err.stderr
    err = run("sync_server", "pack", "build", SAMPLE, "--key", env["key"], "--out",
              blocker / "out", ok=False)
    assert "cannot write the pack" in err.stderr


def test_install_refuses_a_tampered_update_in_one_line_and_keeps_the_live_pack(
        env: dict[str, Path], tmp_path: Path) -> None:
    """A USB stick with a forged version 2: exit 1, one line, version 1 stays live."""
    data = tmp_path / "device"
    run("app", "install", env["pack"], "--data-dir", data, "--trust", env["pub"])
    before = snapshot(data)
    src = tmp_path / "src"
    shutil.copytree(SAMPLE, src)
    lesson = src / "courses/boundaries/01-why-boundaries.en.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\nSecond edition.\n",
                      encoding="utf-8")
    out = run("sync_server", "pack", "build", src, "--key", env["key"], "--out",
              tmp_path / "v2", "--version", "2")
    v2 = Path(out.stdout.strip().splitlines()[-1])
    new_blob = "blobs/" + next(f["sha256"] for f in manifest_of(read_entries(v2))["files"]
                               if f["path"] == "lessons/boundaries/01-why-boundaries.en.json")

    def flip_a_bit(entries: list[Entry]) -> list[Entry]:
        # a blob the device lacks (blobs it has are not read from the pack at all)
        blob = next(e for e in entries if e.name == new_blob)
        data = bytearray(blob.data)
        data[len(data) // 2] ^= 0x01
        return [Entry(e.name, bytes(data), e.compress) if e is blob else e for e in entries]

    bad = rewrite(v2, tmp_path / "promote-sample-2.pack", flip_a_bit)
    err = run("app", "install", bad, "--data-dir", data, "--trust", env["pub"], ok=False)
    assert "was tampered with" in err.stderr and "Traceback" not in err.stderr
    err = run("sync_server", "pack", "verify", bad, "--trust", env["pub"], ok=False)
    assert "was tampered with" in err.stderr
    assert snapshot(data) == before
    out = run("app", "install", v2, "--data-dir", data, "--trust", env["pub"])
    assert "installed promote-sample version 2" in out.stdout
