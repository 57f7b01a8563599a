"""Packs from the device side: the catalogue a tablet sees, and the manifest, signature
and blobs it may download — only of pack versions published to its facility (a blob: when
some such version lists it). Uploading and publishing: packs.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.core.packs import BlobStore
from sync_server.db.repository import Device, PackVersion, Publication, Repository
from sync_server.errors import NotFoundError


@dataclass(frozen=True)
class CatalogueItem:
    pack: PackVersion
    publication: Publication


def catalogue(*, repo: Repository, facility_id: str, role: str | None = None,
              ) -> list[CatalogueItem]:
    """Latest published version per pack id among publications reaching the facility
    (and, when `role` is given, that role)."""
    best = offered(repo.list_publications(), facility_id, role)
    items = []
    for pack_id in sorted(best):
        pub = best[pack_id]
        pack = repo.get_pack_version(pack_id, pub.version)
        if pack is not None:
            items.append(CatalogueItem(pack, pub))
    return items


def offered(publications: Iterable[Publication], facility_id: str, role: str | None = None
            ) -> dict[str, Publication]:
    """Pack id → the active publication of its newest version reaching the facility (and
    role): the catalogue's rule on publications already read (a report asks it for every
    facility × role)."""
    best: dict[str, Publication] = {}
    for pub in publications:
        if not pub.active or not _for(pub, facility_id, role):
            continue
        have = best.get(pub.pack_id)
        if have is None or pub.version > have.version or (
                pub.version == have.version and pub.id > have.id):
            best[pub.pack_id] = pub
    return best


def _for(pub: Publication, facility_id: str, role: str | None) -> bool:
    return pub.reaches(facility_id) and (role is None or not pub.roles or role in pub.roles)


def withdrawn(*, repo: Repository, facility_id: str, role: str | None = None) -> list[str]:
    """Packs a device of the facility (and role) should hide: a withdrawn publication
    reached it and no active one does now. A pack the device got some other way (USB
    side-load) and the server never published to it is not listed, so it stays."""
    pubs = [p for p in repo.list_publications() if _for(p, facility_id, role)]
    live = {p.pack_id for p in pubs if p.active}
    return sorted({p.pack_id for p in pubs if not p.active} - live)


def visible_to(*, repo: Repository, facility_id: str, pack_id: str, version: int) -> bool:
    """Whether some active publication of this pack version reaches the facility."""
    return any(p.pack_id == pack_id and p.version == version and p.active
               and p.reaches(facility_id)
               for p in repo.list_publications())


def pack_file(*, repo: Repository, device: Device, pack_id: str, version: int,
              which: Literal["manifest", "signature"]) -> bytes:
    """The exact bytes of a published version's manifest or signature (NotFoundError
    when it is not published to the device's facility)."""
    if not visible_to(repo=repo, facility_id=device.facility_id, pack_id=pack_id,
                      version=version):
        raise NotFoundError(f"pack {pack_id} version {version} is not published to this facility")
    pack = repo.get_pack_version(pack_id, version)
    if pack is None:
        raise NotFoundError(f"pack {pack_id} version {version} does not exist")
    return pack.manifest if which == "manifest" else pack.sig


def blob_path(*, repo: Repository, blobs: BlobStore, device: Device, sha256: str) -> Path:
    """The file of a blob of a pack version published to the device's facility; any other
    hash (unknown, or of a pack meant for other facilities) is the same NotFoundError."""
    if not blobs.has(sha256) or not repo.blob_visible_to(sha256, device.facility_id):
        raise NotFoundError(f"blob {sha256} not found among the packs published to this "
                            "device's facility")
    return blobs.path(sha256)
