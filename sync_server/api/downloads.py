"""The report downloads, the same for the JSON admin API and the console: progress as CSV
and every event as xAPI statements (JSON lines, streamed). The data: services/reports.py."""

from __future__ import annotations

from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from app.core.clock import now_utc
from sync_server.api.deps import ServerState
from sync_server.services import reports
from sync_server.services.progress_report import ExportFilter


def _stamp() -> str:
    return now_utc().strftime("%Y%m%d-%H%M")


def _file_name(kind: str, chosen: ExportFilter, suffix: str) -> str:
    """`progress-facility-f1_completed-2026-01-01-to-2026-03-31-20260301-0930.csv`: the
    filters are in the name (only [a-z0-9-_] from a checked filter)."""
    label = chosen.label()
    return f"{kind}-{label + '-' if label else ''}{_stamp()}.{suffix}"


def progress_download(state: ServerState, by: str,
                      chosen: ExportFilter | None = None) -> Response:
    chosen = chosen or ExportFilter()
    body = (piece.encode("utf-8")
            for piece in reports.progress_export(repo=state.repo, by=by, chosen=chosen))
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{_file_name("progress", chosen, "csv")}"'})


def xapi_download(state: ServerState, by: str, chosen: ExportFilter | None = None) -> Response:
    chosen = chosen or ExportFilter()
    try:
        # never the request's Host header: the configured public base URL
        lines = reports.xapi_export(queries=state.queries, home_page=state.settings.base_url,
                                    by=by, chosen=chosen)
    except ImportError:
        return PlainTextResponse("xAPI mapping (app.core.learning.xapi) is not installed",
                                 status_code=503)
    return StreamingResponse(lines, media_type="application/x-ndjson", headers={
        "Content-Disposition": f'attachment; filename="{_file_name("xapi", chosen, "jsonl")}"'})
