"""The JSON documents behind the ids in a certificate, so that they resolve (no login):

* ``GET /issuer`` — the issuer's Open Badges ``Profile``; its ``id`` is the ``did:key``
  that signs certificates (the issuer of every credential and the controller of its
  verification method). Tablets learn their server's certificate key here at sync.
  With SHIFT_ORG_LOGO, its ``image`` is ``GET /issuer/logo`` (the file, checked at start).
* ``GET /achievements/{pack}/{course}`` — the course as an OB 3.0 ``Achievement``
  (``?lang=`` picks a language of the pack; default: the pack's default language), from
  the newest uploaded version of the pack.
* ``GET /achievements/{pack}/programmes/{programme}`` — a programme (pack.toml
  ``[[programmes]]``) as an Achievement, the same way.
* ``GET /status/{n}`` — revocation status list *n*, a signed
  ``BitstringStatusListCredential`` (W3C Bitstring Status List v1.0).

All of them are public: they say nothing a certificate does not already say.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from app.core.certificates import CONTEXTS
from sync_server.api.deps import StateDep
from sync_server.errors import NotFoundError
from sync_server.services import certificates

router = APIRouter(tags=["certificates"])
LD_JSON = "application/ld+json"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


def _not_found(what: str) -> JSONResponse:
    return JSONResponse({"detail": what}, status_code=404)


@router.get("/issuer", summary="The certificate issuer's Open Badges Profile (id = did:key)")
def issuer_profile(state: StateDep) -> JSONResponse:
    issuer = state.issuer.issuer
    profile: dict[str, object] = {"@context": list(CONTEXTS), "id": issuer.id,
                                  "type": ["Profile"], "name": issuer.name}
    if issuer.url:
        profile["url"] = issuer.url
    if state.issuer.config.logo is not None and state.issuer.config.public_base_url:
        profile["image"] = {"id": f"{state.issuer.config.public_base_url}/issuer/logo",
                            "type": "Image"}
    return JSONResponse(profile, media_type=LD_JSON, headers={"Cache-Control": "no-cache"})


@router.get("/issuer/logo", summary="The issuing organisation's logo (SHIFT_ORG_LOGO)",
            response_model=None, responses={404: {"description": "no logo configured"}})
def issuer_logo(state: StateDep, request: Request) -> Response:
    logo = state.issuer.config.logo
    if logo is None:
        return _not_found("no logo configured (SHIFT_ORG_LOGO)")
    headers = {"ETag": logo.etag, "Cache-Control": "public, max-age=86400",
               "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == logo.etag:
        return Response(status_code=304, headers=headers)
    return Response(logo.data, media_type=logo.media_type, headers=headers)


@router.get("/achievements/{pack_id}/programmes/{programme_id}",
            summary="A programme as an Open Badges Achievement",
            responses={404: {"description": "no such pack or programme on this server"}})
def programme_achievement(state: StateDep,
                          pack_id: Annotated[str, PathParam(pattern=ID_PATTERN)],
                          programme_id: Annotated[str, PathParam(pattern=ID_PATTERN)],
                          lang: Annotated[str | None, Query(max_length=16)] = None
                          ) -> JSONResponse:
    try:
        found = certificates.programme_achievement_doc(
            repo=state.repo, public_base_url=state.issuer.base_url, pack_id=pack_id,
            programme_id=programme_id, language=lang)
    except NotFoundError as exc:
        return _not_found(str(exc))
    doc = {"@context": list(CONTEXTS), **found}
    return JSONResponse(doc, media_type=LD_JSON, headers={"Cache-Control": "no-cache"})


@router.get("/achievements/{pack_id}/{course_id}",
            summary="A course as an Open Badges Achievement",
            responses={404: {"description": "no such pack or course on this server"}})
def achievement(state: StateDep,
                pack_id: Annotated[str, PathParam(pattern=ID_PATTERN)],
                course_id: Annotated[str, PathParam(pattern=ID_PATTERN)],
                lang: Annotated[str | None, Query(max_length=16)] = None) -> JSONResponse:
    try:
        found = certificates.achievement(repo=state.repo, public_base_url=state.issuer.base_url,
                                         pack_id=pack_id, course_id=course_id, language=lang)
    except NotFoundError as exc:
        return _not_found(str(exc))
    doc = {"@context": list(CONTEXTS), **found}
    return JSONResponse(doc, media_type=LD_JSON, headers={"Cache-Control": "no-cache"})


@router.get("/status/{number}", summary="Revocation status list (BitstringStatusListCredential)",
            responses={404: {"description": "no such status list"}})
def status_list(state: StateDep,
                number: Annotated[int, PathParam(ge=1, le=1_000_000)]) -> JSONResponse:
    issuer = state.issuer
    doc = issuer.status_list(number, issuer.base_url)
    if doc is None:
        return _not_found("no such status list")
    return JSONResponse(doc, media_type=LD_JSON, headers={"Cache-Control": "no-cache"})
