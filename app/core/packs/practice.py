"""Workplace tasks, the observed-task requirement and programmes of a pack
(docs/pack-format.md: ``[[tasks]]``, ``[certificate]``, ``[[programmes]]``).

Two readers, one set of rules:

* the **source** readers (``read_course_practice``, ``read_programmes``) turn course.toml
  and pack.toml tables into manifest entries, each error naming file, line and field;
* ``check_practice`` checks those manifest entries — the builder runs it on the manifest
  it has just made, and every device and the server run it (from ``check_manifest``) on
  every manifest they verify, so both sides accept exactly the same packs.

The bounds (``MAX_TASKS`` …) keep what a mentor's screen lists and what an event names
small; they are the same on both sides because they live here.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import PackVerifyError
from app.core.packs.fields import ID_RE, Fields, unique_ids

MAX_TASKS = 20               # workplace tasks per course
MAX_CHECKLIST = 8            # checklist items per task (and per practice.observed event)
MAX_PROGRAMMES = 10          # programmes per pack
MAX_PROGRAMME_COURSES = 20   # courses per programme


# -- source (course.toml, pack.toml) -----------------------------------------------------
def read_course_practice(f: Fields, lessons: list[str]) -> dict[str, Any]:
    """``[[tasks]]`` and ``[certificate]`` of one course.toml → the manifest members
    ``tasks`` / ``certificate`` (absent when not written)."""
    out: dict[str, Any] = {}
    if f.has("tasks"):
        tables = f.tables("tasks")
        if len(tables) > MAX_TASKS:
            raise f.error("tasks", f"at most {MAX_TASKS} tasks per course, got {len(tables)}")
        unique_ids(tables, "id")
        out["tasks"] = [_task(t, lessons) for t in tables]
    if f.has("certificate"):
        c = f.sub("certificate", f.table["certificate"])
        c.only(["observed_tasks"])
        k = c.integer("observed_tasks", lo=0, hi=MAX_TASKS)
        tasks = len(out.get("tasks", []))
        if k > tasks:
            raise c.error("observed_tasks", f"requires {k} observed tasks but the course "
                                            f"defines {tasks} ([[tasks]])")
        if k:
            out["certificate"] = {"observed_tasks": k}
    return out


def _task(t: Fields, lessons: list[str]) -> dict[str, Any]:
    t.only(["id", "title", "lesson", "checklist"])
    task: dict[str, Any] = {"id": t.ident("id"), "title": t.loc("title")}
    if t.has("lesson"):
        lesson = t.string("lesson")
        if lesson not in lessons:
            raise t.error("lesson", f"{lesson!r} is not a lesson of this course "
                                    f"({', '.join(lessons)})")
        task["lesson"] = lesson
    items = t.tables("checklist")
    if len(items) > MAX_CHECKLIST:
        raise t.error("checklist", f"at most {MAX_CHECKLIST} checklist items, got {len(items)}")
    unique_ids(items, "id")
    checklist = []
    for item in items:
        item.only(["id", "text"])
        checklist.append({"id": item.ident("id"), "text": item.loc("text")})
    task["checklist"] = checklist
    return task


def read_programmes(f: Fields, courses: list[dict[str, Any]], profiles: list[str]
                    ) -> list[dict[str, Any]]:
    """``[[programmes]]`` of pack.toml, checked against the pack's courses and profiles."""
    if not f.has("programmes"):
        return []
    tables = f.tables("programmes")
    if len(tables) > MAX_PROGRAMMES:
        raise f.error("programmes", f"at most {MAX_PROGRAMMES} programmes, got {len(tables)}")
    unique_ids(tables, "id")
    by_id = {c["id"]: c for c in courses}
    out = []
    for p in tables:
        p.only(["id", "title", "description", "courses", "profile", "observed_tasks"])
        programme: dict[str, Any] = {"id": p.ident("id"), "title": p.loc("title"),
                                     "description": p.loc("description")}
        listed = p.id_list("courses", nonempty=True)
        if len(listed) > MAX_PROGRAMME_COURSES:
            raise p.error("courses", f"at most {MAX_PROGRAMME_COURSES} courses")
        for cid in listed:
            if cid not in by_id:
                raise p.error("courses", f"{cid!r} is not a course of this pack")
        programme["courses"] = listed
        if p.has("profile"):
            profile = p.ident("profile")
            if profile not in profiles:
                raise p.error("profile", f"{profile!r} is not a profile of this pack "
                                         f"(profiles/<id>.toml: {', '.join(profiles) or 'none'})")
            programme["profile"] = profile
        available = sum(len(by_id[c].get("tasks", [])) for c in listed)
        k = p.integer("observed_tasks", required=False, default=0, lo=0,
                      hi=MAX_TASKS * MAX_PROGRAMME_COURSES)
        if k > available:
            raise p.error("observed_tasks", f"requires {k} observed tasks but its courses "
                                            f"define {available}")
        programme["observed_tasks"] = k
        out.append(programme)
    return out


# -- manifest (builder, devices, server) -----------------------------------------------------
def _fail(path: str, msg: str) -> PackVerifyError:
    return PackVerifyError(f"manifest field {path}: {msg}")


def _loc(v: Any, path: str) -> None:
    if not isinstance(v, dict) or not v or not all(
            isinstance(k, str) and isinstance(t, str) and t for k, t in v.items()):
        raise _fail(path, "must be an object of language → text")


def _id(v: Any, path: str) -> str:
    if not isinstance(v, str) or not ID_RE.match(v):
        raise _fail(path, f"invalid id {v!r}")
    return v


