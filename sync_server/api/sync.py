"""Sync endpoints: pull (GET or POST) and push of ≤ 500 events per chunk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from app.core import bounded_json
from app.core.clock import now_utc
from app.core.errors import JSONLimitError
from sync_server import fastjson
from sync_server.api.deps import DeviceDep, RepoDep, ServerState, SettingsDep, get_state
from sync_server.api.models import (
    MAX_CHUNK,
    MAX_CURSOR,
    ErrorBody,
    PullRequest,
    PullResponse,
    PushRequest,
    PushResponse,
    QuotaError,
    Responses,
)
from sync_server.db.repository import Device, ProfileResult
from sync_server.logs import log
from sync_server.services import quota
from sync_server.services import sync as sync_service
from sync_server.services.profiles import profile_json
from sync_server.services.sync import Checked, ServerMadeCheck

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])
logger = logging.getLogger("sync_server.sync")
AUTH_ERRORS: Responses = {401: {"model": ErrorBody, "description": "missing, unknown or revoked token"}}
BODY_ERRORS: Responses = {**AUTH_ERRORS, 413: {"model": ErrorBody, "description": "body too large"},
               400: {"model": ErrorBody, "description": "bad gzip or unreadable body"}}
PUSH_ERRORS: Responses = {**BODY_ERRORS, 422: {
    "description": "not UTF-8 JSON, nested too deep, or not the schema (FastAPI's "
                   "validation error format)",
    "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/HTTPValidationError"}}}}, 429: {
    "model": QuotaError, "description": "the device's daily push quota is used up; "
    "Retry-After: seconds until it starts afresh (next UTC day)",
    "headers": {"Retry-After": {"schema": {"type": "integer"},
                                "description": "seconds until the quota resets"}}}}


def _pull(repo: RepoDep, device: DeviceDep, req: PullRequest, settings: SettingsDep) -> Response:
    """A pull only reads, except for two small writes kept off the hot path: the
    installed-packs report is written only when it differs from the stored one, and
    `last_seen_at` is stamped after the answer is sent (a background task) — so under a
    burst of syncs a pull does not queue behind pushes holding the write lock."""
    body = sync_service.pull(repo=repo, device=device, events_after=req.events_after,
                             profiles_after=req.profiles_after, limit=req.limit,
                             installed=req.installed_packs, tombstones_after=req.tombstones_after,
                             pin_min_digits=settings.pin_digits,
                             retention_years=min(max(settings.retention_events_years, 0), 1000))
    return Response(body, media_type="application/json",
                    background=BackgroundTask(sync_service.seen, repo=repo, device_id=device.id))


@router.post("/pull", response_model=PullResponse, responses=BODY_ERRORS,
             summary="Events and profiles of the device's facility after the cursors; "
                     "also reports installed packs")
def pull_post(body: PullRequest, repo: RepoDep, device: DeviceDep,
              settings: SettingsDep) -> Response:
    return _pull(repo, device, body, settings)


@router.get("/pull", response_model=PullResponse, responses=AUTH_ERRORS,
            summary="Same as POST /pull without the installed-packs report")
def pull_get(repo: RepoDep, device: DeviceDep, settings: SettingsDep,
             events_after: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
             profiles_after: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0,
             limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
             tombstones_after: Annotated[int, Query(ge=0, le=MAX_CURSOR)] = 0) -> Response:
    return _pull(repo, device, PullRequest(events_after=events_after,
                                           profiles_after=profiles_after, limit=limit,
                                           tombstones_after=tombstones_after),
                 settings)


PUSH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/PushRequest"}}}}}


@router.post("/push", response_model=PushResponse, responses=PUSH_ERRORS, openapi_extra=PUSH_BODY,
             summary="Store a chunk of ≤ 500 events (and new/changed profiles) idempotently")
async def push(request: Request, device: DeviceDep) -> Response:
    """The body is parsed once (json.loads) and its shape checked here; each event is
    then validated by app.core.events in the push service, which also gives its canonical
    bytes. (Parsing 500 events into pydantic objects first would double the work.)

    Only `work_slots` chunks are processed at a time, first come first served: under a
    burst, 200 chunks sharing the CPU (GIL) and the write lock would all finish late;
    queued, most finish early and throughput is higher."""
    raw = await request.body()
    state = get_state(request)
    async with state.work_slots:
        return await run_in_threadpool(_push, state, device, raw)


def _invalid(loc: tuple[str | int, ...], kind: str, msg: str) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ("body", *loc), "msg": msg}])


def parse_push(raw: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, profiles) of a push body, or a 422 RequestValidationError shaped like
    FastAPI's own. Events are only checked to be objects here (the service validates each
    one and answers per id, depth and size included); profiles are validated by the
    PushRequest model. A body nested too deep for the JSON parser itself (~1,000 levels)
    is refused whole: no device makes such an event (the same limits apply when a tablet
    stores one), so splitting it for a per-event answer would only serve an attacker."""
    try:
        body = bounded_json.loads(raw, what="body")   # never recurses without bound
    except JSONLimitError as exc:
        kind = "json_invalid" if exc.code == "invalid_json" else exc.code
        raise _invalid((), kind, f"JSON decode error: {str(exc)[:200]}") from None
    return push_parts(body)


