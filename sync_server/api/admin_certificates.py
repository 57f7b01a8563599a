"""JSON admin API of certificates and exports (bearer admin token, OpenAPI).

The LRS push is deliberately console-only: an API taking arbitrary URLs would let any
client with an admin token make the server call any address.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from sync_server.api.deps import AdminDep, RepoDep, StateDep
from sync_server.api.downloads import progress_download, xapi_download
from sync_server.api.models import ErrorBody
from sync_server.logs import log
from sync_server.services import certificates, progress_report
from sync_server.services.progress_report import ExportFilter

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/api/v1/admin", tags=["admin certificates and exports"],
                   responses={401: {"model": ErrorBody, "description": "admin token missing/bad"}})
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class CertificateOut(BaseModel):
    id: str
    learner_id: str
    pack_id: str
    pack_version: int
    course_id: str
    facility_id: str
    language: str
    issued_at: str
    key_id: str
    revoked_at: str | None
    revoke_reason: str | None


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=certificates.MAX_REASON)


@router.get("/certificates", response_model=list[CertificateOut],
            summary="Issued certificates, newest first")
def list_certificates(admin: AdminDep, repo: RepoDep,
                      facility_id: str | None = None) -> list[CertificateOut]:
    records = certificates.list_certificates(repo=repo, facility_id=facility_id)
    return [CertificateOut.model_validate(r, from_attributes=True) for r in records]


@router.post("/certificates/{certificate_id}/revoke", status_code=204,
             responses={404: {"model": ErrorBody,
                                   "description": "no such certificate, or already revoked"}},
             summary="Revoke a certificate (GET /verify/{id} then says revoked)")
def revoke_certificate(admin: AdminDep, repo: RepoDep,
                       certificate_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
                       body: RevokeRequest) -> Response:
    certificates.revoke_certificate(repo=repo, certificate_id=certificate_id, by=admin.name,
                                    reason=body.reason)
    log(logger, logging.INFO, "certificate revoked", admin=admin.name, certificate=certificate_id)
    return Response(status_code=204)


def _filter(repo: RepoDep, facility: Annotated[str, Query(
                max_length=100, description="one facility's learners (its id); empty: all")] = "",
            dates: Annotated[str, Query(
                max_length=20, description="what `from`/`to` apply to: `activity` (the "
                "last activity in the course) or `completed` (its completion)")] = "activity",
            date_from: Annotated[str, Query(alias="from", max_length=40,
                                            description="first day, YYYY-MM-DD (UTC)")] = "",
            date_to: Annotated[str, Query(alias="to", max_length=40,
                                          description="last day, YYYY-MM-DD (UTC)")] = "",
            ) -> ExportFilter:
    """The export filter of the query (400 naming the field when it is wrong)."""
    return progress_report.parse_filter(repo=repo, facility=facility, basis=dates,
                                        date_from=date_from, date_to=date_to)


FilterDep = Annotated[ExportFilter, Depends(_filter)]


@router.get("/exports/progress.csv", response_class=Response,
            summary="Progress as CSV: every learner × course with progress, and a "
                    "\"not started\" row per active learner × course published to them "
                    "(undated reports); filters in the file name",
            responses={200: {"content": {"text/csv": {}}},
                       400: {"model": ErrorBody, "description": "a filter is wrong"}})
def export_progress(admin: AdminDep, state: StateDep, chosen: FilterDep) -> Response:
    return progress_download(state, admin.name, chosen)


@router.get("/exports/xapi.jsonl", response_class=Response,
            summary="Every event (of the facility's learners, in the date range) as an "
                    "xAPI 1.0.3 statement (JSON lines)",
            responses={200: {"content": {"application/x-ndjson": {}}},
                       400: {"model": ErrorBody, "description": "a filter is wrong"}})
def export_xapi(admin: AdminDep, state: StateDep, chosen: FilterDep) -> Response:
    return xapi_download(state, admin.name, chosen)
