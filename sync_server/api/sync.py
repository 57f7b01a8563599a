"""Sync endpoints: pull (GET or POST) and push of ≤ 500 events per chunk."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Response

from sync_server.api.deps import DeviceDep, RepoDep, now_iso
from sync_server.api.models import (
    MAX_CURSOR,
    ErrorBody,
    PullRequest,
    PullResponse,
    PushRequest,
    PushResponse,
)
from sync_server.logs import log
from sync_server.services import sync as sync_service

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])
logger = logging.getLogger("sync_server.sync")
AUTH_ERRORS = {401: {"model": ErrorBody, "description": "missing, unknown or revoked token"}}
BODY_ERRORS = {**AUTH_ERRORS, 413: {"model": ErrorBody, "description": "body too large"},
               400: {"model": ErrorBody, "description": "bad gzip or unreadable body"}}


def _pull(repo: RepoDep, device: DeviceDep, req: PullRequest) -> Response:
    now = now_iso()
    repo.touch_device(device.id, now)
    if req.installed_packs:
        repo.report_installed(device.id, req.installed_packs, now)
    body = sync_service.pull_body(repo, device, req.events_after, req.profiles_after, req.limit)
    return Response(body, media_type="application/json")


@router.post("/pull", response_model=PullResponse, responses=BODY_ERRORS,
             summary="Events and profiles of the device's facility after the cursors; "
                     "also reports installed packs")
def pull_post(body: PullRequest, repo: RepoDep, device: DeviceDep) -> Response:
    return _pull(repo, device, body)


@router.get("/pull", response_model=PullResponse, responses=AUTH_ERRORS,
            summary="Same as POST /pull without the installed-packs report")
def pull_get(repo: RepoDep, device: DeviceDep,
             events_after: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
             profiles_after: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
             limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> Response:
    return _pull(repo, device, PullRequest(events_after=events_after,
                                           profiles_after=profiles_after, limit=limit))


@router.post("/push", response_model=PushResponse, responses=BODY_ERRORS,
             summary="Store a chunk of ≤ 500 events (and new/changed profiles) idempotently")
def push(body: PushRequest, repo: RepoDep, device: DeviceDep) -> PushResponse:
    result = sync_service.push(repo, device, body.events,
                               [p.model_dump() for p in body.profiles])
    log(logger, logging.INFO, "push", device=device.id, stored=len(result.stored),
        duplicate=len(result.duplicate), rejected=len(result.rejected),
        profiles=len(result.profiles))
    return PushResponse.model_validate({
        "stored": result.stored, "duplicate": result.duplicate, "rejected": result.rejected,
        "received_at": result.received_at,
        "profiles": [{"id": p.id, "status": p.status, "reason": p.reason,
                      "existing_id": p.existing_id} for p in result.profiles]})
