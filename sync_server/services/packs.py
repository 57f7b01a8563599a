"""Pack intake on the server: verify an uploaded .pack (or build one from a zipped source
folder with the server key), put its blobs into the content-addressed store, record the
version; and the device catalogue (latest published version per pack for an audience).

Used by the admin JSON API and by the admin console (sync_server/admin).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import PackError
from app.core.events import format_at
from sync_server.db.repository import PackVersion, Publication, Repository
from sync_server.errors import AlreadyExistsError
from sync_server.keyring import Keyring

CHUNK = 1024 * 1024
SOURCE_MAX_FILES = 5_000
SOURCE_MAX_BYTES = 512 * 1024 * 1024


def _now() -> str:
    from datetime import UTC, datetime
    return format_at(datetime.now(UTC))


def _zip_chunks(zf: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    with zf.open(name) as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                return
            yield chunk


@contextmanager
def _hide_path(path: Path, label: str) -> Iterator[None]:
    """Errors name the upload, not the server's temp folder."""
    try:
        yield
    except PackError as exc:
        message = str(exc).replace(str(path), label)
        if message == str(exc):
            raise
        try:
            new = type(exc)(message)
        except TypeError:
            new = PackError(message)
        raise new from None


def ingest_pack_file(repo: Repository, keyring: Keyring, blobs: Any, pack_file: Path,
                     uploaded_by: str) -> PackVersion:
    """Verify `pack_file` with the trusted keys and store it (blobs + manifest + sig).

    The version must be greater than every version of the same pack already uploaded.
    Blobs are written hash-checked into the store before the version is recorded, so a
    failure leaves nothing a device could see.
    """
    from app.core.packs import verify_pack

    with _hide_path(pack_file, "upload"):
        verified = verify_pack(pack_file, keyring.trusted)
    manifest = verified.manifest
    known = [p.version for p in repo.list_pack_versions() if p.pack_id == verified.id]
    if known and verified.version <= max(known):
        raise AlreadyExistsError(f"pack {verified.id!r} version {verified.version} is not newer "
                                 f"than the uploaded version {max(known)} (versions only grow)")
    total = 0
    with zipfile.ZipFile(pack_file) as zf:
        for entry in manifest["files"]:
            sha, size = entry["sha256"], int(entry["size"])
            total += size
            if not blobs.has(sha):
                blobs.put_stream(sha, size, _zip_chunks(zf, f"blobs/{sha}"))
    pack = PackVersion(pack_id=verified.id, version=verified.version,
                       manifest=verified.manifest_bytes, sig=verified.sig_bytes,
                       title=json.dumps(manifest.get("title", {}), ensure_ascii=False),
                       total_bytes=total, uploaded_at=_now(), uploaded_by=uploaded_by)
    repo.add_pack_version(pack)
    return pack


def _source_root(folder: Path) -> Path:
    if (folder / "pack.toml").is_file():
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("__", "."))]
    if len(subdirs) == 1 and (subdirs[0] / "pack.toml").is_file():
        return subdirs[0]
    raise PackError("source zip: no pack.toml at the top level or in a single top folder")


def ingest_source_zip(repo: Repository, keyring: Keyring, blobs: Any, zip_file: Path,
                      uploaded_by: str, work_dir: Path) -> PackVersion:
    """Unpack a zipped source folder safely, build + sign it with the server key, ingest it."""
    from app.core.packs import build_pack, safe_extract_zip

    work_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="source-", dir=work_dir))
    try:
        src = tmp / "src"
        with _hide_path(zip_file, "source zip"), _hide_path(src, "source"):
            safe_extract_zip(zip_file, src, max_files=SOURCE_MAX_FILES, max_bytes=SOURCE_MAX_BYTES)
            out = tmp / "out"
            out.mkdir()
            built = build_pack(_source_root(src), keyring.private_key, out)
        return ingest_pack_file(repo, keyring, blobs, Path(built), uploaded_by)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class CatalogueItem:
    pack: PackVersion
    publication: Publication


def catalogue(repo: Repository, facility_id: str, role: str | None = None) -> list[CatalogueItem]:
    """Latest published version per pack id among publications reaching the facility
    (and, when `role` is given, that role)."""
    best: dict[str, Publication] = {}
    for pub in repo.list_publications():
        if not pub.reaches(facility_id):
            continue
        if role is not None and pub.roles and role not in pub.roles:
            continue
        have = best.get(pub.pack_id)
        if have is None or pub.version > have.version or (
                pub.version == have.version and pub.id > have.id):
            best[pub.pack_id] = pub
    items = []
    for pack_id in sorted(best):
        pub = best[pack_id]
        pack = repo.get_pack_version(pack_id, pub.version)
        if pack is not None:
            items.append(CatalogueItem(pack, pub))
    return items


def visible_to(repo: Repository, facility_id: str, pack_id: str, version: int) -> bool:
    """Whether some publication of this pack version reaches the facility."""
    return any(p.pack_id == pack_id and p.version == version and p.reaches(facility_id)
               for p in repo.list_publications())
