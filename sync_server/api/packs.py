"""Device side of pack distribution: catalogue, manifest + signature, blobs.

Manifests, signatures and blobs are served only for pack versions published to the
device's facility (a blob: when some such version lists it). Blobs are served by sha256 with `ETag: "<sha256>"`; `If-None-Match` gives 304 and
`Range` gives 206, so an interrupted download resumes. Blob ids must be 64 lowercase hex
(anything else, e.g. a path, is 422 before the disk is touched).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse

from sync_server.api.deps import DeviceDep, RepoDep, StateDep
from sync_server.api.models import (
    SHA256_PATTERN,
    SLUG_PATTERN,
    Catalogue,
    CatalogueEntry,
    ErrorBody,
    Responses,
)
from sync_server.services import pack_delivery

router = APIRouter(prefix="/api/v1", tags=["packs"],
                   responses={401: {"model": ErrorBody, "description": "device token missing/bad"}})
PackIdPath = Annotated[str, Path(pattern=SLUG_PATTERN)]
VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
Sha = Annotated[str, Path(pattern=SHA256_PATTERN, description="sha256 of the blob, 64 hex")]


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


@router.get("/packs", response_model=Catalogue,
            summary="Latest published version of every pack for this device's facility")
def list_packs(device: DeviceDep, repo: RepoDep,
               role: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$")] = None) -> Catalogue:
    entries = []
    for item in pack_delivery.catalogue(repo=repo, facility_id=device.facility_id, role=role):
        p, pub = item.pack, item.publication
        base = f"/api/v1/packs/{p.pack_id}/{p.version}"
        entries.append(CatalogueEntry(id=p.pack_id, version=p.version, title=json.loads(p.title),
                                      roles=list(pub.roles), total_bytes=p.total_bytes,
                                      manifest_url=f"{base}/manifest",
                                      signature_url=f"{base}/signature",
                                      published_at=pub.published_at))
    return Catalogue(packs=entries, withdrawn=pack_delivery.withdrawn(
        repo=repo, facility_id=device.facility_id, role=role))


def _pack_bytes(request: Request, device: DeviceDep, repo: RepoDep, pack_id: str, version: int,
                which: Literal["manifest", "signature"]) -> Response:
    data = pack_delivery.pack_file(repo=repo, device=device, pack_id=pack_id, version=version,
                                   which=which)
    etag = '"' + hashlib.sha256(data).hexdigest() + '"'
    if _etag_matches(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(data, media_type="application/json", headers={"ETag": etag})


BYTES_RESPONSE: Responses = {200: {"content": {"application/json": {}},
                        "description": "the exact bytes (verify the signature over them)"},
                  304: {"description": "unchanged (If-None-Match)"},
                  404: {"model": ErrorBody}}


@router.get("/packs/{pack_id}/{version}/manifest", response_class=Response,
            responses=BYTES_RESPONSE, summary="manifest.json, exact signed bytes")
def manifest(request: Request, device: DeviceDep, repo: RepoDep, pack_id: PackIdPath,
             version: VersionPath) -> Response:
    return _pack_bytes(request, device, repo, pack_id, version, "manifest")


@router.get("/packs/{pack_id}/{version}/signature", response_class=Response,
            responses=BYTES_RESPONSE, summary="manifest.sig of that version")
def signature(request: Request, device: DeviceDep, repo: RepoDep, pack_id: PackIdPath,
              version: VersionPath) -> Response:
    return _pack_bytes(request, device, repo, pack_id, version, "signature")


@router.get("/blobs/{sha256}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "the blob"},
                       206: {"description": "the requested byte range"},
                       304: {"description": "unchanged (If-None-Match)"},
                       404: {"model": ErrorBody}, 416: {"description": "range not satisfiable"}},
            summary="A content-addressed file; ETag = sha256; supports Range")
def blob(sha256: Sha, request: Request, device: DeviceDep, state: StateDep) -> Response:
    """Only blobs of a pack version published to the device's facility are served; any
    other hash (unknown, or of a pack meant for other facilities) is the same 404."""
    etag = f'"{sha256}"'
    path = pack_delivery.blob_path(repo=state.repo, blobs=state.blobs, device=device,
                                   sha256=sha256)
    if _etag_matches(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return FileResponse(path, media_type="application/octet-stream",
                        headers={"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable"})
