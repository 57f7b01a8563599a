"""Which courses count for whom: the publication scope of the dashboard and the facility
report (issue 21, docs/admin-guide.md "Dashboard").

A learner counts against a course only when the pack version their tablet is offered —
the newest version among the *active* (not withdrawn) publications reaching the learner's
facility and role, exactly what the device catalogue offers (services/pack_delivery.py)
— holds that course, and the course is meant for the learner's role (the course's
``roles``, else the pack's ``audience_roles``). A course never published to a facility
therefore never shows 0 % there, and a withdrawn publication stops counting at once.

Everything here reads the small tables (publications, pack manifests); manifests are
parsed once per content (a pack version's manifest never changes) and kept in a small
cache.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from sync_server.db.repository import Publication, Repository
from sync_server.services.stats import CourseInfo, GapModel, courses_of, gap_model

Group = tuple[str, str]            # facility id, role
CourseKey = tuple[str, str]        # pack id, course id
_CACHE_SIZE = 64


@dataclass(frozen=True)
class _Parsed:
    courses: tuple[CourseInfo, ...]
    manifest: dict[str, object]


_parsed: dict[bytes, _Parsed] = {}
_lock = threading.Lock()


def _parse(manifest: bytes) -> _Parsed:
    key = hashlib.sha256(manifest).digest()
    with _lock:
        hit = _parsed.get(key)
    if hit is not None:
        return hit
    data = json.loads(manifest)
    made = _Parsed(tuple(courses_of([data])), data)
    with _lock:
        if len(_parsed) >= _CACHE_SIZE:
            _parsed.pop(next(iter(_parsed)))
        _parsed[key] = made
    return made


def manifest_of(manifest: bytes) -> dict[str, object]:
    """A pack version's manifest, parsed once per content (this module's cache)."""
    return _parse(manifest).manifest


def offered(publications: Iterable[Publication], facility: str, role: str) -> dict[str, int]:
    """Pack id → the version a device of `facility` used by `role` is offered (the newest
    among the active publications reaching both; the catalogue's rule)."""
    best: dict[str, tuple[int, int]] = {}
    for pub in publications:
        if not pub.active or not pub.reaches(facility) or (pub.roles and role not in pub.roles):
            continue
        have = best.get(pub.pack_id)
        if have is None or (pub.version, pub.id) > have:
            best[pub.pack_id] = (pub.version, pub.id)
    return {pack: version for pack, (version, _) in best.items()}


@dataclass
class Scope:
    """The courses in scope for a set of (facility, role) groups."""

    courses: list[CourseInfo] = field(default_factory=list)        # in pack, manifest order
    groups: dict[CourseKey, list[Group]] = field(default_factory=dict)
    manifests: list[dict[str, object]] = field(default_factory=list)  # the versions offered

    def course(self, pack_id: str, course_id: str) -> CourseInfo | None:
        return next((c for c in self.courses
                     if (c.pack_id, c.course_id) == (pack_id, course_id)), None)

    def gap_model(self) -> GapModel:
        return gap_model(self.manifests)


def course_scope(*, repo: Repository, groups: Iterable[Group],
                 publications: list[Publication] | None = None) -> Scope:
    """The courses each group counts against, and for each course the groups it counts
    for (see the module docstring); `publications` when the caller has read them."""
    if publications is None:
        publications = repo.list_publications()
    loaded: dict[tuple[str, int], _Parsed | None] = {}
    scope = Scope()
    titles: dict[CourseKey, tuple[int, CourseInfo]] = {}
    for facility, role in sorted(set(groups)):
        for pack_id, version in sorted(offered(publications, facility, role).items()):
            if (pack_id, version) not in loaded:
                pack = repo.get_pack_version(pack_id, version)
                loaded[(pack_id, version)] = _parse(pack.manifest) if pack else None
                if pack:
                    scope.manifests.append(_parse(pack.manifest).manifest)
            parsed = loaded[(pack_id, version)]
            for course in parsed.courses if parsed else ():
                if course.roles and role not in course.roles:
                    continue
                key = (course.pack_id, course.course_id)
                scope.groups.setdefault(key, []).append((facility, role))
                if key not in titles or version > titles[key][0]:
                    titles[key] = (version, course)
    order = {key: i for i, key in enumerate(
        (c.pack_id, c.course_id) for _, p in sorted(loaded.items()) if p for c in p.courses)}
    scope.courses = [course for _, course in sorted(
        titles.values(), key=lambda vc: (vc[1].pack_id, order.get(
            (vc[1].pack_id, vc[1].course_id), 0)))]
    return scope
