"""Build a signed, deterministic ``<id>-<version>.pack`` from a source folder.

Determinism: entries in a fixed order (manifest.json, manifest.sig, blobs by hash), fixed
timestamps (1980-01-01), fixed attributes, canonical JSON, and a compression choice that
depends only on the content. Ed25519 signatures are deterministic too, so the same source
and key give the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.canonical import canonical_json
from app.core.errors import PackError, PackSourceError
from app.core.packs.keys import key_id
from app.core.packs.limits import CHUNK, MAX_MANIFEST_BYTES, MAX_RATIO
from app.core.packs.source import PackSource, read_source

_EPOCH = (1980, 1, 1, 0, 0, 0)


def sign_manifest(manifest_bytes: bytes, private_key: Ed25519PrivateKey) -> bytes:
    """manifest.sig content: canonical JSON with alg, key_id and base64 signature."""
    sig = private_key.sign(manifest_bytes)
    return canonical_json({"alg": "ed25519", "key_id": key_id(private_key),
                           "sig": base64.b64encode(sig).decode("ascii")})


def build_pack(src_dir: Path, private_key: Ed25519PrivateKey, out_dir: Path, *,
               version: int | None = None) -> Path:
    """Read, validate and build ``src_dir``; returns the path of the written .pack.

    ``version`` overrides pack.toml's version (used to republish old content as a newer
    version, e.g. an admin's roll back).
    """
    return build_from_source(read_source(Path(src_dir)), private_key, out_dir, version=version)


def build_from_source(source: PackSource, private_key: Ed25519PrivateKey, out_dir: Path, *,
                      version: int | None = None) -> Path:
    manifest: dict[str, Any] = dict(source.manifest)
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise PackError(f"version must be an integer ≥ 1, got {version!r}")
        manifest["version"] = version
    files = []
    blobs: dict[str, bytes | Path] = {}
    for path, content in source.files.items():
        sha, size = _digest(content)
        files.append({"path": path, "size": size, "sha256": sha})
        blobs.setdefault(sha, content)
    manifest["files"] = sorted(files, key=lambda f: f["path"])
    manifest_bytes = canonical_json(manifest)
    if len(manifest_bytes) > MAX_MANIFEST_BYTES:
        raise PackError(f"manifest.json would be {len(manifest_bytes)} bytes; the limit is "
                        f"{MAX_MANIFEST_BYTES} (split the pack)")
    sig_bytes = sign_manifest(manifest_bytes, private_key)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['id']}-{manifest['version']}.pack"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=out_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            _write_bytes(zf, "manifest.json", manifest_bytes)
            _write_bytes(zf, "manifest.sig", sig_bytes)
            for sha in sorted(blobs):
                content = blobs[sha]
                if isinstance(content, bytes):
                    _write_bytes(zf, f"blobs/{sha}", content)
                else:
                    _write_file(zf, f"blobs/{sha}", content, sha)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _digest(content: bytes | Path) -> tuple[str, int]:
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest(), len(content)
    h = hashlib.sha256()
    size = 0
    with open(content, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _info(name: str, compress: int, size: int) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=_EPOCH)
    zi.compress_type = compress
    zi.create_system = 3
    zi.external_attr = 0o100644 << 16
    zi.file_size = size
    return zi


def _write_bytes(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    # Deflate small text (manifest, lessons) unless it compresses so well that the
    # verifier's zip-bomb ratio limit would trip; media are stored as they are.
    deflate = len(data) > 0 and len(zlib.compress(data, 6)) * (MAX_RATIO // 2) >= len(data)
    zf.writestr(_info(name, zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED, len(data)),
                data, compresslevel=6 if deflate else None)


def _write_file(zf: zipfile.ZipFile, name: str, path: Path, sha: str) -> None:
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as src, zf.open(_info(name, zipfile.ZIP_STORED, size), "w",
                                          force_zip64=size >= 0x7FFFFFFF) as dst:
        while chunk := src.read(CHUNK):
            h.update(chunk)
            dst.write(chunk)
    if h.hexdigest() != sha:
        raise PackSourceError("file changed while the pack was being built; build again",
                              path=str(path))
