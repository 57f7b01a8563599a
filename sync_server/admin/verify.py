"""Public certificate pages: GET /verify/{id} (HTML for people, JSON for programs) and the
certificate's files. No login: whoever holds the link (or scans the PDF's QR code) may
check it; the page shows what the certificate itself shows.

"genuine" here = the stored credential verifies with the server's trusted keys *and* it is
not revoked. The JSON answer (``Accept: application/json``)::

    {"id": "…", "status": "genuine" | "revoked" | "tampered" | "unknown_key" | "malformed"
     | "not_found", "genuine": bool, "revoked": bool, "revoked_at": …, "reason": …,
     "key_id": …, "credential": {…}}

A revoked certificate's ``reason`` is always "revoked by the issuer": the reason an admin
typed is internal and shown only in the console (services/certificates.py).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sync_server.admin.console import SECURITY_HEADERS, templates
from sync_server.admin.i18n import Tr, request_language
from sync_server.api.deps import StateDep
from sync_server.certificates_pdf import render_pdf
from sync_server.services import certificates

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no certificate with this id was issued here"}}
#: Rendering a PDF costs ~0.1–0.3 s of CPU; the public link must not make that a lever
#: for load, so recent PDFs (≈25 KiB each) are kept, keyed by the credential's content.
PDF_CACHE_SIZE = 256
_PDF_CACHE: dict[tuple[str, str, str], bytes] = {}
router = APIRouter(include_in_schema=True, tags=["certificates"], responses=NOT_FOUND)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get("/verify/{certificate_id}", summary="Is this certificate genuine and unrevoked?",
            response_model=None)
def verify_page(request: Request, certificate_id: str, state: StateDep) -> Response:
    answer = certificates.check(repo=state.repo, trusted=state.keyring.trusted,
                                certificate_id=certificate_id)
    code = 404 if answer["status"] == "not_found" else 200
    if _wants_json(request):
        return JSONResponse(answer, status_code=code, headers={"Cache-Control": "no-store"})
    cred = answer["credential"]
    # the page's words follow the reader's browser (cookie / Accept-Language, as in the
    # console: an employer abroad checks a Lithuanian certificate); the certificate's own
    # texts keep the language they were issued in (`cert_lang` on their elements)
    tr = Tr(request_language(request))
    headline, explanation, css = {
        "genuine": (tr.gettext("Genuine certificate"),
                    tr.gettext("The signature is valid and the issuer has not revoked this "
                               "certificate."), "genuine"),
        "revoked": (tr.gettext("Revoked certificate"),
                    tr.gettext("The certificate was issued here but has been revoked by the "
                               "issuer."), "bad"),
        "not_found": (tr.gettext("Unknown certificate"),
                      tr.gettext("No certificate with this id was issued by this service."),
                      "bad"),
    }.get(answer["status"], (tr.gettext("Not genuine"),
                             tr.gettext("The stored certificate does not match its signature: "
                                        "%(reason)s", reason=str(answer["reason"])), "bad"))
    learner = ""
    if cred:
        learner = next((i.get("identityHash") for i in cred["credentialSubject"].get(
            "identifier", []) if i.get("identityType") == "name"), "")
    issuer_name = cred["issuer"]["name"] if cred else state.issuer.config.org_name
    cert_lang = (cred or {}).get("credentialSubject", {}).get("achievement", {}).get(
        "inLanguage", "en")
    return templates.TemplateResponse(request, "verify.html", {
        "headline": headline, "explanation": explanation, "verdict_class": css, "cert": cred,
        "learner_name": learner, "issuer_name": issuer_name, "key_id": answer["key_id"],
        "revoked_at": answer["revoked_at"], "has_logo": state.issuer.config.logo is not None,
        "cid": answer["id"], "lang": tr.lang, "cert_lang": cert_lang}, status_code=code,
        headers={"Cache-Control": "no-store", **SECURITY_HEADERS})


@router.get("/v/{short_id}", summary="Short verify link (printed on the PDF): redirects to "
            "/verify/{id}", response_model=None)
def short_verify(short_id: str, state: StateDep) -> Response:
    record = certificates.find_short(repo=state.repo, short=short_id[:40])
    if record is None:
        return JSONResponse({"detail": "no such certificate"}, status_code=404)
    return RedirectResponse(f"/verify/{record.id}", status_code=308)


@router.get("/certificates/{certificate_id}.json", summary="The signed credential (Open Badges 3.0)")
def certificate_json(certificate_id: str, state: StateDep) -> Response:
    record = certificates.find(repo=state.repo, certificate_id=certificate_id)
    if record is None:
        return JSONResponse({"detail": "no such certificate"}, status_code=404)
    if not record.credential:   # erased learner: revoked, nothing about them is kept
        return JSONResponse({"detail": "revoked: " + str(record.revoke_reason)}, status_code=410)
    return JSONResponse(record.credential, media_type="application/ld+json",
                        headers={"Content-Disposition":
                                 f'inline; filename="certificate-{record.id}.json"'})


@router.get("/certificates/{certificate_id}.pdf", summary="The certificate as a one-page PDF")
async def certificate_pdf(certificate_id: str, state: StateDep) -> Response:
    record = certificates.find(repo=state.repo, certificate_id=certificate_id)
    if record is None:
        return JSONResponse({"detail": "no such certificate"}, status_code=404)
    if not record.credential:   # erased learner: revoked, nothing about them is kept
        return JSONResponse({"detail": "revoked: " + str(record.revoke_reason)}, status_code=410)
    base = state.issuer.base_url
    achievement_id = record.credential["credentialSubject"]["achievement"].get("id", "")
    if "/achievements/" in achievement_id:  # the base URL the credential was issued with
        base = achievement_id.split("/achievements/")[0]
    key = (record.id, base, hashlib.sha256(json.dumps(record.credential, sort_keys=True)
                                           .encode()).hexdigest())
    pdf = _PDF_CACHE.get(key)
    if pdf is None:
        outcomes = certificates.course_outcomes(repo=state.repo, record=record)
        pdf = await run_in_threadpool(lambda: render_pdf(record.credential,
                                                         public_base_url=base,
                                                         outcomes=outcomes,
                                                         logo=state.issuer.config.logo))
        _PDF_CACHE[key] = pdf
        while len(_PDF_CACHE) > PDF_CACHE_SIZE:
            _PDF_CACHE.pop(next(iter(_PDF_CACHE)))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="certificate-{record.id}.pdf"'})
