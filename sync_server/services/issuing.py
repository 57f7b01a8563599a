"""Issue a certificate when the server's own records show a course passed, and deliver it.

How it runs: ``sync_server.app.create_state`` gives the issuer to the push service as a
``PushHook`` (``ServerState.push_hooks``, services/sync.py): after a push stored new
events, and before its answer goes out, ``on_stored`` gets exactly the events that push
newly stored. A ``course.completed`` (or ``quiz.submitted``) among them makes the
issuer *judge* that learner's course (``evidence.Evidence.verdict``): the learner's stored
events are folded and every counted quiz attempt is re-scored against the answer key of
a pack version the server published to the learner's facility and role
(app/core/learning/verify.py). Only a verified pass issues; the certificate carries the
server's score and the time the server received the completion. What a device claims
(``quiz.submitted.score/passed``, ``course.completed.score``) decides nothing; a refusal
is logged with its reason code and changes nothing.

Exactly once: an event id is stored by one push only, and the certificates table is
UNIQUE per (learner, pack, course), so a certificate is issued once even with several
server processes. At start-up ``catch_up`` scans the completions after its cursor (a
completion stored just before a crash, before its hook ran, is issued then).

Revocation: each certificate gets a random free place in a W3C Bitstring Status List
(``credentialStatus``); ``status_list`` signs the list served at ``/status/{n}``.

Delivery: each certificate becomes a ``certificate.received`` event of that learner
(device ``server``, id = uuid5 of the certificate id, ``data.credential`` = the signed
credential) inserted into the events table, so the normal pull carries it to every
tablet of the learner's facility (docs/sync-protocol.md). Its content is deterministic,
so inserting it twice is a harmless duplicate. Only the server makes these events.

Recovery after a restore from a backup: certificates issued after the backup are not in
the restored database, but the tablets hold their ``certificate.received`` events and
offer them again (docs/sync-protocol.md §4.5). ``recover`` puts such a certificate back
under its own id — so its printed QR code still verifies — only when the credential is
signed by this server's own key, names the event's learner and course, and the event is
exactly the one ``certificate_event`` makes for it. The tablets offer a learner's
certificates before the rest of their history, so the completion that follows finds the
certificate in place instead of issuing a second one.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.certificates import key_id, sign_credential, verify_credential
from app.core.clock import now_iso, now_utc
from app.core.credential_status import (
    STATUS_LIST_BITS,
    entry_of,
    status_entry,
    status_list_credential,
)
from app.core.errors import CertificateError, EventError
from app.core.events import content_of, format_at, validate_event
from app.core.learning.verify import NO_COMPLETION
from sync_server.certificates import (
    Learner,
    bare_id,
    course_achievement,
    issue_credential,
    issuer_for,
    status_list_url,
)
from sync_server.db.repository import CertificateRecord, EventRow, Repository
from sync_server.errors import ErasedError
from sync_server.org_logo import Logo, logo_from_env
from sync_server.programme_certificates import achievement_suffix, programme_of, stored_course_id
from sync_server.services.evidence import Evidence
from sync_server.services.programme_issuing import issue_programmes, pairs_of
from sync_server.services.programmes import TRIGGERS as PROGRAMME_TRIGGERS
from sync_server.services.programmes import Programmes

log = logging.getLogger("shift.certificates")
SERVER_DEVICE = "server"
COMPLETED = "course.completed"
DELIVERED = "certificate.received"
#: stored events that make the issuer judge a course (the completion, a submission or a
#: workplace observation that arrives after it)
TRIGGERS = (COMPLETED, "quiz.submitted", "practice.observed")
#: what the start-up scan reads: the course triggers and what may finish a programme
SCANNED = tuple(dict.fromkeys(TRIGGERS + PROGRAMME_TRIGGERS))
CURSOR = "completed"
#: a status list takes certificates until it is half full, then the next list starts:
#: a random free place is then found in ≤ 2 tries on average, and each list hides every
#: certificate among at least 65 536 places
STATUS_FILL = STATUS_LIST_BITS // 2
STATUS_TRIES = 40
#: a delivery looks the learner's facility up again when a move came between (deliver)
DELIVERY_TRIES = 5
STATUS_CACHE = 16          # signed status lists kept (per list, base URL and content)
_EVENT_NS = uuid.UUID("5b0c1d8e-54a3-4c57-9a0e-2f1f6a1c0de1")


#: The issuer's name while SHIFT_ORG_NAME is unset (the console warns about it).
DEFAULT_ORG_NAME = "Shift Learning"


@dataclass(frozen=True)
class IssuerConfig:
    """Who issues, and where certificates are verified (environment, docs/certificates.md)."""
    org_name: str = DEFAULT_ORG_NAME
    org_url: str | None = None
    #: Settings.base_url (SHIFT_PUBLIC_BASE_URL); never a request's Host header.
    public_base_url: str | None = None
    #: SHIFT_ORG_LOGO, checked at start (sync_server/org_logo.py)
    logo: Logo | None = None

    @classmethod
    def from_env(cls, public_base_url: str | None) -> IssuerConfig:
        return cls(org_name=os.environ.get("SHIFT_ORG_NAME") or cls.org_name,
                   org_url=os.environ.get("SHIFT_ORG_URL") or None,
                   public_base_url=(public_base_url or "").rstrip("/") or None,
                   logo=logo_from_env())


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
        "ref": _certificate_ref(record),
        # title: what the app lists (app.core.learning.state reads data.title)
        "data": {"credential": record.credential,
                 "title": record.credential["credentialSubject"]["achievement"]["name"]},
    }


def _certificate_ref(record: CertificateRecord) -> dict[str, str]:
    """``ref`` of a delivery: the course, or for a programme certificate the programme."""
    programme = programme_of(record.course_id)
    if programme is not None:
        return {"certificate": record.id, "programme": programme}
    return {"certificate": record.id, "course": record.course_id}


def _is_key(course: tuple[Any, ...]) -> TypeGuard[tuple[str, str, str]]:
    return all(isinstance(part, str) for part in course)


class NotIssued(CertificateError):
    """The server's records do not show the course passed; ``reason`` says why
    (app.core.learning.verify: no_completion, not_published, no_quiz, lessons_incomplete,
    no_passed_attempt; or unknown_learner, already_issued)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class CertificateIssuer:
    def __init__(self, repo: Repository, private_key: Ed25519PrivateKey,
                 config: IssuerConfig | None = None) -> None:
        self.repo = repo
        self.private_key = private_key
        self.config = config or IssuerConfig.from_env(None)
        self.evidence = Evidence(repo)
        self.programmes = Programmes(repo, self.evidence)
        self.issuer = issuer_for(private_key, self.config.org_name, self.config.org_url)
        self._caught_up = False
        self._status_lists: dict[tuple[int, str, tuple[int, ...]], dict[str, Any]] = {}

    @property
    def base_url(self) -> str:
        """The configured public base URL (the issuer, verify and achievement URLs)."""
        if not self.config.public_base_url:
            raise CertificateError("no public base URL configured (SHIFT_PUBLIC_BASE_URL)")
        return self.config.public_base_url

    def on_stored(self, events: list[dict[str, Any]]) -> list[CertificateRecord]:
        """Push hook: put back certificates a tablet offered again after a restore, then
        issue and deliver certificates for the completions among the events one push newly
        stored. Returns the new certificates."""
        for event in events:
            if event.get("type") == DELIVERED and event.get("device") == SERVER_DEVICE:
                self.recover(event)
        if not self._caught_up:  # first push of this process: also what a crash left over
            self._caught_up = True
            return self.catch_up()
        triggers = [e for e in events if e.get("type") in TRIGGERS]
        pairs = pairs_of(events, PROGRAMME_TRIGGERS)
        if not triggers and not pairs:
            return []
        issued = self._issue_all(triggers, self.base_url)
        issued += issue_programmes(self, self.programmes, pairs, self.base_url)
        self.deliver_pending()
        return issued

    def catch_up(self) -> list[CertificateRecord]:
        """Judge every stored completion after the scan cursor (start-up recovery), then
        deliver what is undelivered. Safe to run in several processes at once."""
        base = self.base_url
        issued: list[CertificateRecord] = []
        cursor = self.repo.scan_cursor(CURSOR)
        while page := self.repo.scan_events(cursor, 500, SCANNED):
            events = [json.loads(ev.content) for ev in page]
            issued += self._issue_all([e for e in events if e.get("type") in TRIGGERS], base)
            issued += issue_programmes(self, self.programmes,
                                       pairs_of(events, PROGRAMME_TRIGGERS), base)
            cursor = page[-1].seq
            self.repo.advance_scan_cursor(CURSOR, cursor)
        self.deliver_pending()
        return issued

    def _issue_all(self, events: list[dict[str, Any]], base: str) -> list[CertificateRecord]:
        issued = []
        judged: set[tuple[Any, Any, Any]] = set()
        completed = self._completed(events)
        for event in events:
            course = (event.get("learner"), event.get("pack"), (event.get("ref") or {}).get("course"))
            if course in judged:          # one push may carry many answers of one course
                continue
            judged.add(course)
            if event.get("type") != COMPLETED and _is_key(course) and course not in completed:
                log.debug("certificate not issued for event %s: %s: no course.completed "
                          "stored", event.get("id"), NO_COMPLETION, extra={"reason": NO_COMPLETION})
                continue
            try:
                record = self.issue_for(event, base)
            except NotIssued as exc:
                quiet = exc.reason == NO_COMPLETION and event.get("type") != COMPLETED
                log.log(logging.DEBUG if quiet else logging.WARNING,
                        "certificate not issued for event %s: %s", event.get("id"), exc,
                        extra={"reason": exc.reason})
                continue
            except (CertificateError, EventError, ValueError, KeyError) as exc:
                log.warning("certificate not issued for event %s: %s", event.get("id"), exc)
                continue
            if record is not None:
                issued.append(record)
        return issued

    def _completed(self, events: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        """The courses of `events` with a stored completion, from the report aggregates
        (one query): a submission or an observation of a course never completed is
        answered `no_completion` without folding the learner's whole history — the
        verdict would say the same (app/core/learning/verify.py)."""
        keys = [(e.get("learner"), e.get("pack"), (e.get("ref") or {}).get("course"))
                for e in events if e.get("type") != COMPLETED]
        return self.repo.completed_courses(k for k in keys if _is_key(k))

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

    def issue_for(self, event: dict[str, Any], base_url: str) -> CertificateRecord | None:
        """Judge the course of one stored event and issue its certificate. None if the
        learner already has one; NotIssued (with the reason code) when the server's
        records do not show the course passed."""
        course_id = (event.get("ref") or {}).get("course")
        pack_id = event.get("pack")
        learner_id = event.get("learner")
        learner = self.repo.get_learner(learner_id) if isinstance(learner_id, str) else None
        if learner is None or not isinstance(course_id, str) or not isinstance(pack_id, str):
            raise NotIssued("unknown_learner", f"event {event.get('id')}: unknown learner, "
                            "pack or course")
        if self.repo.certificate_exists(learner.id, pack_id, course_id):
            return None
        judged = self.evidence.verdict(learner, pack_id, course_id)
        verdict = judged.verdict
        if not verdict.ok:
            raise NotIssued(verdict.code, f"{pack_id}/{course_id} of learner {learner.id}: "
                            f"{verdict.detail}")
        assert verdict.pack_version is not None and verdict.score is not None
        found = self.repo.get_pack_version(pack_id, verdict.pack_version)
        if found is None:
            raise NotIssued("not_published", f"pack {pack_id} v{verdict.pack_version} is gone")
        achievement = course_achievement(json.loads(found.manifest), course_id,
                                         learner.language)

        def make(cid: str, now: datetime, number: int, index: int) -> CertificateRecord:
            assert verdict.pack_version is not None and verdict.score is not None
            credential = issue_credential(
                self.private_key, credential_id=cid, issuer=self.issuer,
                learner=Learner(learner.id, learner.display_name, learner.language),
                achievement=achievement, public_base_url=base_url, valid_from=now,
                awarded_at=judged.completion_received_at, score=verdict.score,
                status=status_entry(status_list_url(base_url, number), index))
            return CertificateRecord(
                id=cid, learner_id=learner.id, pack_id=pack_id,
                pack_version=verdict.pack_version, course_id=course_id,
                facility_id=learner.facility_id, language=achievement.language,
                issued_at=format_at(now), source_event=str(verdict.completion),
                key_id=key_id(self.private_key.public_key()), credential=credential,
                status_list=number, status_index=index)
        record = self.store_new(make, learner.id, pack_id, course_id)
        if record is not None:
            log.info("certificate issued", extra={"certificate": record.id,
                                                  "course": course_id, "score": verdict.score})
        return record

    def store_new(self, make: Callable[[str, datetime, int, int], CertificateRecord],
                  learner_id: str, pack_id: str, course_id: str) -> CertificateRecord | None:
        """Store the record ``make(id, now, status list, index)`` builds, at a random free
        place of the current revocation list; None when another process stored the
        learner's certificate for ``course_id`` a moment ago; NotIssued ("erased") when
        the learner's record was erased while the course was judged."""
        now = now_utc().replace(microsecond=0)
        for _ in range(STATUS_TRIES):
            number = 1 + self.repo.count_certificates() // STATUS_FILL
            record = make(str(uuid.uuid4()), now, number, secrets.randbelow(STATUS_LIST_BITS))
            try:
                if self.repo.insert_certificate(record):
                    return record
            except ErasedError as exc:
                raise NotIssued("erased", str(exc)) from None
            if self.repo.certificate_exists(learner_id, pack_id, course_id):
                return None      # another process issued it a moment ago
            # else: the status place was taken a moment ago; draw another
        raise CertificateError(f"no free place in status list after {STATUS_TRIES} tries")

    def status_list(self, number: int, base_url: str) -> dict[str, Any] | None:
        """The signed BitstringStatusListCredential ``/status/{number}`` (None: no such
        list). Read from the database on every request, so a revocation shows at the next
        fetch; signed again only when its content changed (a public URL must not be a
        lever for CPU load), with ``validFrom`` = when this content was first served."""
        if not 1 <= number <= self.repo.max_status_list():
            return None
        revoked = tuple(self.repo.revoked_status_indexes(number))
        key = (number, base_url, revoked)
        cached = self._status_lists.get(key)
        if cached is not None:
            return cached
        now = now_utc().replace(microsecond=0)
        unsigned = status_list_credential(
            list_url=status_list_url(base_url, number), issuer_id=self.issuer.id,
            valid_from=now.strftime("%Y-%m-%dT%H:%M:%SZ"), revoked=revoked)
        signed = sign_credential(unsigned, self.private_key, created=now)
        while len(self._status_lists) >= STATUS_CACHE:
            self._status_lists.pop(next(iter(self._status_lists)))
        self._status_lists[key] = signed
        return signed

    def recover(self, event: dict[str, Any]) -> CertificateRecord | None:
        """Store again a certificate this server issued, from the ``certificate.received``
        event a tablet offered back (see the module docstring); None when it is already
        known or is not a genuine certificate of this server for that learner + course
        (logged)."""
        try:
            record = self._recovered_record(event)
        except (CertificateError, EventError, KeyError, TypeError, ValueError) as exc:
            log.warning("certificate not recovered from event %s: %s", event.get("id"), exc)
            return None
        try:
            if record is None or not self.repo.insert_certificate(record):
                return None
        except ErasedError as exc:
            log.warning("certificate not recovered from event %s: %s", event.get("id"), exc)
            return None
        log.info("certificate recovered", extra={"certificate": record.id})
        return record

    def is_own_event(self, event: dict[str, Any]) -> bool:
        """True when ``event`` is exactly a ``certificate.received`` this server made: the
        one it delivers for a certificate it holds, or (after a restore from a backup) a
        genuine certificate of this server that ``recover`` can put back. Anything else a
        device pushes as a server event is refused by the push service."""
        if event.get("type") != DELIVERED or event.get("device") != SERVER_DEVICE:
            return False
        try:
            cid = (event.get("ref") or {}).get("certificate")
            known = self.repo.get_certificate(cid) if isinstance(cid, str) else None
            if known is not None:
                return content_of(certificate_event(known)) == content_of(event)
            return self._recovered_record(event) is not None
        except (CertificateError, EventError, KeyError, TypeError, ValueError) as exc:
            log.warning("pushed certificate event %s refused: %s", event.get("id"), exc)
            return False

    def _recovered_record(self, event: dict[str, Any]) -> CertificateRecord | None:
        ref, data = event.get("ref") or {}, event.get("data") or {}
        credential = data["credential"]
        cid = bare_id(credential["id"])
        if ref.get("certificate") != cid:
            raise CertificateError("ref.certificate is not the credential's id")
        if self.repo.get_certificate(cid) is not None:
            return None
        result = verify_credential(credential, [self.private_key.public_key()])
        if not result.genuine:
            raise CertificateError(f"not signed by this server's key ({result.status.value})")
        learner = self.repo.get_learner(event["learner"])
        if learner is None:
            raise CertificateError(f"learner {event['learner']} is not on this server")
        subject = credential["credentialSubject"]
        if subject.get("id", f"urn:uuid:{learner.id}") != f"urn:uuid:{learner.id}":
            raise CertificateError("the credential names another learner")
        achievement = subject["achievement"]
        pack_id = event["pack"]
        course_id = ref["course"] if "course" in ref else stored_course_id(ref["programme"])
        if not str(achievement["id"]).endswith(achievement_suffix(pack_id, course_id)):
            raise CertificateError("the credential is for another course")
        place = self._status_place(credential)
        record = CertificateRecord(
            id=cid, learner_id=learner.id, pack_id=pack_id,
            pack_version=int(event["pack_version"]), course_id=course_id,
            facility_id=learner.facility_id,
            language=str(achievement.get("inLanguage") or learner.language),
            issued_at=format_at(datetime.fromisoformat(credential["validFrom"])),
            source_event=str(event["id"]),
            key_id=key_id(self.private_key.public_key()), credential=credential,
            delivered_at=now_iso(), status_list=place[0], status_index=place[1])
        if content_of(certificate_event(record)) != content_of(event):
            raise CertificateError("the event is not the one this server made for it")
        return record

    @staticmethod
    def _status_place(credential: dict[str, Any]) -> tuple[int | None, int | None]:
        """The revocation list place a recovered credential already carries (None for a
        certificate issued before status lists existed)."""
        entry = entry_of(credential)
        if entry is None:
            return None, None
        url, index = entry
        number = url.rstrip("/").rsplit("/", 1)[-1]
        if not number.isdigit():
            raise CertificateError("credentialStatus: not one of this server's status lists")
        return int(number), index

    def deliver(self, record: CertificateRecord) -> None:
        """Store the certificate's event in the learner's facility *now* — the one their
        tablets pull from (the record keeps the facility it was issued in) — and mark
        it delivered. A move between the look-up and the insert is found under the
        insert's lock (`other_facility`): looked up again."""
        event = validate_event(certificate_event(record))
        content = content_of(event).decode("utf-8")
        for _ in range(DELIVERY_TRIES):
            learner = self.repo.get_learner(record.learner_id)
            now = now_iso()
            status = self.repo.insert_events([EventRow(
                id=event["id"], learner_id=record.learner_id, device_id=SERVER_DEVICE,
                facility_id=learner.facility_id if learner else record.facility_id,
                type=event["type"], at=event["at"], content=content, received_at=now,
                received_from=SERVER_DEVICE)])
            if status.get(event["id"]) != "other_facility":
                self.repo.mark_certificate_delivered(record.id, now)
                return
        raise CertificateError(f"certificate {record.id}: its learner moved during each of "
                               f"{DELIVERY_TRIES} deliveries; tried again later")