def push_parts(body: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, profiles) of a parsed push body (parse_push)."""
    if not isinstance(body, dict):
        raise _invalid((), "model_type", "Input should be an object")
    events = body.get("events", [])
    if not isinstance(events, list):
        raise _invalid(("events",), "list_type", "Input should be a valid list")
    if len(events) > MAX_CHUNK:
        raise _invalid(("events",), "too_long", f"List should have at most {MAX_CHUNK} items")
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise _invalid(("events", index), "dict_type", "Input should be a valid dictionary")
    try:
        rest = PushRequest.model_validate({k: v for k, v in body.items() if k != "events"})
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    return events, [p.model_dump() for p in rest.profiles]


def _outcome(p: ProfileResult) -> dict[str, Any]:
    out: dict[str, Any] = {"id": p.id, "status": p.status, "reason": p.reason,
                           "existing_id": p.existing_id}
    if p.detail is not None:
        out["detail"] = p.detail
    if p.current is not None:
        out["current"] = profile_json(p.current)
    return out


def fast_parse(raw: bytes, moment: datetime, server_made: Sequence[ServerMadeCheck] = ()
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Checked] | None:
    """The push's fast path (sync_server/fastjson.py): msgspec parses the body and encodes
    each event for the same checks. Taken only when the body parses, its shape and
    profiles are valid and every event passed `check_events`; anything else (None) goes
    the standard way from the raw bytes, so a refusal — and its message — is always the
    standard path's (docs/sync-protocol.md §9)."""
    body = fastjson.decode(raw)
    if body is None:
        return None
    try:
        events, profiles = push_parts(body.value)
    except RequestValidationError:
        return None
    checked = sync_service.check_events(events, moment=moment, server_made=server_made,
                                        encode=fastjson.encoder(body))
    if checked.rejected:
        return None
    return events, profiles, checked


def _push(state: ServerState, device: Device, raw: bytes) -> Response:
    moment = now_utc()
    fast = fast_parse(raw, moment, [h.is_own_event for h in state.push_hooks])
    if fast is not None:
        events, profiles, checked = fast
    else:
        checked = None
        try:
            events, profiles = parse_push(raw)
        except RequestValidationError:
            # a body that does not parse cost the server as much: it counts (bytes) too
            quota.charge_push(repo=state.repo, settings=state.settings, device=device,
                              events=0, body_bytes=len(raw))
            raise
    result = sync_service.receive_push(repo=state.repo, settings=state.settings, device=device,
                                       events=events, profiles=profiles, body_bytes=len(raw),
                                       hooks=state.push_hooks, now=moment, checked=checked)
    log(logger, logging.INFO, "push", device=device.id, stored=len(result.stored),
        duplicate=len(result.duplicate), rejected=len(result.rejected),
        profiles=len(result.profiles))
    answer = {
        "stored": result.stored, "duplicate": result.duplicate, "rejected": result.rejected,
        "profiles": [_outcome(p) for p in result.profiles],
        "received_at": result.received_at}
    return Response(fastjson.answer(answer), media_type="application/json")
