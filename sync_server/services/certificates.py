"""Certificates from the admin side (JSON API, console, CLI) and the public lookups
(the verify page, the credential files, the achievement documents).

Issuing is issuing.py (a push hook); the signed credential itself is built by
sync_server/certificates.py; the audit of old certificates is certificate_audit.py.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from app.core.certificates import verify_credential
from app.core.clock import now_iso
from app.core.errors import CertificateError
from app.core.packs import TrustedKeys
from sync_server.certificates import achievement_json, course_achievement, id_from_short
from sync_server.db.repository import CertificateRecord, Repository
from sync_server.errors import NotFoundError, ServerError
from sync_server.programme_certificates import programme_achievement
from sync_server.services import audit

MAX_REASON = 200
#: What the public /verify says instead of the revocation reason (kept in the console).
REVOKED_PUBLIC_REASON = "revoked by the issuer"
#: list_certificates without a limit: every certificate
EVERY = 1_000_000


def canonical_id(value: str) -> str:
    """The canonical (lower-case) form of a certificate id; ServerError if not a UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ServerError(f"certificate id: not a UUID: {value!r}") from None


def list_certificates(*, repo: Repository, facility_id: str | None = None,
                      limit: int = 1000) -> list[CertificateRecord]:
    """Issued certificates, newest first."""
    return repo.list_certificates(facility_id=facility_id, limit=limit)


@dataclass(frozen=True)
class CertificateList:
    certificates: list[CertificateRecord]
    names: dict[str, str]          # learner id → display name


def with_names(*, repo: Repository) -> CertificateList:
    """The certificates and their learners' names (the console's list)."""
    certs = repo.list_certificates()
    learners = repo.learners_by_ids(sorted({c.learner_id for c in certs}))
    return CertificateList(certs, {lid: lr.display_name for lid, lr in learners.items()})


def revoke_certificate(*, repo: Repository, certificate_id: str, by: str,
                       reason: str) -> str:
    """Revoke a certificate (its id is returned): /verify then says revoked and tablets
    show it after their next sync. ServerError for a malformed id or reason (1–200
    characters); NotFoundError when there is no such certificate or it was revoked
    already (the first reason stays)."""
    cid = canonical_id(certificate_id)
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_REASON:
        raise ServerError(f"reason: expected 1–{MAX_REASON} characters")
    record = repo.get_certificate(cid)
    if not repo.revoke_certificate(cid, by=by, reason=reason, now=now_iso(), audit=audit.entry(
            by, "certificate.revoke", target=cid,
            learner_id=record.learner_id if record else None, reason=reason)):
        raise NotFoundError(f"certificate {cid}: no such certificate, or already revoked")
    return cid


# ----- public lookups (no login) -----------------------------------------------------------
def find(*, repo: Repository, certificate_id: str) -> CertificateRecord | None:
    """The certificate with this id (None also for an id that is no UUID)."""
    try:
        return repo.get_certificate(canonical_id(certificate_id))
    except ServerError:
        return None


def check(*, repo: Repository, trusted: TrustedKeys, certificate_id: str) -> dict[str, Any]:
    """The verify answer (admin/verify.py documents its fields): "genuine" = the stored
    credential verifies with the trusted keys *and* it is not revoked.

    Public: the revocation *reason* is internal (it may say "quiz taken by another
    person") and stays in the console; a revoked certificate's answer says only
    ``"revoked"``, the date, and the fixed reason ``REVOKED_PUBLIC_REASON``."""
    record = find(repo=repo, certificate_id=certificate_id)
    if record is None:
        return {"id": certificate_id, "status": "not_found", "genuine": False, "revoked": False,
                "revoked_at": None, "reason": "no certificate with this id was issued here",
                "key_id": None, "credential": None}
    if record.revoked and not record.credential:
        # the learner was erased (services/erasure.py): revoked, and nothing about them
        return {"id": record.id, "status": "revoked", "genuine": False, "revoked": True,
                "revoked_at": record.revoked_at, "reason": record.revoke_reason,
                "key_id": record.key_id, "credential": None}
    result = verify_credential(record.credential, trusted)
    revoked = record.revoked
    status = "revoked" if result.genuine and revoked else result.status.value
    return {"id": record.id, "status": status, "genuine": result.genuine and not revoked,
            "revoked": revoked, "revoked_at": record.revoked_at,
            "reason": REVOKED_PUBLIC_REASON if revoked else result.reason,
            "key_id": result.key_id, "credential": record.credential}


def achievement(*, repo: Repository, public_base_url: str, pack_id: str, course_id: str,
                language: str | None) -> dict[str, Any]:
    """A course as an Open Badges ``Achievement``, from the newest uploaded version of the
    pack, in `language` (default: the pack's). NotFoundError names what is missing."""
    versions = [p for p in repo.list_pack_versions() if p.pack_id == pack_id]
    if not versions:
        raise NotFoundError("no such pack on this server")
    manifest = json.loads(max(versions, key=lambda p: p.version).manifest)
    try:
        course = course_achievement(manifest, course_id,
                                    language or str(manifest.get("default_language") or "en"))
    except CertificateError:
        raise NotFoundError("no such course in this pack") from None
    return achievement_json(course, public_base_url)


def programme_achievement_doc(*, repo: Repository, public_base_url: str, pack_id: str,
                              programme_id: str, language: str | None) -> dict[str, Any]:
    """A programme as an Open Badges ``Achievement`` (newest uploaded version of the pack)."""
    versions = [p for p in repo.list_pack_versions() if p.pack_id == pack_id]
    if not versions:
        raise NotFoundError("no such pack on this server")
    manifest = json.loads(max(versions, key=lambda p: p.version).manifest)
    try:
        return programme_achievement(manifest, programme_id,
                                     language or str(manifest.get("default_language") or "en"),
                                     public_base_url)
    except CertificateError:
        raise NotFoundError("no such programme in this pack") from None


def course_outcomes(*, repo: Repository, record: CertificateRecord) -> tuple[str, ...]:
    """The learning outcomes of the certificate's course, from the pack version it was
    issued for, in the certificate's language (else the pack's default): printed on the
    PDF (they are not part of the signed credential). Empty when the pack is gone."""
    pack = repo.get_pack_version(record.pack_id, record.pack_version)
    if pack is None:
        return ()
    try:
        manifest = json.loads(pack.manifest)
        course = next(c for c in manifest.get("courses") or [] if c.get("id") == record.course_id)
    except (ValueError, StopIteration, AttributeError):
        return ()
    default = str(manifest.get("default_language") or "en")
    texts = []
    for outcome in course.get("outcomes") or []:
        text = outcome.get("text") if isinstance(outcome, dict) else None
        if isinstance(text, dict):
            value = text.get(record.language) or text.get(default)
            if isinstance(value, str) and value.strip():
                texts.append(value.strip()[:300])
    return tuple(texts[:20])


def find_short(*, repo: Repository, short: str) -> CertificateRecord | None:
    """The certificate of a short verify id (``/v/<id>``); None for anything else."""
    found = id_from_short(short)
    return find(repo=repo, certificate_id=found) if found else None
