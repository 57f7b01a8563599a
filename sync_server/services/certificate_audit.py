"""Find (and revoke) issued certificates the server cannot stand behind.

Servers before issue 13 issued a certificate for any pushed ``course.completed``, with the
score the device claimed. ``audit`` judges every unrevoked certificate again with today's
rule (``Evidence.verdict``: the learner's stored events, quiz answers re-scored against a
pack version published to their facility and role) and lists those that fail it, with the
reason; ``apply=True`` revokes them (reason ``not verified by the server: <code>``), after
which ``/verify`` says revoked and tablets show it after their next sync (only for
certificates that carry a status list entry; older ones are revoked on /verify only).

``python -m sync_server certificate audit`` (dry run) / ``… audit --apply``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from app.core.clock import now_iso
from sync_server.certificates import score_text
from sync_server.db.repository import CertificateRecord, Repository
from sync_server.programme_certificates import programme_of
from sync_server.services import audit
from sync_server.services.evidence import Evidence
from sync_server.services.programmes import Programmes

REASON_PREFIX = "not verified by the server"
PAGE = 1_000_000     # list_certificates limit: every certificate


@dataclass(frozen=True)
class Finding:
    certificate: CertificateRecord
    code: str               # app.core.learning.verify code, or unknown_learner
    detail: str
    #: the score on the credential (as issued) and the server's own, when they differ
    claimed_score: str | None = None
    server_score: str | None = None

    @property
    def verified(self) -> bool:
        return self.code == "verified"


def _claimed(record: CertificateRecord) -> str | None:
    results = (record.credential.get("credentialSubject") or {}).get("result") or []
    values = [r.get("value") for r in results if isinstance(r, dict)]
    return str(values[0]) if values else None


def judge(repo: Repository, evidence: Evidence | None = None) -> Iterator[Finding]:
    """Every unrevoked certificate with the server's verdict, oldest first."""
    evidence = evidence or Evidence(repo)
    records = sorted(repo.list_certificates(limit=PAGE), key=lambda r: (r.issued_at, r.id))
    for record in records:
        if record.revoked:
            continue
        learner = repo.get_learner(record.learner_id)
        if learner is None:
            yield Finding(record, "unknown_learner", "the learner is not on this server")
            continue
        programme = programme_of(record.course_id)
        if programme is not None:     # a programme certificate: its parts, judged again
            judged = Programmes(repo, evidence).verdict(learner, record.pack_id, programme)
            yield Finding(record, judged.code, judged.detail)
            continue
        verdict = evidence.verdict(learner, record.pack_id, record.course_id).verdict
        claimed = _claimed(record)
        ours = score_text(verdict.score) if verdict.score is not None else None
        yield Finding(record, verdict.code, verdict.detail, claimed,
                      ours if ours != claimed else None)


def revoke_unverified(*, repo: Repository, findings: list[Finding], by: str) -> list[str]:
    """Revoke the certificates of the findings that failed; their ids."""
    now = now_iso()
    done = []
    for finding in findings:
        if finding.verified:
            continue
        reason = f"{REASON_PREFIX}: {finding.code}"
        if repo.revoke_certificate(finding.certificate.id, by=by, reason=reason, now=now,
                                   audit=audit.entry(by, "certificate.revoke",
                                                     target=finding.certificate.id,
                                                     learner_id=finding.certificate.learner_id,
                                                     reason=reason)):
            done.append(finding.certificate.id)
    return done
