"""Device enrolment (trade a one-time code for a token) and "who am I"."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, status

from sync_server.api.deps import DeviceDep, RepoDep, bearer_token
from sync_server.api.models import DeviceInfo, EnrolRequest, EnrolResponse, ErrorBody
from sync_server.errors import DeviceIdTakenError, EnrolError
from sync_server.logs import log
from sync_server.services import devices
from sync_server.services.facilities import facility_name

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])
logger = logging.getLogger("sync_server.devices")


@router.post("/enrol", response_model=EnrolResponse, status_code=201,
             summary="Trade a one-time enrolment code for a device token",
             responses={403: {"model": ErrorBody, "description": "code unknown, expired or used"},
                        409: {"model": ErrorBody,
                              "description": "device id enrolled already (re-enrolment needs "
                                             "that device's current token as Bearer)"}})
def enrol(body: EnrolRequest, repo: RepoDep, request: Request) -> EnrolResponse:
    """A tablet enrolled before (moved to another facility, revoked and re-admitted) sends
    its current token as `Authorization: Bearer …` to keep its device id; without that
    proof an enrolled id is refused (409) and the code stays unused, so a valid code of
    one facility can never take over another tablet's identity or token."""
    try:
        enrolled = devices.enrol(repo=repo, code=body.code, device_id=body.device_id,
                                 name=body.name, proof_token=bearer_token(request))
    except EnrolError as exc:
        log(logger, logging.WARNING, "enrolment refused", device=body.device_id, reason=exc.reason)
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from None
    except DeviceIdTakenError as exc:
        log(logger, logging.WARNING, "enrolment refused", device=body.device_id,
            reason="device_id_taken")
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    device = enrolled.device
    log(logger, logging.INFO, "device enrolled", device=device.id, facility=device.facility_id)
    return EnrolResponse(device_id=device.id, facility_id=device.facility_id,
                         facility_name=enrolled.facility_name, token=enrolled.token)


@router.get("/me", response_model=DeviceInfo, summary="The device this token belongs to",
            responses={401: {"model": ErrorBody}})
def me(device: DeviceDep, repo: RepoDep) -> DeviceInfo:
    return DeviceInfo(device_id=device.id, facility_id=device.facility_id,
                      facility_name=facility_name(repo=repo, facility_id=device.facility_id),
                      name=device.name, enrolled_at=device.enrolled_at)
