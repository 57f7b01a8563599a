"""Issue a certificate for every stored ``course.completed`` event, and deliver it.

How it runs: ``sync_server.admin.install`` registers ``CertificateIssuer.on_stored`` as an
on-events-stored hook of the push service (``ServerState.on_events_stored``): after a push
stored new events, and before its answer goes out, the hook gets exactly the events that
push newly stored, so the device's next pull already carries the certificate. An event id
is stored by one push only, and the certificates table is UNIQUE per (learner, pack,
course), so a certificate is issued exactly once even with several server processes.
At start-up ``catch_up`` scans the completions after its cursor (a completion stored
just before a crash, before its hook ran, is issued then).

Delivery: each certificate becomes a ``certificate.received`` event of that learner
(device ``server``, id = uuid5 of the certificate id, ``data.credential`` = the signed
credential) inserted into the events table, so the normal pull carries it to every
tablet of the learner's facility (docs/sync-protocol.md). Its content is deterministic,
so inserting it twice is a harmless duplicate.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.certificates import key_id
from app.core.errors import CertificateError, EventError
from app.core.events import content_of, format_at, validate_event
from sync_server.certificates import Issuer, Learner, course_achievement, issue_credential
from sync_server.db.repository import CertificateRecord, EventRow, Repository

log = logging.getLogger("shift.certificates")
SERVER_DEVICE = "server"
COMPLETED = "course.completed"
CURSOR = "completed"
_EVENT_NS = uuid.UUID("5b0c1d8e-54a3-4c57-9a0e-2f1f6a1c0de1")


@dataclass(frozen=True)
class IssuerConfig:
    """Who issues, and where certificates are verified (environment, docs/certificates.md)."""
    org_name: str = "Shift Learning"
    org_url: str | None = None
    public_base_url: str | None = None   # None: the URL the server was reached at

    @classmethod
    def from_env(cls) -> IssuerConfig:
        return cls(org_name=os.environ.get("SHIFT_ORG_NAME") or cls.org_name,
                   org_url=os.environ.get("SHIFT_ORG_URL") or None,
                   public_base_url=(os.environ.get("SHIFT_PUBLIC_BASE_URL") or "").rstrip("/")
                   or None)


def certificate_event(record: CertificateRecord) -> dict[str, Any]:
    """The ``certificate.received`` event that carries a certificate to the devices."""
    serial = uuid.UUID(record.id).int % (2**53 - 1) + 1
    return {
        "id": str(uuid.uuid5(_EVENT_NS, record.id)),
        "learner": record.learner_id,
        "device": SERVER_DEVICE,
        "seq": serial,
        "at": record.issued_at,
        "type": "certificate.received",
        "pack": record.pack_id,
        "pack_version": record.pack_version,
        "ref": {"certificate": record.id, "course": record.course_id},
        # title: what the app lists (app.core.learning.state reads data.title)
        "data": {"credential": record.credential,
                 "title": record.credential["credentialSubject"]["achievement"]["name"]},
    }


class CertificateIssuer:
    def __init__(self, repo: Repository, private_key: Ed25519PrivateKey,
                 config: IssuerConfig | None = None) -> None:
        self.repo = repo
        self.private_key = private_key
        self.config = config or IssuerConfig.from_env()
        self._caught_up = False

    def base_url(self, request_base_url: str) -> str:
        return (self.config.public_base_url or request_base_url).rstrip("/")

    def on_stored(self, events: list[dict[str, Any]], request_base_url: str) -> list[CertificateRecord]:
        """Push hook: issue and deliver certificates for the completions among the events
        one push newly stored. Returns the new certificates."""
        if not self._caught_up:  # first push of this process: also what a crash left over
            self._caught_up = True
            return self.catch_up(request_base_url)
        completions = [e for e in events if e.get("type") == COMPLETED]
        if not completions:
            return []
        issued = self._issue_all(completions, self.base_url(request_base_url))
        self.deliver_pending()
        return issued

    def catch_up(self, request_base_url: str) -> list[CertificateRecord]:
        """Issue for every stored completion after the scan cursor (start-up recovery),
        then deliver what is undelivered. Safe to run in several processes at once."""
        base = self.base_url(request_base_url)
        issued: list[CertificateRecord] = []
        cursor = self.repo.scan_cursor(CURSOR)
        while page := self.repo.scan_events(cursor, 500, (COMPLETED,)):
            issued += self._issue_all([json.loads(ev.content) for ev in page], base)
            cursor = page[-1].seq
            self.repo.advance_scan_cursor(CURSOR, cursor)
        self.deliver_pending()
        return issued

    def _issue_all(self, events: list[dict[str, Any]], base: str) -> list[CertificateRecord]:
        issued = []
        for event in events:
            try:
                record = self.issue_for(event, base)
            except (CertificateError, EventError, ValueError, KeyError) as exc:
                log.warning("certificate not issued for event %s: %s", event.get("id"), exc)
                continue
            if record is not None:
                issued.append(record)
        return issued

    def deliver_pending(self) -> None:
        """Deliver every undelivered certificate; one that cannot be turned into an event
        is logged and skipped (it must not block the others)."""
        failed: set[str] = set()
        while pending := [r for r in self.repo.undelivered_certificates() if r.id not in failed]:
            for record in pending:
                try:
                    self.deliver(record)
                except (EventError, CertificateError, KeyError, TypeError, ValueError) as exc:
                    log.warning("certificate %s not delivered: %s", record.id, exc)
                    failed.add(record.id)

    def _manifest(self, pack_id: str, version: Any) -> tuple[dict[str, Any], int] | None:
        """The manifest of the pack version the learner used, else the newest version."""
        if isinstance(version, int):
            found = self.repo.get_pack_version(pack_id, version)
            if found is not None:
                return json.loads(found.manifest), version
        versions = [p for p in self.repo.list_pack_versions() if p.pack_id == pack_id]
        if not versions:
            return None
        newest = max(versions, key=lambda p: p.version)
        return json.loads(newest.manifest), newest.version

    def issue_for(self, event: dict[str, Any], base_url: str) -> CertificateRecord | None:
        """Issue the certificate of one course.completed event (None if it already exists
        or cannot be issued: unknown learner / pack / course)."""
        course_id = (event.get("ref") or {}).get("course")
        pack_id = event.get("pack")
        learner_id = event.get("learner")
        learner = self.repo.get_learner(learner_id) if isinstance(learner_id, str) else None
        if learner is None or not isinstance(course_id, str) or not isinstance(pack_id, str):
            raise CertificateError(f"event {event.get('id')}: unknown learner, pack or course")
        if self.repo.certificate_exists(learner.id, pack_id, course_id):
            return None
        found = self._manifest(pack_id, event.get("pack_version"))
        if found is None:
            raise CertificateError(f"pack {pack_id!r} is not on this server")
        manifest, version = found
        achievement = course_achievement(manifest, course_id, learner.language)
        now = datetime.now(UTC).replace(microsecond=0)
        cid = str(uuid.uuid4())
        score = (event.get("data") or {}).get("score")
        credential = issue_credential(
            self.private_key, credential_id=cid,
            issuer=Issuer(f"{base_url}/issuer", self.config.org_name, self.config.org_url),
            learner=Learner(learner.id, learner.display_name, learner.language,
                            learner.staff_number),
            achievement=achievement, public_base_url=base_url, valid_from=now,
            awarded_at=event.get("at"),
            score=round(score) if isinstance(score, int | float) and not isinstance(score, bool)
            else None)
        record = CertificateRecord(
            id=cid, learner_id=learner.id, pack_id=pack_id, pack_version=version,
            course_id=course_id, facility_id=learner.facility_id, language=achievement.language,
            issued_at=format_at(now), source_event=str(event.get("id")),
            key_id=key_id(self.private_key.public_key()), credential=credential,
        )
        if not self.repo.insert_certificate(record):
            return None  # another process issued it a moment ago
        log.info("certificate issued", extra={"certificate": cid, "course": course_id})
        return record

    def deliver(self, record: CertificateRecord) -> None:
        event = validate_event(certificate_event(record))
        now = format_at(datetime.now(UTC))
        self.repo.insert_events([EventRow(
            id=event["id"], learner_id=record.learner_id, device_id=SERVER_DEVICE,
            facility_id=record.facility_id, type=event["type"], at=event["at"],
            content=content_of(event).decode("utf-8"), received_at=now,
            received_from=SERVER_DEVICE)])
        self.repo.mark_certificate_delivered(record.id, now)
