"""Admin pack endpoints: upload (built .pack or zipped source), list, publish, who-has-what.

Uploads are the raw request body (`Content-Type: application/octet-stream`), streamed to
a temp file while counting bytes against SHIFT_MAX_UPLOAD_BYTES, then verified off the
event loop.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import AdminDep, RepoDep, StateDep
from sync_server.api.models import (
    SLUG_PATTERN,
    ErrorBody,
    InstalledOut,
    PackVersionOut,
    PublicationOut,
    PublishRequest,
    Responses,
    WithdrawOut,
)
from sync_server.db.repository import PackVersion, Publication
from sync_server.logs import log
from sync_server.services import packs
from sync_server.uploads import EmptyUploadError, UploadTooLargeError, save_upload

logger = logging.getLogger("sync_server.admin_packs")
router = APIRouter(prefix="/api/v1/admin", tags=["admin packs"],
                   responses={401: {"model": ErrorBody, "description": "admin token missing/bad"}})
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
UPLOAD_ERRORS: Responses = {413: {"model": ErrorBody}, 409: {"model": ErrorBody},
                 422: {"model": ErrorBody, "description": "pack failed verification / build"}}


def _out(p: PackVersion) -> PackVersionOut:
    return PackVersionOut(id=p.pack_id, version=p.version, title=json.loads(p.title),
                          total_bytes=p.total_bytes, uploaded_at=p.uploaded_at,
                          uploaded_by=p.uploaded_by)


def _pub_out(p: Publication) -> PublicationOut:
    return PublicationOut(id=p.id, pack_id=p.pack_id, version=p.version,
                          facilities=list(p.facilities), roles=list(p.roles),
                          published_at=p.published_at, published_by=p.published_by,
                          withdrawn_at=p.withdrawn_at, withdrawn_by=p.withdrawn_by)


async def _receive_to_file(request: Request, limit: int, folder: Path) -> Path:
    try:
        return await save_upload(request.stream(), folder, "upload-", limit)
    except UploadTooLargeError as exc:
        raise HTTPException(413, str(exc)) from None
    except EmptyUploadError:
        raise HTTPException(422, "upload: empty body (send the file as the request body)") from None


async def _upload(request: Request, admin_name: str, state: StateDep,
                  kind: packs.UploadKind) -> PackVersionOut:
    tmp_dir = state.settings.data_dir / "tmp"
    path = await _receive_to_file(request, state.settings.max_upload_bytes, tmp_dir)
    try:
        pack = await run_in_threadpool(lambda: packs.upload_pack(
            repo=state.repo, keyring=state.keyring, blobs=state.blobs, path=path, by=admin_name,
            work_dir=tmp_dir, kind=kind))
    finally:
        path.unlink(missing_ok=True)
    log(logger, logging.INFO, "pack uploaded", pack=pack.pack_id, version=pack.version,
        admin=admin_name, built_on_server=kind == "source")
    return _out(pack)


@router.post("/packs/upload", response_model=PackVersionOut, status_code=201,
             openapi_extra=UPLOAD_BODY, responses=UPLOAD_ERRORS,
             summary="Upload a built .pack (verified with the trusted keys)")
async def upload_pack(request: Request, admin: AdminDep, state: StateDep) -> PackVersionOut:
    return await _upload(request, admin.name, state, "pack")


@router.post("/packs/upload/source", response_model=PackVersionOut, status_code=201,
             openapi_extra=UPLOAD_BODY, responses=UPLOAD_ERRORS,
             summary="Upload a zipped pack source folder; built and signed with the server key")
async def upload_source(request: Request, admin: AdminDep, state: StateDep) -> PackVersionOut:
    return await _upload(request, admin.name, state, "source")


@router.get("/packs", response_model=list[PackVersionOut], summary="Every uploaded pack version")
def list_packs(admin: AdminDep, repo: RepoDep) -> list[PackVersionOut]:
    return [_out(p) for p in packs.list_pack_versions(repo=repo)]


@router.post("/packs/{pack_id}/publish", response_model=PublicationOut, status_code=201,
             responses={404: {"model": ErrorBody}, 400: {"model": ErrorBody}},
             summary="Publish a pack version to facilities and/or roles (empty = all)")
def publish(pack_id: Annotated[str, PathParam(pattern=SLUG_PATTERN)], body: PublishRequest,
            admin: AdminDep, repo: RepoDep) -> PublicationOut:
    pub = packs.publish(repo=repo, pack_id=pack_id, version=body.version,
                        facilities=body.facilities, roles=body.roles, by=admin.name)
    log(logger, logging.INFO, "pack published", pack=pack_id, version=body.version,
        facilities=list(pub.facilities), roles=list(pub.roles), admin=admin.name)
    return _pub_out(pub)


@router.post("/packs/{pack_id}/withdraw", response_model=WithdrawOut,
             responses={404: {"model": ErrorBody}, 400: {"model": ErrorBody}},
             summary="Withdraw a pack: every publication ends, devices hide it (progress kept)")
def withdraw(pack_id: Annotated[str, PathParam(pattern=SLUG_PATTERN)], admin: AdminDep,
             repo: RepoDep) -> WithdrawOut:
    ended = packs.withdraw(repo=repo, pack_id=pack_id, by=admin.name)
    log(logger, logging.INFO, "pack withdrawn", pack=pack_id, publications=ended,
        admin=admin.name)
    return WithdrawOut(pack_id=pack_id, withdrawn=ended)


@router.get("/publications", response_model=list[PublicationOut])
def list_publications(admin: AdminDep, repo: RepoDep) -> list[PublicationOut]:
    return [_pub_out(p) for p in packs.list_publications(repo=repo)]


@router.get("/installed", response_model=list[InstalledOut],
            summary="Pack versions each device reported as installed")
def installed(admin: AdminDep, repo: RepoDep,
              facility_id: Annotated[str | None, Query(pattern=SLUG_PATTERN)] = None,
              ) -> list[InstalledOut]:
    return [InstalledOut(device_id=i.device_id, facility_id=i.facility_id, pack_id=i.pack_id,
                         version=i.version, reported_at=i.reported_at)
            for i in packs.installed_packs(repo=repo, facility_id=facility_id)]
