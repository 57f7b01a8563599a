"""Issue programme certificates (docs/certificates.md "Programme certificates").

Called by the certificate issuer after a push (and at start-up catch-up), *after* the
course certificates of the same events were issued, with the (learner, pack) pairs whose
stored events may have completed a programme's last part. Each programme of the pack
published to the learner is judged (services/programmes.py); a verified one is issued
once — stored as ``course_id`` ``programme:<id>`` under the certificates table's UNIQUE
(learner, pack, course) — signed, placed in a revocation list and delivered like a
course certificate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.certificates import key_id
from app.core.clock import now_iso
from app.core.credential_status import status_entry
from app.core.errors import CertificateError
from app.core.events import format_at
from app.core.practice.tasks import Programme
from sync_server.certificates import Issuer, Learner, status_list_url
from sync_server.db.repository import CertificateRecord, Repository
from sync_server.db.repository import Learner as LearnerRow
from sync_server.programme_certificates import (
    programme_achievement,
    programme_credential,
    stored_course_id,
)
from sync_server.services.programmes import Programmes

log = logging.getLogger("shift.certificates")


class IssuerParts(Protocol):
    """What programme issuing needs of the certificate issuer."""
    repo: Repository
    private_key: Ed25519PrivateKey
    issuer: Issuer

    def store_new(self, make: Callable[[str, datetime, int, int], CertificateRecord],
                  learner_id: str, pack_id: str, course_id: str) -> CertificateRecord | None:
        ...


def issue_programmes(parts: IssuerParts, judge: Programmes, pairs: Iterable[tuple[str, str]],
                     base_url: str) -> list[CertificateRecord]:
    """Judge every programme of each (learner, pack) and issue the ones now complete."""
    issued = []
    wanted = sorted(set(pairs))
    # one query for the learners, and the programmes published to each facility × role ×
    # pack read once: a push of 500 events names dozens of pairs (this runs on every push)
    learners = parts.repo.learners_by_ids([learner_id for learner_id, _ in wanted])
    published: dict[tuple[str, str, str], list[str]] = {}
    for learner_id, pack_id in wanted:
        learner = learners.get(learner_id)
        if learner is None:
            continue
        audience = (learner.facility_id, learner.role, pack_id)
        if audience not in published:
            published[audience] = sorted(judge.published(learner, pack_id))
        for programme_id in published[audience]:
            if parts.repo.certificate_exists(learner.id, pack_id, stored_course_id(programme_id)):
                continue
            verdict = judge.verdict(learner, pack_id, programme_id)
            if not verdict.ok or verdict.programme is None:
                log.debug("programme certificate not issued: %s/%s of %s: %s: %s", pack_id,
                          programme_id, learner.id, verdict.code, verdict.detail)
                continue
            try:
                record = _issue(parts, judge, learner, verdict.programme, base_url)
            except CertificateError as exc:
                log.warning("programme certificate not issued: %s", exc)
                continue
            if record is not None:
                log.info("programme certificate issued", extra={
                    "certificate": record.id, "programme": programme_id})
                issued.append(record)
    return issued


def _issue(parts: IssuerParts, judge: Programmes, learner: LearnerRow, programme: Programme,
           base_url: str) -> CertificateRecord | None:
    manifest = judge.evidence.manifest(programme.pack, programme.pack_version)
    if manifest is None:
        raise CertificateError(f"pack {programme.pack} v{programme.pack_version} is gone")
    achievement = programme_achievement(manifest, programme.id, learner.language, base_url)
    awarded = now_iso()
    course_id = stored_course_id(programme.id)

    def make(cid: str, now: datetime, number: int, index: int) -> CertificateRecord:
        credential = programme_credential(
            parts.private_key, credential_id=cid, issuer=parts.issuer,
            learner=Learner(learner.id, learner.display_name, learner.language),
            achievement=achievement, public_base_url=base_url, valid_from=now,
            awarded_at=awarded, status=status_entry(status_list_url(base_url, number), index))
        return CertificateRecord(
            id=cid, learner_id=learner.id, pack_id=programme.pack,
            pack_version=programme.pack_version, course_id=course_id,
            facility_id=learner.facility_id, language=achievement["inLanguage"],
            issued_at=format_at(now), source_event=course_id,
            key_id=key_id(parts.private_key.public_key()), credential=credential,
            status_list=number, status_index=index)
    return parts.store_new(make, learner.id, programme.pack, course_id)


def pairs_of(events: Iterable[dict[str, object]], types: tuple[str, ...]
             ) -> list[tuple[str, str]]:
    """(learner, pack) of the events of ``types``."""
    return [(str(e.get("learner")), str(e.get("pack"))) for e in events
            if e.get("type") in types and isinstance(e.get("learner"), str)
            and isinstance(e.get("pack"), str)]



