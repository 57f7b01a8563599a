"""Erasure of a learner (GDPR Art. 17), from the JSON API, the console and the CLI.

What happens, in one database transaction (db/erasure.py): the learner's events are
folded into anonymous per-course counts (services/summary.py) and deleted; their
certificates are revoked and the signed credential (it holds the name) replaced by
nothing — the row stays so the revocation status list keeps its bit and /verify answers
"revoked" without personal data; the profile is deleted; a tombstone (learner id + time)
is added; the audit entry is written. Tablets get the tombstone in their next pull and
purge the learner (app/core/store/erasure.py); a push of that learner's profile or
events is refused from now on (`erased`). Why delete rather than anonymise the events:
an event stream of one person stays linkable to them by its pattern even without the
id, so only counts are kept (docs/privacy.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core import profile_rules
from app.core.clock import now_iso
from app.core.errors import ProfileFieldError
from sync_server.db.repository import Repository
from sync_server.errors import NotFoundError, ServerError
from sync_server.services import audit, summary
from sync_server.services.queries import Queries


@dataclass(frozen=True)
class Erasure:
    learner_id: str
    events: int           # events deleted (their counts are kept in the summary)
    certificates: int     # certificates revoked and emptied


def check_learner_id(value: str) -> str:
    """The canonical learner id (ServerError for anything that is not one)."""
    try:
        return profile_rules.learner_id(value)
    except ProfileFieldError as exc:
        raise ServerError(str(exc)) from None


def erase_learner(*, repo: Repository, learner_id: str, by: str,
                  queries: Queries | None = None) -> Erasure:
    """Erase a learner (module docstring). ServerError for a malformed id; NotFoundError
    for an unknown learner and for one erased already (nothing changes the second time)."""
    lid = check_learner_id(learner_id)
    if repo.erased_among([lid]):
        raise NotFoundError(f"learner {lid} was erased already")
    learner = repo.get_learner(lid)
    if learner is None:
        raise NotFoundError(f"learner {lid!r} does not exist")
    counts = repo.erase_learner(lid, now_iso(), fold=summary.fold, audit=audit.entry(
        by, "learner.erase", target=lid, learner_id=lid, facility=learner.facility_id))
    if queries is not None:
        queries.forget()
    return Erasure(lid, counts.events, counts.certificates)
