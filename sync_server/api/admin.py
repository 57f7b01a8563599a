"""Admin JSON API: login, facilities, enrolment codes, devices, learners, statistics.

Pack upload/publish lives in api/admin_packs.py. Every route but login needs an admin.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status

from sync_server.api.deps import (
    ADMIN_COOKIE,
    AdminDep,
    RepoDep,
    StateDep,
    bearer_token,
    login_admin,
    now_iso,
)
from sync_server.api.models import (
    SLUG_PATTERN,
    DeviceOut,
    EnrolCodeRequest,
    EnrolCodeResponse,
    ErrorBody,
    FacilityIn,
    FacilityOut,
    LearnerCreated,
    LearnerIn,
    LearnerOut,
    LoginRequest,
    LoginResponse,
    PinSetupOut,
    Responses,
    StatsOut,
)
from sync_server.db.repository import Device, Learner
from sync_server.logs import log
from sync_server.security import token_hash
from sync_server.services import admin as admin_service
from sync_server.services import profiles as profile_service

logger = logging.getLogger("sync_server.admin_api")
AUTH: Responses = {401: {"model": ErrorBody, "description": "missing, unknown or expired admin token"}}
router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=AUTH)
FacilityQuery = Annotated[str | None, Query(pattern=SLUG_PATTERN)]


@router.post("/login", response_model=LoginResponse, summary="Admin name + password → bearer token",
             responses={429: {"model": ErrorBody, "description": "too many failed attempts"}})
def login(request: Request, body: LoginRequest, state: StateDep) -> LoginResponse:
    address = request.client.host if request.client else "?"
    result = login_admin(state.repo, state.settings, body.name, body.password, address)
    if result is None:
        log(logger, logging.WARNING, "admin login failed", admin=body.name)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong admin name or password",
                            headers={"WWW-Authenticate": "Bearer"})
    log(logger, logging.INFO, "admin login", admin=body.name)
    return LoginResponse(token=result[0], expires_at=result[1])


@router.post("/logout", status_code=204, summary="End this admin token")
def logout(request: Request, admin: AdminDep, repo: RepoDep) -> None:
    token = bearer_token(request) or request.cookies.get(ADMIN_COOKIE)
    if token:
        repo.delete_admin_session(token_hash(token))


@router.get("/facilities", response_model=list[FacilityOut])
def list_facilities(admin: AdminDep, repo: RepoDep) -> list[FacilityOut]:
    return [FacilityOut(id=f.id, name=f.name, created_at=f.created_at) for f in repo.list_facilities()]


@router.post("/facilities", response_model=FacilityOut, status_code=201,
             responses={409: {"model": ErrorBody}})
def create_facility(body: FacilityIn, admin: AdminDep, repo: RepoDep) -> FacilityOut:
    f = repo.create_facility(body.id, body.name.strip(), now_iso())
    log(logger, logging.INFO, "facility created", facility=f.id, admin=admin.name)
    return FacilityOut(id=f.id, name=f.name, created_at=f.created_at)


@router.post("/enrol-codes", response_model=EnrolCodeResponse, status_code=201,
             summary="One-time expiring enrolment code for a facility (shown once)",
             responses={404: {"model": ErrorBody}})
def create_enrol_code(body: EnrolCodeRequest, admin: AdminDep, state: StateDep) -> EnrolCodeResponse:
    ttl = body.ttl_seconds or state.settings.enrol_code_ttl_s
    code, expires = admin_service.create_enrol_code(state.repo, body.facility_id, ttl, admin.name)
    log(logger, logging.INFO, "enrolment code created", facility=body.facility_id, admin=admin.name)
    return EnrolCodeResponse(code=code, facility_id=body.facility_id, expires_at=expires)


def _device_out(d: Device) -> DeviceOut:
    return DeviceOut(id=d.id, facility_id=d.facility_id, name=d.name, enrolled_at=d.enrolled_at,
                     revoked_at=d.revoked_at, last_seen_at=d.last_seen_at)


@router.get("/devices", response_model=list[DeviceOut])
def list_devices(admin: AdminDep, repo: RepoDep, facility_id: FacilityQuery = None) -> list[DeviceOut]:
    return [_device_out(d) for d in repo.list_devices(facility_id)]


@router.post("/devices/{device_id}/revoke", response_model=DeviceOut,
             summary="Revoke a device token at once", responses={404: {"model": ErrorBody}})
def revoke_device(device_id: str, admin: AdminDep, repo: RepoDep) -> DeviceOut:
    device = repo.get_device(device_id)
    if device is None:
        raise HTTPException(404, f"device {device_id!r} does not exist")
    repo.revoke_device(device_id, now_iso())
    log(logger, logging.INFO, "device revoked", device=device_id, admin=admin.name)
    return _device_out(repo.get_device(device_id) or device)


def _learner_out(p: Learner) -> LearnerOut:
    return LearnerOut(**_learner_fields(p))


def _learner_fields(p: Learner) -> dict[str, Any]:
    return {"id": p.id, "staff_number": p.staff_number, "display_name": p.display_name,
            "role": p.role, "language": p.language, "facility_id": p.facility_id,
            "updated_at": p.updated_at, "has_pin": bool(p.pin_verifier),
            "pin_setup_expires_at": None if p.pin_verifier else p.pin_setup_expires_at}


@router.get("/learners", response_model=list[LearnerOut], summary="Learners (never PIN verifiers)")
def list_learners(admin: AdminDep, repo: RepoDep, facility_id: FacilityQuery = None) -> list[LearnerOut]:
    return [_learner_out(p) for p in repo.list_learners(facility_id)]


@router.post("/learners", response_model=LearnerCreated, status_code=201,
             summary="Register a learner (no PIN): the answer holds the one-time PIN set-up "
                     "code to hand to that person, shown once",
             responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody},
                        400: {"model": ErrorBody}})
def create_learner(body: LearnerIn, admin: AdminDep, state: StateDep) -> LearnerCreated:
    learner, setup = profile_service.create_learner(
        state.repo, staff_number=body.staff_number, display_name=body.display_name,
        role=body.role, language=body.language, facility_id=body.facility_id,
        learner_id=body.id, setup_ttl_s=state.settings.pin_setup_ttl_s)
    log(logger, logging.INFO, "learner created", learner=learner.id, admin=admin.name)
    return LearnerCreated(**_learner_fields(learner), pin_setup_code=setup.code)


@router.post("/learners/{learner_id}/pin-setup", response_model=PinSetupOut, status_code=201,
             summary="Reset a learner's PIN: the PIN is removed (tablets drop it at their next "
                     "sync) and a new one-time set-up code is returned, shown once",
             responses={404: {"model": ErrorBody}})
def pin_setup(learner_id: str, admin: AdminDep, state: StateDep) -> PinSetupOut:
    setup = profile_service.reset_pin(state.repo, learner_id,
                                      setup_ttl_s=state.settings.pin_setup_ttl_s)
    log(logger, logging.INFO, "learner PIN reset", learner=learner_id, admin=admin.name)
    return PinSetupOut(learner_id=setup.learner_id, code=setup.code, expires_at=setup.expires_at)


@router.get("/stats", response_model=StatsOut, summary="Counts for the dashboard")
def stats(admin: AdminDep, repo: RepoDep) -> StatsOut:
    counts = repo.count_events()
    return StatsOut(events_total=counts.total, events_by_facility=counts.by_facility,
                    devices=len(repo.list_devices()), learners=len(repo.list_learners()))
