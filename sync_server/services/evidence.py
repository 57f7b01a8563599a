"""What the server knows about a learner's course: its own copy of their events, and the
courses of the pack versions it published to their facility and role.

``Evidence.verdict`` is what issuing (``issuing.py``) and the audit command
(``audit.py``) ask before a certificate exists: ``app.core.learning.verify.verify_course``
over the learner's stored events, where a pack version counts only if a publication of
that version reaches the learner's facility and role. Manifests never change once
uploaded (a version is uploaded once), so parsed catalogues are cached per version.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from app.core.errors import PackError
from app.core.learning.catalog import Catalog, CourseInfo
from app.core.learning.verify import CourseVerdict, verify_course
from app.core.practice.rules import (
    Mentor,
    ObservationCheck,
    TaskLookup,
    judge_observations,
    observed_tasks,
)
from app.core.practice.tasks import PracticeTask, required_observations, tasks_of
from sync_server.db.repository import Learner, Repository

#: the events the verdict reads (others cannot change it)
EVIDENCE_TYPES = ("lesson.opened", "card.viewed", "quiz.started", "answer.given",
                  "quiz.submitted", "course.completed")
CATALOG_CACHE = 64
#: a course passed but fewer distinct tasks validly observed than its [certificate] asks
OBSERVATIONS_MISSING = "observations_missing"
PRACTICE_TYPES = ("practice.observed",)


@dataclass(frozen=True)
class Judged:
    """A verdict and the server's receipt time of every event it read (by id)."""
    verdict: CourseVerdict
    received_at: dict[str, str]

    @property
    def completion_received_at(self) -> str | None:
        return self.received_at.get(self.verdict.completion or "")


class Evidence:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._catalogs: dict[tuple[str, int], Catalog | None] = {}
        self._manifests: dict[tuple[str, int], dict[str, Any] | None] = {}
        self._lock = threading.Lock()

    def catalog(self, pack_id: str, version: int) -> Catalog | None:
        """The catalogue of one uploaded pack version (None: not on this server)."""
        key = (pack_id, version)
        with self._lock:
            if key in self._catalogs:
                return self._catalogs[key]
        found = self.repo.get_pack_version(pack_id, version)
        catalog = None
        if found is not None:
            try:
                catalog = Catalog.from_manifests([json.loads(found.manifest)])
            except (PackError, ValueError):
                catalog = None            # a manifest the engine cannot read proves nothing
        with self._lock:
            if len(self._catalogs) >= CATALOG_CACHE:
                self._catalogs.pop(next(iter(self._catalogs)))
            self._catalogs[key] = catalog
        return catalog

    def manifest(self, pack_id: str, version: int) -> dict[str, Any] | None:
        """The parsed manifest of one uploaded pack version (cached; None: unknown)."""
        key = (pack_id, version)
        with self._lock:
            if key in self._manifests:
                return self._manifests[key]
        found = self.repo.get_pack_version(pack_id, version)
        manifest = None
        if found is not None:
            try:
                manifest = json.loads(found.manifest)
            except ValueError:
                manifest = None
        with self._lock:
            if len(self._manifests) >= CATALOG_CACHE:
                self._manifests.pop(next(iter(self._manifests)))
            self._manifests[key] = manifest if isinstance(manifest, dict) else None
        return self._manifests[key]

    def published_versions(self, learner: Learner, pack_id: str) -> set[int]:
        """Versions of `pack_id` a publication ever sent to the learner's facility and
        role (an empty list in a publication means everyone)."""
        return {p.version for p in self.repo.list_publications()
                if p.pack_id == pack_id and p.reaches(learner.facility_id)
                and (not p.roles or learner.role in p.roles)}

    def lookup(self, learner: Learner, pack_id: str, course_id: str
               ) -> Callable[[Any], CourseInfo | None]:
        versions = self.published_versions(learner, pack_id)

        def course_in(version: Any) -> CourseInfo | None:
            if type(version) is not int or version not in versions:
                return None
            catalog = self.catalog(pack_id, version)
            return catalog.courses.get((pack_id, course_id)) if catalog is not None else None
        return course_in

    def verdict(self, learner: Learner, pack_id: str, course_id: str) -> Judged:
        stored = self.repo.learner_events(learner.id, EVIDENCE_TYPES)
        events, received = [], {}
        for row in stored:
            try:
                event = json.loads(row.content)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("pack") == pack_id:
                events.append(event)
                received[str(event.get("id"))] = row.received_at
        verdict = verify_course(events, learner=learner.id, pack=pack_id, course=course_id,
                                lookup=self.lookup(learner, pack_id, course_id))
        if verdict.ok and verdict.pack_version is not None:
            verdict = self._with_practice(verdict, learner, pack_id, course_id)
        return Judged(verdict, received)

    # -- observed practice (app/core/practice/rules.py) ------------------------------------
    def _with_practice(self, verdict: CourseVerdict, learner: Learner, pack_id: str,
                       course_id: str) -> CourseVerdict:
        """A passed course whose version asks for k observed tasks needs k distinct tasks
        of that course validly observed, else ``observations_missing``."""
        assert verdict.pack_version is not None
        manifest = self.manifest(pack_id, verdict.pack_version) or {}
        need = required_observations(manifest, course_id)
        if not need:
            return verdict
        done = observed_tasks(self.observations(learner, pack_id), [course_id])
        if len(done) >= need:
            return verdict
        return replace(verdict, code=OBSERVATIONS_MISSING, detail=(
            f"{len(done)} of the {need} workplace tasks the course asks for were validly "
            "observed by a mentor or trainer of the learner's facility"))

    def mentor(self, mentor_id: str) -> Mentor | None:
        found = self.repo.get_learner(mentor_id)
        return Mentor(found.id, found.role, found.facility_id) if found is not None else None

    def task_lookup(self, learner: Learner, pack_id: str) -> TaskLookup:
        """(version, course, task) → the task, only for versions published to the learner."""
        versions = self.published_versions(learner, pack_id)

        def task_in(version: Any, course: str, task: str) -> PracticeTask | None:
            if type(version) is not int or version not in versions:
                return None
            manifest = self.manifest(pack_id, version)
            return tasks_of(manifest).get((course, task)) if manifest else None
        return task_in

    def observations(self, learner: Learner, pack_id: str) -> list[ObservationCheck]:
        """Every ``practice.observed`` of the learner in the pack, judged by the server."""
        events = []
        for row in self.repo.learner_events(learner.id, PRACTICE_TYPES):
            try:
                events.append(json.loads(row.content))
            except ValueError:
                continue
        return judge_observations(events, learner=learner.id, pack=pack_id,
                                  facility=learner.facility_id, mentor_of=self.mentor,
                                  task_in=self.task_lookup(learner, pack_id))
