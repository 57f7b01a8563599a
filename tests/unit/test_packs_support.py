"""Helpers shared by the pack tests (no tests here): sample source copies, a test key,
hand-made hostile zips, and a snapshot of a device data folder."""

from __future__ import annotations

import hashlib
import shutil
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.core.packs import TrustedKeys, build_pack, canonical_json, generate_keypair
from app.core.packs.builder import sign_manifest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "content_packs" / "promote-sample"
KEY, PUB = generate_keypair()
TRUST = TrustedKeys([PUB])


def copy_sample(tmp_path: Path, name: str = "src") -> Path:
    dst = tmp_path / name
    shutil.copytree(SAMPLE, dst)
    return dst


def build(src: Path, out: Path, version: int | None = None, key=KEY) -> Path:
    return build_pack(src, key, out, version=version)


@dataclass
class Entry:
    name: str
    data: bytes
    compress: int = zipfile.ZIP_DEFLATED
    mode: int = 0o100644


def read_entries(pack: Path) -> list[Entry]:
    with zipfile.ZipFile(pack) as zf:
        return [Entry(i.filename, zf.read(i), i.compress_type, i.external_attr >> 16)
                for i in zf.infolist()]


def write_entries(entries: list[Entry], out: Path) -> Path:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # zipfile warns on duplicate names
        with zipfile.ZipFile(out, "w") as zf:
            for e in entries:
                zi = zipfile.ZipInfo(e.name, date_time=(1980, 1, 1, 0, 0, 0))
                zi.compress_type = e.compress
                zi.create_system = 3
                zi.external_attr = e.mode << 16
                zf.writestr(zi, e.data)
    return out


def rewrite(pack: Path, out: Path, change: Callable[[list[Entry]], list[Entry]]) -> Path:
    return write_entries(change(read_entries(pack)), out)


def manifest_of(entries: list[Entry]) -> dict:
    import json
    return json.loads(next(e.data for e in entries if e.name == "manifest.json"))


def resign(entries: list[Entry], manifest: dict, key=KEY) -> list[Entry]:
    """Replace manifest.json/.sig with ``manifest`` signed by ``key`` (a 'trusted' forgery)."""
    mbytes = canonical_json(manifest)
    out = [e for e in entries if e.name not in ("manifest.json", "manifest.sig")]
    return [Entry("manifest.json", mbytes), Entry("manifest.sig", sign_manifest(mbytes, key)),
            *out]


def replace_file(entries: list[Entry], path: str, data: bytes, key=KEY) -> list[Entry]:
    """Swap the content of pack file ``path``, update the manifest and re-sign it."""
    m = manifest_of(entries)
    entry = next(f for f in m["files"] if f["path"] == path)
    old = entry["sha256"]
    new = hashlib.sha256(data).hexdigest()
    entry.update(sha256=new, size=len(data))
    blobs = [e for e in entries if e.name.startswith("blobs/") and e.name != f"blobs/{old}"]
    return resign([*blobs, Entry(f"blobs/{new}", data)], m, key)


def snapshot(data_dir: Path) -> dict[str, bytes]:
    """Every file under a device data folder (the lock file aside) with its bytes."""
    if not data_dir.exists():
        return {}
    return {p.relative_to(data_dir).as_posix(): p.read_bytes()
            for p in sorted(data_dir.rglob("*"))
            if p.is_file() and p.name != ".lock" and not stat.S_ISLNK(p.lstat().st_mode)}
