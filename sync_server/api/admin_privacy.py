"""Admin JSON API for privacy (docs/privacy.md): the audit log (JSON and CSV), erasing a
learner, and a learner's record as a zip (access / portability). Routes only translate
HTTP to one service call and back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from sync_server.api.deps import AdminDep, RepoDep, StateDep
from sync_server.api.models import MAX_CURSOR, ErrorBody, Responses
from sync_server.services import access_export, audit, erasure

AUTH: Responses = {401: {"model": ErrorBody, "description": "missing, unknown or expired admin token"}}
router = APIRouter(prefix="/api/v1/admin", tags=["privacy"], responses=AUTH)
Text = Annotated[str, Query(max_length=200)]


@router.get("/audit", summary="Audit log entries, newest first (filters combine with AND)",
            responses={400: {"model": ErrorBody}})
def audit_log(admin: AdminDep, repo: RepoDep, actor: Text = "", action: Text = "",
              learner: Text = "", date_from: Text = "", date_to: Text = "",
              limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 200,
              before_seq: Annotated[int | None, Query(ge=1, le=MAX_CURSOR)] = None) -> list[dict[str, Any]]:
    filters = audit.query(actor=actor, action=action, learner_id=learner, date_from=date_from,
                          date_to=date_to, limit=limit, before_seq=before_seq)
    return [e.__dict__ for e in audit.entries(repo=repo, filters=filters)]


@router.get("/audit.csv", response_class=Response, summary="The audit log as CSV (same filters)",
            responses={200: {"content": {"text/csv": {}}}, 400: {"model": ErrorBody}})
def audit_csv(admin: AdminDep, repo: RepoDep, actor: Text = "", action: Text = "",
              learner: Text = "", date_from: Text = "", date_to: Text = "") -> Response:
    filters = audit.query(actor=actor, action=action, learner_id=learner, date_from=date_from,
                          date_to=date_to)
    body = audit.csv_text(repo=repo, filters=filters, by=admin.name)
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


@router.post("/learners/{learner_id}/erase",
             summary="Erase a learner: events and profile deleted (counts kept anonymously), "
                     "certificates revoked and emptied, tablets purge them at their next sync",
             responses={400: {"model": ErrorBody}, 404: {"model": ErrorBody}})
def erase(learner_id: str, admin: AdminDep, state: StateDep) -> dict[str, Any]:
    done = erasure.erase_learner(repo=state.repo, learner_id=learner_id, by=admin.name,
                                 queries=state.queries)
    return {"learner_id": done.learner_id, "events_deleted": done.events,
            "certificates_revoked": done.certificates}


@router.get("/learners/{learner_id}/export.zip", response_class=Response,
            summary="Everything held about one learner: record.json + record.html in a zip",
            responses={200: {"content": {"application/zip": {}}}, 400: {"model": ErrorBody},
                       404: {"model": ErrorBody}})
def export(learner_id: str, admin: AdminDep, repo: RepoDep) -> Response:
    body = access_export.export_zip(repo=repo, learner_id=learner_id, by=admin.name)
    return Response(body, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="learner-{learner_id[:36]}.zip"'})
