"""The report downloads, the same for the JSON admin API and the console: progress as CSV
and every event as xAPI statements (JSON lines, streamed). The data: services/reports.py."""

from __future__ import annotations

from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from app.core.clock import now_utc
from sync_server.api.deps import ServerState
from sync_server.services import reports


def _stamp() -> str:
    return now_utc().strftime("%Y%m%d-%H%M")


def progress_download(state: ServerState, by: str) -> Response:
    body = (piece.encode("utf-8") for piece in reports.progress_export(repo=state.repo, by=by))
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="progress-{_stamp()}.csv"'})


def xapi_download(state: ServerState, by: str) -> Response:
    try:
        # never the request's Host header: the configured public base URL
        lines = reports.xapi_export(queries=state.queries, home_page=state.settings.base_url,
                                    by=by)
    except ImportError:
        return PlainTextResponse("xAPI mapping (app.core.learning.xapi) is not installed",
                                 status_code=503)
    return StreamingResponse(lines, media_type="application/x-ndjson", headers={
        "Content-Disposition": f'attachment; filename="xapi-{_stamp()}.jsonl"'})
