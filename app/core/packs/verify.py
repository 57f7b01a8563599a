"""Verify a built .pack (docs/pack-format.md §3). The first failure is one PackVerifyError line.

``open_pack`` runs steps 1–5 and the structural part of step 7 (every blob entry is listed,
every listed file has a blob of the right size) and leaves the zip open, so the installer
can stream and hash each blob exactly once while writing it (steps 6–7 happen there).
``verify_pack`` is the stand-alone check (CLI ``pack verify``, server upload): it also
streams every blob through sha256 unless ``check_blobs=False``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import stat
import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, Any
from zlib import error as ZlibError

from app.core.errors import PackVerifyError
from app.core.packs.keys import TrustedKeys
from app.core.packs.lesson_check import (
    MAX_LESSON_BYTES,
    check_lesson,
    check_manifest_text,
    lesson_shas,
    media_paths,
)
from app.core.packs.limits import (
    CHUNK,
    MAX_ENTRIES,
    MAX_ENTRY_BYTES,
    MAX_MANIFEST_BYTES,
    MAX_RATIO,
    MAX_TOTAL_BYTES,
)
from app.core.packs.manifest import ManifestIdentity, check_format, check_manifest
from app.core.packs.media import HEAD_BYTES, check_image_head, media_files

_BLOB_NAME = re.compile(r"^blobs/([0-9a-f]{64})$")
_MAX_SIG_BYTES = 4096


@dataclass
class VerifiedPack(ManifestIdentity):
    """A pack whose signature, manifest and structure passed verification."""

    manifest: dict[str, Any]
    manifest_bytes: bytes
    sig_bytes: bytes
    key_id: str
    path: Path | None = None
    blob_entries: dict[str, zipfile.ZipInfo] = field(default_factory=dict)

    @cached_property
    def blob_sizes(self) -> dict[str, int]:
        """sha256 → size of every distinct blob the manifest lists."""
        return {f["sha256"]: f["size"] for f in self.manifest["files"]}

    @cached_property
    def blob_paths(self) -> dict[str, str]:
        """sha256 → the first pack path with that content (names blobs in messages)."""
        out: dict[str, str] = {}
        for f in self.manifest["files"]:
            out.setdefault(f["sha256"], f["path"])
        return out

    @property
    def total_bytes(self) -> int:
        return sum(self.blob_sizes.values())


def verify_pack(pack_file: Path, trusted: TrustedKeys, *, installed_version: int | None = None,
                check_blobs: bool = True) -> VerifiedPack:
    with open_pack(pack_file, trusted, installed_version=installed_version) as (zf, vp):
        if check_blobs:
            lessons = lesson_shas(vp.manifest)
            media = media_paths(vp.manifest)
            images = media_files(vp.manifest)
            for sha, info in sorted(vp.blob_entries.items()):
                if sha in lessons and info.file_size > MAX_LESSON_BYTES:   # before reading it
                    raise PackVerifyError(f"lesson {lessons[sha]} is {info.file_size} bytes; "
                                          f"the limit is {MAX_LESSON_BYTES}")
                with open_blob(zf, info) as fh:
                    chunks = hashed_chunks(fh, sha, info.file_size, _where(vp, sha))
                    if sha in lessons:
                        check_lesson(b"".join(chunks), lessons[sha], vp.manifest, media=media)
                        continue
                    head = b""
                    for chunk in chunks:
                        if len(head) < HEAD_BYTES:
                            head += chunk[:HEAD_BYTES - len(head)]
                    if sha in images:
                        check_image_head(head, images[sha])
        return vp


def verify_manifest(manifest_bytes: bytes, sig_bytes: bytes, trusted: TrustedKeys, *,
                    installed_version: int | None = None) -> VerifiedPack:
    """Steps 3–5 for a manifest fetched on its own (sync client, before any blob download)."""
    if len(manifest_bytes) > MAX_MANIFEST_BYTES:
        raise PackVerifyError(f"manifest.json is {len(manifest_bytes)} bytes; the limit is "
                              f"{MAX_MANIFEST_BYTES}")
    if len(sig_bytes) > _MAX_SIG_BYTES:
        raise PackVerifyError(f"manifest.sig is larger than its limit of {_MAX_SIG_BYTES} bytes")
    kid = check_signature(manifest_bytes, sig_bytes, trusted)
    manifest = parse_manifest(manifest_bytes)
    check_rollback(manifest, installed_version)
    return VerifiedPack(manifest, manifest_bytes, sig_bytes, kid)


@contextmanager
def open_pack(pack_file: Path, trusted: TrustedKeys, *, installed_version: int | None = None
              ) -> Iterator[tuple[zipfile.ZipFile, VerifiedPack]]:
    pack_file = Path(pack_file)
    try:
        zf = zipfile.ZipFile(pack_file)
    except FileNotFoundError:
        raise PackVerifyError(f"{pack_file}: file not found") from None
    except Exception as exc:  # noqa: BLE001 — any parse failure of untrusted bytes
        raise PackVerifyError(f"{pack_file}: not a readable pack (zip) file: {exc}") from None
    with zf:
        infos = _check_entries(zf)                                  # steps 1-2
        manifest_bytes = _read_small(zf, infos["manifest.json"], MAX_MANIFEST_BYTES)
        sig_bytes = _read_small(zf, infos["manifest.sig"], _MAX_SIG_BYTES)
        kid = check_signature(manifest_bytes, sig_bytes, trusted)    # step 3
        manifest = parse_manifest(manifest_bytes)                    # step 4
        check_rollback(manifest, installed_version)                  # step 5
        vp = VerifiedPack(manifest, manifest_bytes, sig_bytes, kid, pack_file)
        vp.blob_entries = _match_blobs(infos, vp)                    # step 7 (structure)
        yield zf, vp


def _check_entries(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise PackVerifyError(f"pack has {len(infos)} entries; the limit is {MAX_ENTRIES}")
    seen: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.orig_filename
        shown = name[:80]
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            raise PackVerifyError(f"unsafe entry {shown!r}: absolute path")
        if "\\" in name:
            raise PackVerifyError(f"unsafe entry {shown!r}: backslash in path")
        if ".." in name.split("/"):
            raise PackVerifyError(f"unsafe entry {shown!r}: '..' path escapes the folder "
                                  "(zip-slip)")
        if "\x00" in name or info.filename != name:
            raise PackVerifyError(f"unsafe entry {shown!r}: invalid characters in name")
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_IFMT(mode) == stat.S_IFLNK:
            raise PackVerifyError(f"unsafe entry {shown!r}: symbolic link")
        if name in seen:
            raise PackVerifyError(f"duplicate entry {shown!r} in pack")
        if name not in ("manifest.json", "manifest.sig") and not _BLOB_NAME.match(name):
            raise PackVerifyError(f"unexpected entry {shown!r}: a pack holds only manifest.json, "
                                  "manifest.sig and blobs/<sha256>")
        seen[name] = info
    for name in ("manifest.json", "manifest.sig"):
        if name not in seen:
            raise PackVerifyError(f"pack has no {name}")
    for name, info in seen.items():
        if info.flag_bits & 0x1:
            raise PackVerifyError(f"entry {name[:80]!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise PackVerifyError(f"entry {name[:80]!r} uses unsupported compression "
                                  f"method {info.compress_type}")
        if name == "manifest.json" and info.file_size > MAX_MANIFEST_BYTES:
            raise PackVerifyError(f"manifest.json is {info.file_size} bytes; the limit is "
                                  f"{MAX_MANIFEST_BYTES}")
        if info.file_size > MAX_ENTRY_BYTES:
            raise PackVerifyError(f"entry {name[:80]!r} is {info.file_size} bytes "
                                  f"uncompressed; the limit is {MAX_ENTRY_BYTES}")
        if info.file_size and (info.compress_size == 0
                               or info.file_size > MAX_RATIO * info.compress_size):
            ratio = info.file_size // max(info.compress_size, 1)
            raise PackVerifyError(f"entry {name[:80]!r} expands {ratio}:1 (limit "
                                  f"{MAX_RATIO}:1): zip bomb refused")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise PackVerifyError(f"pack expands to {total} bytes; the limit is {MAX_TOTAL_BYTES}")
    return seen


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    if info.file_size > limit:
        raise PackVerifyError(f"{info.filename} is {info.file_size} bytes; the limit is {limit}")
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, ZlibError) as exc:
        raise PackVerifyError(f"{info.filename} cannot be read: {exc}") from None
    if len(data) > limit:
        raise PackVerifyError(f"{info.filename} is larger than its limit of {limit} bytes")
    return data


def check_signature(manifest_bytes: bytes, sig_bytes: bytes, trusted: TrustedKeys) -> str:
    """Step 3; returns the key id that signed."""
    try:
        sig = json.loads(sig_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise PackVerifyError("manifest.sig is not valid JSON") from None
    if not isinstance(sig, dict) or sig.get("alg") != "ed25519":
        raise PackVerifyError("manifest.sig: unsupported signature algorithm "
                              f"{sig.get('alg') if isinstance(sig, dict) else None!r} "
                              "(expected ed25519)")
    kid, b64 = sig.get("key_id"), sig.get("sig")
    if not isinstance(kid, str) or not isinstance(b64, str):
        raise PackVerifyError("manifest.sig: key_id and sig must be strings")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise PackVerifyError("manifest.sig: sig is not base64") from None
    trusted.verify(kid, raw, manifest_bytes)
    return kid


def parse_manifest(manifest_bytes: bytes) -> dict[str, Any]:
    """Step 4: JSON, supported format, schema, and every text (``check_manifest_text``)."""
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackVerifyError(f"manifest.json is not valid JSON: {exc}") from None
    except RecursionError:
        raise PackVerifyError("manifest.json is nested too deeply") from None
    check_format(manifest)
    check_manifest(manifest)
    check_manifest_text(manifest)
    checked: dict[str, Any] = manifest   # check_manifest: a JSON object
    return checked


def check_rollback(manifest: dict[str, Any], installed_version: int | None) -> None:
    if installed_version is not None and manifest["version"] <= installed_version:
        raise PackVerifyError(f"rollback refused: pack {manifest['id']!r} version "
                              f"{manifest['version']} is not newer than the installed version "
                              f"{installed_version}")


def _match_blobs(infos: dict[str, zipfile.ZipInfo], vp: VerifiedPack
                 ) -> dict[str, zipfile.ZipInfo]:
    sizes = vp.blob_sizes
    blobs: dict[str, zipfile.ZipInfo] = {}
    for name, info in infos.items():
        m = _BLOB_NAME.match(name)
        if not m:
            continue
        sha = m.group(1)
        if sha not in sizes:
            raise PackVerifyError(f"blob {sha[:16]}… is not listed in the manifest")
        if info.file_size != sizes[sha]:
            raise PackVerifyError(f"blob for {_where(vp, sha)} has size {info.file_size}, the "
                                  f"manifest says {sizes[sha]}")
        blobs[sha] = info
    for f in vp.manifest["files"]:
        if f["sha256"] not in blobs:
            raise PackVerifyError(f"blob for {f['path']} ({f['sha256'][:16]}…) is missing "
                                  "from the pack")
    return blobs


def _where(vp: VerifiedPack, sha: str) -> str:
    return vp.blob_paths.get(sha, sha)


@contextmanager
def open_blob(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    try:
        with zf.open(info) as fh:
            yield fh
    except (zipfile.BadZipFile, EOFError, ZlibError) as exc:
        raise PackVerifyError(f"entry {info.filename} is damaged: {exc}") from None


_LOCAL_HEADER = struct.Struct("<4s22xHH")       # signature … name length, extra length


def stored_chunks(raw: IO[bytes], info: zipfile.ZipInfo) -> Iterator[bytes] | None:
    """The bytes of a stored (uncompressed) member read straight from the pack file, or
    None for a compressed one (use `open_blob`). Skips zipfile's per-member reader and
    CRC: for 3,000 small media files that was a third of an install, and the caller
    checks size and sha256 of what it gets, which a CRC cannot add to. The local header
    is checked as zipfile checks it (signature, the same name)."""
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    raw.seek(info.header_offset)
    head = raw.read(_LOCAL_HEADER.size)
    if len(head) != _LOCAL_HEADER.size:
        raise PackVerifyError(f"entry {info.filename} is damaged: truncated local header")
    magic, name_len, extra_len = _LOCAL_HEADER.unpack(head)
    name = raw.read(name_len)
    if magic != b"PK\x03\x04" or name != info.orig_filename.encode("utf-8", "surrogateescape"):
        raise PackVerifyError(f"entry {info.filename} is damaged: bad local header")
    raw.seek(extra_len, 1)
    return _bounded(raw, info.compress_size)


def _bounded(raw: IO[bytes], size: int) -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = raw.read(min(CHUNK, left))
        if not chunk:
            return            # cut short: the caller's size check reports it
        left -= len(chunk)
        yield chunk


def hashed_chunks(fh: IO[bytes], sha: str, size: int, where: str) -> Iterator[bytes]:
    """Yield the blob in chunks; after the last one, check size and sha256 (step 7)."""
    h = hashlib.sha256()
    n = 0
    while True:
        try:
            chunk = fh.read(CHUNK)
        except (zipfile.BadZipFile, EOFError, ZlibError) as exc:
            raise PackVerifyError(f"blob for {where} is damaged: {exc}") from None
        if not chunk:
            break
        n += len(chunk)
        if n > size:
            raise PackVerifyError(f"blob for {where} is larger than the manifest says ({size})")
        h.update(chunk)
        yield chunk
    if n != size:
        raise PackVerifyError(f"blob for {where} has {n} bytes, the manifest says {size}")
    if h.hexdigest() != sha:
        raise PackVerifyError(f"blob for {where} was tampered with: sha256 does not match the "
                              "manifest")

