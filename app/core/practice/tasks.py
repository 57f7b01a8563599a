"""The workplace tasks, observed-task requirements and programmes of a manifest.

The manifest was checked by ``app.core.packs.practice.check_practice`` (devices and
server verify every manifest); these readers only turn it into typed records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    id: str
    text: dict[str, str]


@dataclass(frozen=True, slots=True)
class PracticeTask:
    pack: str
    pack_version: int
    course: str
    id: str
    title: dict[str, str]
    lesson: str | None
    checklist: tuple[ChecklistItem, ...]

    @property
    def item_ids(self) -> frozenset[str]:
        return frozenset(i.id for i in self.checklist)


@dataclass(frozen=True, slots=True)
class Programme:
    pack: str
    pack_version: int
    id: str
    title: dict[str, str]
    description: dict[str, str]
    courses: tuple[str, ...]
    profile: str | None
    observed_tasks: int


def tasks_of(manifest: dict[str, Any]) -> dict[tuple[str, str], PracticeTask]:
    """(course, task) → task, in course and author order."""
    out: dict[tuple[str, str], PracticeTask] = {}
    pack, version = str(manifest["id"]), int(manifest["version"])
    for course in manifest.get("courses", []):
        for task in course.get("tasks", []):
            out[(course["id"], task["id"])] = PracticeTask(
                pack=pack, pack_version=version, course=course["id"], id=task["id"],
                title=dict(task["title"]), lesson=task.get("lesson"),
                checklist=tuple(ChecklistItem(i["id"], dict(i["text"]))
                                for i in task["checklist"]))
    return out


def required_observations(manifest: dict[str, Any], course: str) -> int:
    """How many distinct tasks of ``course`` must be observed before its certificate."""
    for c in manifest.get("courses", []):
        if c.get("id") == course:
            return int((c.get("certificate") or {}).get("observed_tasks") or 0)
    return 0


def programmes_of(manifest: dict[str, Any]) -> dict[str, Programme]:
    pack, version = str(manifest["id"]), int(manifest["version"])
    return {p["id"]: Programme(pack=pack, pack_version=version, id=p["id"],
                               title=dict(p["title"]), description=dict(p["description"]),
                               courses=tuple(p["courses"]), profile=p.get("profile"),
                               observed_tasks=int(p.get("observed_tasks") or 0))
            for p in manifest.get("programmes", [])}