def _count(v: Any, path: str, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
        raise _fail(path, f"must be an integer 0–{hi}")
    return v


def _entry(value: Any, path: str, members: set[str], seen: set[str], what: str) -> str:
    """A task or programme: an object of known `members` whose id is new in `seen`
    (added); its id."""
    if not isinstance(value, dict):
        raise _fail(path, "must be an object")
    unknown = set(value) - members
    if unknown:
        raise _fail(path, f"unknown member {sorted(unknown)[0]!r}")
    ident = _id(value.get("id"), f"{path}.id")
    if ident in seen:
        raise _fail(f"{path}.id", f"duplicate {what} id {ident!r}")
    seen.add(ident)
    return ident


def check_course_practice(course: dict[str, Any], path: str) -> set[str]:
    """A course's ``tasks`` and ``certificate`` members; returns its task ids."""
    ids: set[str] = set()
    tasks = course.get("tasks", [])
    if not isinstance(tasks, list) or len(tasks) > MAX_TASKS:
        raise _fail(f"{path}.tasks", f"must be a list of at most {MAX_TASKS} tasks")
    lessons = {x.get("id") for x in course.get("lessons", []) if isinstance(x, dict)}
    for i, task in enumerate(tasks):
        tp = f"{path}.tasks[{i}]"
        _entry(task, tp, {"id", "title", "lesson", "checklist"}, ids, "task")
        _loc(task.get("title"), f"{tp}.title")
        if "lesson" in task and task["lesson"] not in lessons:
            raise _fail(f"{tp}.lesson", f"not a lesson of the course: {task['lesson']!r}")
        checklist = task.get("checklist")
        if not isinstance(checklist, list) or not 1 <= len(checklist) <= MAX_CHECKLIST:
            raise _fail(f"{tp}.checklist", f"must be a list of 1–{MAX_CHECKLIST} items")
        seen: set[str] = set()
        for j, item in enumerate(checklist):
            ip = f"{tp}.checklist[{j}]"
            if not isinstance(item, dict) or set(item) != {"id", "text"}:
                raise _fail(ip, "must be an object with id and text")
            iid = _id(item["id"], f"{ip}.id")
            if iid in seen:
                raise _fail(f"{ip}.id", f"duplicate checklist item {iid!r}")
            seen.add(iid)
            _loc(item["text"], f"{ip}.text")
    if "certificate" in course:
        cert = course["certificate"]
        if not isinstance(cert, dict) or set(cert) != {"observed_tasks"}:
            raise _fail(f"{path}.certificate", "must be an object with observed_tasks")
        k = _count(cert["observed_tasks"], f"{path}.certificate.observed_tasks", MAX_TASKS)
        if not 1 <= k <= len(ids):
            raise _fail(f"{path}.certificate.observed_tasks",
                        f"must be 1–{len(ids)} (the course's tasks)")
    return ids


def check_practice(manifest: dict[str, Any]) -> None:
    """Every course's tasks and requirement, then the pack's ``programmes``."""
    courses = manifest.get("courses")
    if not isinstance(courses, list):
        raise _fail("courses", "must be a list")
    tasks_of: dict[str, int] = {}
    for i, course in enumerate(courses):
        if not isinstance(course, dict):
            raise _fail(f"courses[{i}]", "must be an object")
        tasks_of[str(course.get("id"))] = len(check_course_practice(course, f"courses[{i}]"))
    profiles = {p.get("id") for p in manifest.get("profiles", []) if isinstance(p, dict)}
    programmes = manifest.get("programmes", [])
    if not isinstance(programmes, list) or len(programmes) > MAX_PROGRAMMES:
        raise _fail("programmes", f"must be a list of at most {MAX_PROGRAMMES} programmes")
    seen: set[str] = set()
    for i, prog in enumerate(programmes):
        pp = f"programmes[{i}]"
        _entry(prog, pp, {"id", "title", "description", "courses", "profile",
                          "observed_tasks"}, seen, "programme")
        _loc(prog.get("title"), f"{pp}.title")
        _loc(prog.get("description"), f"{pp}.description")
        listed = prog.get("courses")
        if not isinstance(listed, list) or not 1 <= len(listed) <= MAX_PROGRAMME_COURSES \
                or len(set(map(str, listed))) != len(listed):
            raise _fail(f"{pp}.courses", f"must be 1–{MAX_PROGRAMME_COURSES} distinct course ids")
        for cid in listed:
            if not isinstance(cid, str) or cid not in tasks_of:
                raise _fail(f"{pp}.courses", f"not a course of the pack: {cid!r}")
        if "profile" in prog and prog["profile"] not in profiles:
            raise _fail(f"{pp}.profile", f"not a profile of the pack: {prog['profile']!r}")
        k = _count(prog.get("observed_tasks"), f"{pp}.observed_tasks",
                   MAX_TASKS * MAX_PROGRAMME_COURSES)
        if k > sum(tasks_of[c] for c in listed):
            raise _fail(f"{pp}.observed_tasks", "more than the tasks of its courses")


def add_programmes(manifest: dict[str, Any], pack_toml: Fields) -> None:
    """The builder's last step: ``[[programmes]]`` of pack.toml into the manifest (after
    its courses and profiles are read), then the same ``check_practice`` devices run."""
    programmes = read_programmes(pack_toml, manifest["courses"],
                                 [p["id"] for p in manifest.get("profiles", [])])
    if programmes:
        manifest["programmes"] = programmes
    check_practice(manifest)
