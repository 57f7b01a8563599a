"""Health and version: unauthenticated, cheap, used by load balancers and the app."""

from __future__ import annotations

from fastapi import APIRouter

from sync_server import __version__
from sync_server.api.deps import RepoDep, StateDep
from sync_server.api.models import MAX_CHUNK, Health, VersionInfo
from sync_server.services.facilities import list_facilities

router = APIRouter(tags=["health"])


@router.get("/api/v1/health", response_model=Health, summary="Liveness + database check")
def health(repo: RepoDep) -> Health:
    list_facilities(repo=repo)  # touches the database; an exception becomes a 500
    return Health(status="ok", database=repo.dialect)


@router.get("/api/v1/version", response_model=VersionInfo, summary="Server and protocol version")
def version(state: StateDep) -> VersionInfo:
    return VersionInfo(server=__version__, api="v1", pack_formats=[1], max_chunk=MAX_CHUNK,
                       max_body_bytes=state.settings.max_body_bytes)
