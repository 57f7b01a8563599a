"""Does the server's record show a learner finished a programme (pack.toml
``[[programmes]]``, docs/certificates.md "Programme certificates")?

All parts are judged from the server's own records, whatever tablet each came from:

* every course of the programme has an unrevoked **course certificate** of this server
  (which already stands for the server's re-scoring, and for the course's own observed
  tasks when it asks for them);
* when the programme names a profile: a **completed self-assessment** of it in the
  learner's stored events, with every task rated that the profile expects of the
  learner's role (as the server knows the role; all tasks when none is expected);
* at least ``observed_tasks`` **distinct workplace tasks** of its courses validly observed
  (app/core/practice/rules.py, as the server re-checks them).

The programme is read from the newest version of the pack published to the learner's
facility and role that defines it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.core.assessment.state import AssessmentState
from app.core.practice.rules import observed_tasks
from app.core.practice.tasks import Programme, programmes_of
from sync_server.db.repository import Learner, Repository
from sync_server.services.evidence import OBSERVATIONS_MISSING, Evidence

VERIFIED = "verified"
NOT_PUBLISHED = "not_published"
COURSES_MISSING = "courses_missing"
NO_SELF_ASSESSMENT = "no_self_assessment"
#: stored events that may complete a programme's last part
TRIGGERS = ("course.completed", "quiz.submitted", "practice.observed",
            "selfassessment.completed")
ASSESSMENT_TYPES = ("selfassessment.started", "selfassessment.rated",
                    "selfassessment.completed")


@dataclass(frozen=True)
class ProgrammeVerdict:
    code: str
    detail: str
    programme: Programme | None = None

    @property
    def ok(self) -> bool:
        return self.code == VERIFIED


class Programmes:
    def __init__(self, repo: Repository, evidence: Evidence) -> None:
        self.repo = repo
        self.evidence = evidence

    def published(self, learner: Learner, pack_id: str) -> dict[str, Programme]:
        """Programme id → the programme in the newest published version defining it."""
        out: dict[str, Programme] = {}
        for version in sorted(self.evidence.published_versions(learner, pack_id)):
            manifest = self.evidence.manifest(pack_id, version)
            if manifest is not None:
                out.update(programmes_of(manifest))
        return out

    def verdict(self, learner: Learner, pack_id: str, programme_id: str) -> ProgrammeVerdict:
        programme = self.published(learner, pack_id).get(programme_id)
        if programme is None:
            return ProgrammeVerdict(NOT_PUBLISHED, f"programme {pack_id}/{programme_id} was "
                                    "never published to the learner's facility and role")
        held = {(c.pack_id, c.course_id) for c in
                self.repo.list_certificates(learner_id=learner.id, limit=100_000)
                if not c.revoked}
        missing = [c for c in programme.courses if (pack_id, c) not in held]
        if missing:
            return ProgrammeVerdict(COURSES_MISSING, "no course certificate yet for "
                                    + ", ".join(missing), programme)
        if programme.profile and not self._assessed(learner, programme):
            return ProgrammeVerdict(NO_SELF_ASSESSMENT, f"no completed self-assessment of "
                                    f"profile {programme.profile}", programme)
        done = observed_tasks(self.evidence.observations(learner, pack_id), programme.courses)
        if len(done) < programme.observed_tasks:
            return ProgrammeVerdict(OBSERVATIONS_MISSING, f"{len(done)} of "
                                    f"{programme.observed_tasks} workplace tasks validly "
                                    "observed", programme)
        return ProgrammeVerdict(VERIFIED, "every part done", programme)

    def _assessed(self, learner: Learner, programme: Programme) -> bool:
        manifest = self.evidence.manifest(programme.pack, programme.pack_version) or {}
        profile = next((p for p in manifest.get("profiles", [])
                        if isinstance(p, dict) and p.get("id") == programme.profile), None)
        if profile is None:
            return False
        every = [t for d in profile.get("duties", []) for t in d.get("tasks", [])]
        expected = [t["id"] for t in every if (t.get("expected") or {}).get(learner.role)
                    is not None] or [t["id"] for t in every]
        state = AssessmentState(learner.id)
        for row in self.repo.learner_events(learner.id, ASSESSMENT_TYPES):
            try:
                state.apply(json.loads(row.content))
            except ValueError:
                continue
        return any(record.completed is not None and set(expected) <= set(record.ratings)
                   for record in state.of_profile(programme.pack, str(programme.profile)))
