"""The OpenAPI document of the server: its description, and the parts FastAPI cannot see
(the push body, which the route parses itself for speed; the answers the body middleware
may give to any request with a body)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sync_server.api.models import ErrorBody, PushRequest

DESCRIPTION = """Sync protocol of Shift Learning (docs/sync-protocol.md).

Devices enrol with a one-time code and then send `Authorization: Bearer <device token>`
on every call. Admin endpoints need `Authorization: Bearer <admin token>` from
`POST /api/v1/admin/login`. Request bodies may be gzip-compressed
(`Content-Encoding: gzip`); responses are gzip-compressed when the client accepts it."""

#: Answers any request with a body can get before it reaches its route.
BODY_ERRORS = {"400": "unreadable body (bad gzip, not UTF-8, bad Content-Length)",
               "413": "body too large (also after gzip inflation)",
               "415": "Content-Encoding other than gzip"}


def complete_openapi(app: FastAPI) -> None:
    """Add the push body's model and the body middleware's answers to the schema."""

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        extra = PushRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in extra.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault("PushRequest", extra)
        components.setdefault("ErrorBody", ErrorBody.model_json_schema())
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        for path_item in schema.get("paths", {}).values():
            for method, operation in path_item.items():
                if method in ("post", "put", "patch"):      # the body middleware may answer these
                    responses = operation.setdefault("responses", {})
                    for code, why in BODY_ERRORS.items():
                        responses.setdefault(code, {"description": why, **error})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
