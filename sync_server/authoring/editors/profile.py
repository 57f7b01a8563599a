"""The DACUM profile editor: profiles/<id>.toml — title, description, roles whose
expected levels are given, the rating scale, duties and their tasks with the expected
level per role (docs/pack-format.md "profiles"). Task skills, ESCO labels, the ESCO
occupation, ISCO code and validation status are kept as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sync_server.authoring.drafts import read_toml
from sync_server.authoring.editors.common import (
    Form,
    check_id,
    flag,
    langs_of,
    loc_value,
    localized,
    number,
    save_toml,
    text,
)
from sync_server.errors import AlreadyExistsError, NotFoundError, ServerError

MAX_ROWS = 100


def profiles(src: Path) -> list[dict[str, str]]:
    folder = src / "profiles"
    langs = langs_of(src)
    out = []
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        title = loc_value(read_toml(path), "title")
        out.append({"id": path.stem, "title": title.get(langs.default, path.stem)})
    return out


def profile_path(src: Path, profile: str) -> Path:
    path = src / "profiles" / f"{profile}.toml"
    try:
        check_id(profile, "profile id")
    except ServerError:
        raise NotFoundError(f"no profile {profile[:70]!r}") from None
    if not path.is_file():
        raise NotFoundError(f"no profile {profile!r} in this draft")
    return path


def add_profile(src: Path, profile: str, title: str) -> str:
    pid = check_id(profile, "profile id")
    path = src / "profiles" / f"{pid}.toml"
    if path.exists():
        raise AlreadyExistsError(f"profile {pid!r} exists already")
    langs = langs_of(src)
    pack = read_toml(src / "pack.toml")
    roles = [r for r in pack.get("audience_roles", []) if isinstance(r, str)][:1]
    title = title.strip() or pid
    save_toml(path, {
        "title": {lang: title for lang in langs.all}, "roles": roles,
        "scale": [{"level": 0, "label": {lang: "Never performed" for lang in langs.all}},
                  {"level": 4, "label": {lang: "Can teach others" for lang in langs.all}}],
        "duties": [{"id": "a", "title": {lang: "First duty" for lang in langs.all},
                    "tasks": [{"id": "a1", "title": {lang: "First task" for lang in langs.all},
                               "skills": []}]}]})
    return pid


def profile_form(src: Path, profile: str) -> dict[str, Any]:
    doc = read_toml(profile_path(src, profile))
    return {"title": loc_value(doc, "title"), "description": loc_value(doc, "description"),
            "roles": list(doc.get("roles", [])),
            "scale": [s for s in doc.get("scale", []) if isinstance(s, dict)],
            "duties": [d for d in doc.get("duties", []) if isinstance(d, dict)]}


def _count(form: Form, name: str) -> int:
    raw = str(form.get(name, "0"))
    value = int(raw) if raw.isdigit() else 0
    if value > MAX_ROWS:
        raise ServerError(f"{name}: at most {MAX_ROWS}")
    return value


def save_profile(src: Path, profile: str, form: Form, roles: list[str]) -> None:
    path = profile_path(src, profile)
    doc = read_toml(path)
    langs = langs_of(src)
    doc["title"] = localized(form, "title", langs)
    description = localized(form, "description", langs)
    if description:
        doc["description"] = description
    else:
        doc.pop("description", None)
    doc["roles"] = roles
    scale = []
    for k in range(_count(form, "scale_count")):
        if not flag(form, f"s{k}.delete"):
            scale.append({"level": number(form, f"s{k}.level"),
                          "label": localized(form, f"s{k}.label", langs)})
    if flag(form, "add_scale"):
        top = max((s["level"] for s in scale if isinstance(s["level"], int)), default=-1)
        scale.append({"level": top + 1, "label": {}})
    doc["scale"] = scale
    old_duties = [d for d in doc.get("duties", []) if isinstance(d, dict)]
    duties = []
    for i in range(_count(form, "duty_count")):
        if flag(form, f"d{i}.delete"):
            continue
        old = old_duties[i] if i < len(old_duties) else {}
        old_tasks = [t for t in old.get("tasks", []) if isinstance(t, dict)]
        tasks = []
        for j in range(_count(form, f"d{i}.task_count")):
            p = f"d{i}.t{j}"
            if flag(form, f"{p}.delete"):
                continue
            task = dict(old_tasks[j]) if j < len(old_tasks) else {"skills": []}
            task["id"] = text(form, f"{p}.id")
            task["title"] = localized(form, f"{p}.title", langs)
            expected = {role: number(form, f"{p}.expected.{role}") for role in roles
                        if text(form, f"{p}.expected.{role}")}
            if expected:
                task["expected"] = expected
            else:
                task.pop("expected", None)
            tasks.append(_task_order(task))
        if flag(form, f"d{i}.add_task"):
            tasks.append({"id": f"{text(form, f'd{i}.id')}{len(tasks) + 1}", "title": {},
                          "skills": []})
        duties.append({"id": text(form, f"d{i}.id"),
                       "title": localized(form, f"d{i}.title", langs), "tasks": tasks})
    if flag(form, "add_duty"):
        used = {d["id"] for d in duties}
        did = next(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in used)
        duties.append({"id": did, "title": {}, "tasks": [{"id": f"{did}1", "title": {},
                                                          "skills": []}]})
    doc["duties"] = duties
    order = ["title", "description", "esco_occupation", "isco", "roles", "not_covered",
             "validation", "scale", "duties"]
    save_toml(path, {**{k: doc[k] for k in order if k in doc},
                     **{k: v for k, v in doc.items() if k not in order}})


def _task_order(task: dict[str, Any]) -> dict[str, Any]:
    order = ["id", "title", "skills", "expected", "esco_skills"]
    return {**{k: task[k] for k in order if k in task},
            **{k: v for k, v in task.items() if k not in order}}
