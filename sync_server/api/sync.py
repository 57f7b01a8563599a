"""Sync endpoints: pull (GET or POST) and push of ≤ 500 events per chunk."""

from __future__ import annotations

import functools
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import DeviceDep, RepoDep, now_iso
from sync_server.api.models import (
    MAX_CURSOR,
    ErrorBody,
    PullRequest,
    PullResponse,
    PushRequest,
    PushResponse,
)
from sync_server.db.repository import Device, Repository
from sync_server.logs import log
from sync_server.services import sync as sync_service

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])
logger = logging.getLogger("sync_server.sync")
AUTH_ERRORS = {401: {"model": ErrorBody, "description": "missing, unknown or revoked token"}}
BODY_ERRORS = {**AUTH_ERRORS, 413: {"model": ErrorBody, "description": "body too large"},
               400: {"model": ErrorBody, "description": "bad gzip or unreadable body"}}


def _pull(repo: RepoDep, device: DeviceDep, req: PullRequest) -> Response:
    """A pull only reads, except for two small writes kept off the hot path: the
    installed-packs report is written only when it differs from the stored one, and
    `last_seen_at` is stamped after the answer is sent (a background task) — so under a
    burst of syncs a pull does not queue behind pushes holding the write lock."""
    if req.installed_packs:
        stored = {i.pack_id: i.version for i in repo.installed_packs(device_id=device.id)}
        changed = {k: v for k, v in req.installed_packs.items() if stored.get(k) != v}
        if changed:
            repo.report_installed(device.id, changed, now_iso())
    body = sync_service.pull_body(repo, device, req.events_after, req.profiles_after, req.limit)
    return Response(body, media_type="application/json",
                    background=BackgroundTask(repo.touch_device, device.id, now_iso()))


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


PUSH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/PushRequest"}}}}}


@router.post("/push", response_model=PushResponse, responses=BODY_ERRORS, openapi_extra=PUSH_BODY,
             summary="Store a chunk of ≤ 500 events (and new/changed profiles) idempotently")
async def push(request: Request, device: DeviceDep) -> Response:
    """The body is parsed by pydantic's JSON parser straight from bytes (faster than
    json.loads + validation for a 500-event chunk); the work runs in the threadpool.

    Only `work_slots` chunks are processed at a time, first come first served: under a
    burst, 200 chunks sharing the CPU (GIL) and the write lock would all finish late;
    queued, most finish early and throughput is higher."""
    raw = await request.body()
    state = request.app.state.shift
    async with state.work_slots:
        try:
            body = PushRequest.model_validate_json(raw)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
        base_url = str(request.base_url)
        hooks = [functools.partial(hook, request_base_url=base_url)
                 for hook in state.on_events_stored]
        return await run_in_threadpool(_push, state.repo, device, body, hooks)


def _push(repo: Repository, device: Device, body: PushRequest,
          hooks: list[sync_service.StoredHook]) -> Response:
    result = sync_service.push(repo, device, body.events, [p.model_dump() for p in body.profiles],
                               on_stored=hooks)
    log(logger, logging.INFO, "push", device=device.id, stored=len(result.stored),
        duplicate=len(result.duplicate), rejected=len(result.rejected),
        profiles=len(result.profiles))
    answer = {
        "stored": result.stored, "duplicate": result.duplicate, "rejected": result.rejected,
        "profiles": [{"id": p.id, "status": p.status, "reason": p.reason,
                      "existing_id": p.existing_id} for p in result.profiles],
        "received_at": result.received_at}
    return Response(json.dumps(answer, ensure_ascii=False, separators=(",", ":")),
                    media_type="application/json")
