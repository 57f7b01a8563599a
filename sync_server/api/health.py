"""Health and version: unauthenticated, cheap, used by load balancers and the app."""

from __future__ import annotations

from fastapi import APIRouter

from sync_server import __version__
from sync_server.api.deps import StateDep
from sync_server.api.models import MAX_CHUNK, Health, VersionInfo

router = APIRouter(tags=["health"])


@router.get("/api/v1/health", response_model=Health, summary="Liveness + database check")
def health(state: StateDep) -> Health:
    state.repo.list_facilities()  # touches the database; an exception becomes a 500
    return Health(status="ok", database=state.repo.dialect)


@router.get("/api/v1/version", response_model=VersionInfo, summary="Server and protocol version")
def version(state: StateDep) -> VersionInfo:
    return VersionInfo(server=__version__, api="v1", pack_formats=[1], max_chunk=MAX_CHUNK,
                       max_body_bytes=state.settings.max_body_bytes)
