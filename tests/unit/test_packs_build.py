"""Keys and the deterministic builder."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
import zipfile
from pathlib import Path

import pytest

from app.core.errors import PackError, PackVerifyError
from app.core.packs import (
    FORMAT_VERSION,
    TrustedKeys,
    canonical_json,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    verify_pack,
    write_keypair,
)
from app.core.packs.keys import public_key_pem
from tests.unit.test_packs_support import KEY, PUB, TRUST, build, copy_sample


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_source_gives_the_same_bytes(tmp_path: Path) -> None:
    a = build(copy_sample(tmp_path, "a"), tmp_path / "out-a")
    time.sleep(0.01)
    src_b = copy_sample(tmp_path, "b")
    for p in src_b.rglob("*"):                    # other mtimes, same content
        os.utime(p, (1_000_000_000, 1_000_000_000))
    b = build(src_b, tmp_path / "out-b")
    assert a.name == b.name == "promote-sample-1.pack"
    assert sha(a) == sha(b)


def test_changed_source_changes_only_the_affected_blob(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    one = build(src, tmp_path / "one")
    lesson = src / "courses/boundaries/02-warning-signs.en.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    two = build(src, tmp_path / "two")
    with zipfile.ZipFile(one) as z1, zipfile.ZipFile(two) as z2:
        n1, n2 = set(z1.namelist()), set(z2.namelist())
    assert len(n1 ^ n2) == 2            # one blob out, one blob in


def test_pack_layout_and_manifest(tmp_path: Path) -> None:
    pack = build(copy_sample(tmp_path), tmp_path / "out")
    with zipfile.ZipFile(pack) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        manifest_bytes = zf.read("manifest.json")
        sig = json.loads(zf.read("manifest.sig"))
        png = next(i for i in infos if zf.read(i).startswith(b"\x89PNG"))
    assert names[:2] == ["manifest.json", "manifest.sig"]
    assert names[2:] == sorted(names[2:]) and all(n.startswith("blobs/") for n in names[2:])
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert png.compress_type == zipfile.ZIP_STORED
    m = json.loads(manifest_bytes)
    assert canonical_json(m) == manifest_bytes          # sorted keys, no spaces
    assert m["format"] == FORMAT_VERSION
    paths = [f["path"] for f in m["files"]]
    assert paths == sorted(paths)
    assert {f"blobs/{f['sha256']}" for f in m["files"]} == set(names[2:])
    assert sig["alg"] == "ed25519" and sig["key_id"] == key_id(PUB)
    assert len(sig["key_id"]) == 16
    PUB.verify(base64.b64decode(sig["sig"]), manifest_bytes)


def test_version_override_republishes_as_a_newer_version(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    pack = build(src, tmp_path / "out", version=7)
    assert pack.name == "promote-sample-7.pack"
    assert verify_pack(pack, TRUST).version == 7
    for bad in (0, -1, True):
        with pytest.raises(PackError, match="version must be an integer"):
            build(src, tmp_path / "out", version=bad)


def test_highly_compressible_lesson_is_stored_so_it_verifies(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    lesson = src / "courses/boundaries/03-what-to-do.en.md"
    lesson.write_text("# T\n\n" + "all work and no play " * 40000 + "\n", encoding="utf-8")
    pack = build(src, tmp_path / "out")
    verify_pack(pack, TRUST)


def test_verify_pack_reports_the_summary_fields(tmp_path: Path) -> None:
    pack = build(copy_sample(tmp_path), tmp_path / "out")
    vp = verify_pack(pack, TRUST)
    assert (vp.id, vp.version, vp.key_id) == ("promote-sample", 1, key_id(KEY))
    assert vp.manifest_bytes == zipfile.ZipFile(pack).read("manifest.json")
    assert json.loads(vp.sig_bytes)["alg"] == "ed25519"
    assert vp.total_bytes == sum(f["size"] for f in vp.manifest["files"])
    with pytest.raises(PackVerifyError, match="rollback refused"):
        verify_pack(pack, TRUST, installed_version=1)


# -- keys -------------------------------------------------------------------------------
def test_keypair_files(tmp_path: Path) -> None:
    keyfile, pubfile = write_keypair(tmp_path / "k" / "admin.key")
    assert pubfile.name == "admin.key.pub"
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert keyfile.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    private, public = load_private_key(keyfile), load_public_key(pubfile)
    assert key_id(private) == key_id(public)
    with pytest.raises(PackError, match="already exists"):
        write_keypair(keyfile)
    old = keyfile.read_bytes()
    write_keypair(keyfile, overwrite=True)
    assert keyfile.read_bytes() != old


def test_public_key_as_base64_raw_and_trusted_set(tmp_path: Path) -> None:
    _, pub = generate_keypair()
    raw = base64.b64encode(pub.public_bytes_raw())
    assert key_id(load_public_key(raw + b"\n")) == key_id(pub)
    trusted = TrustedKeys.from_bytes([public_key_pem(pub), public_key_pem(PUB)])
    assert trusted.key_ids == sorted([key_id(pub), key_id(PUB)])
    assert key_id(pub) in trusted and len(trusted) == 2


@pytest.mark.parametrize(("data", "message"), [
    (b"hello", "not a public key"),
    (base64.b64encode(b"x" * 31), "has 32 bytes, got 31"),
    (b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", "not a PEM public key"),
])
def test_bad_public_keys(data: bytes, message: str) -> None:
    with pytest.raises(PackError, match=message):
        load_public_key(data)


def test_bad_private_key_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="not an unencrypted PEM private key"):
        load_private_key(b"garbage")
    with pytest.raises(PackError, match="cannot read key file"):
        load_private_key(tmp_path / "missing.key")


def test_build_all_reports_a_broken_source_and_builds_the_others(tmp_path: Path) -> None:
    from tools.build_packs import build_all

    srcs = tmp_path / "content_packs"
    copy_sample(srcs, "promote-sample")
    broken = copy_sample(srcs, "broken")
    (broken / "pack.toml").write_text("format = 1\nid = \n", encoding="utf-8")
    key = tmp_path / "keys" / "dev.key"
    built, errors = build_all(srcs, tmp_path / "out", key)
    assert [p.name for p in built] == ["promote-sample-1.pack"]
    assert len(errors) == 1 and "pack.toml:2" in errors[0]
    assert key.is_file() and Path(f"{key}.pub").is_file()
    verify_pack(built[0], TrustedKeys.from_files([f"{key}.pub"]))


def test_sample_image_is_reproducible_from_its_script() -> None:
    from tools.make_sample_image import OUT, png_bytes

    assert OUT.read_bytes() == png_bytes()
