"""Admin JSON API: login, facilities, enrolment codes, devices, learners, statistics.

Pack upload/publish lives in api/admin_packs.py, certificates and exports in
api/admin_certificates.py. Every route but login needs an admin (AdminDep). Routes only
translate HTTP to a service call (sync_server/services/) and back.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status

from sync_server.api.deps import AdminDep, RepoDep, SettingsDep, admin_token
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
from sync_server.db.repository import Device, Facility, Learner
from sync_server.logs import log
from sync_server.services import admin_auth, devices, facilities, learners, reports

logger = logging.getLogger("sync_server.admin_api")
AUTH: Responses = {401: {"model": ErrorBody, "description": "missing, unknown or expired admin token"}}
router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=AUTH)
FacilityQuery = Annotated[str | None, Query(pattern=SLUG_PATTERN)]


@router.post("/login", response_model=LoginResponse, summary="Admin name + password → bearer token",
             responses={429: {"model": ErrorBody, "description": "too many failed attempts"}})
def login(request: Request, body: LoginRequest, repo: RepoDep,
          settings: SettingsDep) -> LoginResponse:
    session = admin_auth.login(repo=repo, name=body.name, password=body.password,
                               session_ttl_s=settings.admin_session_ttl_s,
                               address=request.client.host if request.client else "?")
    if session is None:
        log(logger, logging.WARNING, "admin login failed", admin=body.name)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong admin name or password",
                            headers={"WWW-Authenticate": "Bearer"})
    log(logger, logging.INFO, "admin login", admin=body.name)
    return LoginResponse(token=session.token, expires_at=session.expires_at)


@router.post("/logout", status_code=204, summary="End this admin token")
def logout(request: Request, admin: AdminDep, repo: RepoDep) -> None:
    token = admin_token(request)
    if token:
        admin_auth.logout(repo=repo, token=token)


def _facility_out(f: Facility) -> FacilityOut:
    return FacilityOut(id=f.id, name=f.name, created_at=f.created_at)


@router.get("/facilities", response_model=list[FacilityOut])
def list_facilities(admin: AdminDep, repo: RepoDep) -> list[FacilityOut]:
    return [_facility_out(f) for f in facilities.list_facilities(repo=repo)]


@router.post("/facilities", response_model=FacilityOut, status_code=201,
             responses={409: {"model": ErrorBody}})
def create_facility(body: FacilityIn, admin: AdminDep, repo: RepoDep) -> FacilityOut:
    f = facilities.create_facility(repo=repo, facility_id=body.id, name=body.name,
                                   by=admin.name)
    log(logger, logging.INFO, "facility created", facility=f.id, admin=admin.name)
    return _facility_out(f)


@router.post("/enrol-codes", response_model=EnrolCodeResponse, status_code=201,
             summary="One-time expiring enrolment code for a facility (shown once)",
             responses={404: {"model": ErrorBody}})
def create_enrol_code(body: EnrolCodeRequest, admin: AdminDep, repo: RepoDep,
                      settings: SettingsDep) -> EnrolCodeResponse:
    made = devices.create_enrol_code(repo=repo, facility_id=body.facility_id,
                                     ttl_s=body.ttl_seconds or settings.enrol_code_ttl_s,
                                     by=admin.name)
    log(logger, logging.INFO, "enrolment code created", facility=body.facility_id, admin=admin.name)
    return EnrolCodeResponse(code=made.code, facility_id=made.facility.id,
                             expires_at=made.expires_at)


def _device_out(d: Device) -> DeviceOut:
    return DeviceOut(id=d.id, facility_id=d.facility_id, name=d.name, enrolled_at=d.enrolled_at,
                     revoked_at=d.revoked_at, last_seen_at=d.last_seen_at)


@router.get("/devices", response_model=list[DeviceOut])
def list_devices(admin: AdminDep, repo: RepoDep, facility_id: FacilityQuery = None) -> list[DeviceOut]:
    return [_device_out(d) for d in devices.list_devices(repo=repo, facility_id=facility_id)]


@router.post("/devices/{device_id}/revoke", response_model=DeviceOut,
             summary="Revoke a device token at once", responses={404: {"model": ErrorBody}})
def revoke_device(device_id: str, admin: AdminDep, repo: RepoDep) -> DeviceOut:
    revoked = devices.revoke_device(repo=repo, device_id=device_id, by=admin.name)
    log(logger, logging.INFO, "device revoked", device=device_id, admin=admin.name)
    return _device_out(revoked.device)


def _learner_out(p: Learner) -> LearnerOut:
    return LearnerOut(**_learner_fields(p))


def _learner_fields(p: Learner) -> dict[str, Any]:
    return {"id": p.id, "staff_number": p.staff_number, "display_name": p.display_name,
            "role": p.role, "language": p.language, "facility_id": p.facility_id,
            "updated_at": p.updated_at, "has_pin": bool(p.pin_verifier),
            "pin_setup_expires_at": None if p.pin_verifier else p.pin_setup_expires_at}


@router.get("/learners", response_model=list[LearnerOut], summary="Learners (never PIN verifiers)")
def list_learners(admin: AdminDep, repo: RepoDep, facility_id: FacilityQuery = None) -> list[LearnerOut]:
    return [_learner_out(p) for p in learners.list_learners(repo=repo, facility_id=facility_id)]


@router.post("/learners", response_model=LearnerCreated, status_code=201,
             summary="Register a learner (no PIN): the answer holds the one-time PIN set-up "
                     "code to hand to that person, shown once",
             responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody},
                        400: {"model": ErrorBody}})
def create_learner(body: LearnerIn, admin: AdminDep, repo: RepoDep,
                   settings: SettingsDep) -> LearnerCreated:
    made = learners.create_learner(
        repo=repo, staff_number=body.staff_number, display_name=body.display_name,
        role=body.role, language=body.language, facility_id=body.facility_id,
        learner_id=body.id, setup_ttl_s=settings.pin_setup_ttl_s, by=admin.name)
    log(logger, logging.INFO, "learner created", learner=made.learner.id, admin=admin.name)
    return LearnerCreated(**_learner_fields(made.learner), pin_setup_code=made.setup.code)


@router.post("/learners/{learner_id}/pin-setup", response_model=PinSetupOut, status_code=201,
             summary="Reset a learner's PIN: the PIN is removed (tablets drop it at their next "
                     "sync) and a new one-time set-up code is returned, shown once",
             responses={404: {"model": ErrorBody}})
def pin_setup(learner_id: str, admin: AdminDep, repo: RepoDep,
              settings: SettingsDep) -> PinSetupOut:
    setup = learners.reset_pin(repo=repo, learner_id=learner_id,
                               setup_ttl_s=settings.pin_setup_ttl_s, by=admin.name).setup
    log(logger, logging.INFO, "learner PIN reset", learner=learner_id, admin=admin.name)
    return PinSetupOut(learner_id=setup.learner_id, code=setup.code, expires_at=setup.expires_at)


@router.get("/stats", response_model=StatsOut, summary="Counts for the dashboard")
def stats(admin: AdminDep, repo: RepoDep) -> StatsOut:
    counts = reports.totals(repo=repo)
    return StatsOut(events_total=counts.events.total, events_by_facility=counts.events.by_facility,
                    devices=counts.devices, learners=counts.learners)
