"""Workplace tasks, the observed-task requirement and programmes in a pack: the source
reader names file, line and field; the manifest check (devices, server, builder) refuses
the same things in a built manifest (app/core/packs/practice.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import PackSourceError, PackVerifyError
from app.core.packs import TrustedKeys, build_pack, generate_keypair
from app.core.packs.manifest import check_manifest
from app.core.packs.practice import MAX_CHECKLIST, MAX_TASKS, check_practice
from app.core.packs.source import read_source
from app.core.packs.verify import verify_pack
from app.core.practice.tasks import programmes_of, required_observations, tasks_of
from tests.support.practice_pack import make_pack_source


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_pack_source(tmp_path / "src")


def manifest_of(src: Path) -> dict[str, Any]:
    return read_source(src).manifest


def test_tasks_requirement_and_programme_reach_the_manifest(src: Path) -> None:
    m = manifest_of(src)
    c1 = m["courses"][0]
    assert [t["id"] for t in c1["tasks"]] == ["t1", "t2", "t3"]
    assert c1["tasks"][0] == {"id": "t1", "lesson": "01-only", "title": {"en": "Task t1"},
                              "checklist": [{"id": "a", "text": {"en": "Does step a of t1."}},
                                            {"id": "b", "text": {"en": "Does step b of t1."}}]}
    assert c1["certificate"] == {"observed_tasks": 2}
    assert "certificate" not in m["courses"][1]
    assert required_observations(m, "c1") == 2 and required_observations(m, "c2") == 0
    assert set(tasks_of(m)) == {("c1", "t1"), ("c1", "t2"), ("c1", "t3"), ("c2", "u1")}
    (prog,) = programmes_of(m).values()
    assert (prog.courses, prog.profile, prog.observed_tasks) == (("c1", "c2"), "officer", 2)


def test_a_built_pack_with_tasks_verifies_on_a_device(src: Path, tmp_path: Path) -> None:
    private, public = generate_keypair()
    built = build_pack(src, private, tmp_path / "out")
    vp = verify_pack(Path(built), TrustedKeys([public]))
    assert vp.manifest["programmes"][0]["id"] == "foundation"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("file, old, new, field, words", [
    ("courses/c1/course.toml", "observed_tasks = 2", "observed_tasks = 4",
     "certificate.observed_tasks", "defines 3"),
    ("courses/c1/course.toml", 'lesson = "01-only"', 'lesson = "99-none"',
     "tasks[0].lesson", "not a lesson"),
    ("courses/c1/course.toml", 'id = "t2"', 'id = "t1"', "tasks[1].id", "duplicate"),
    ("courses/c1/course.toml", 'id = "t1"', 'id = "T 1"', "tasks[0].id", "not a valid id"),
    ("courses/c1/course.toml", 'title = { en = "Task t1" }', 'title = { en = "<b>x</b>" }',
     "tasks[0].title.en", "HTML"),
    ("courses/c1/course.toml", 'title = { en = "Task t1" }', 'title = "Task"',
     "tasks[0].title", "table of language"),
    ("courses/c1/course.toml", '  [[tasks.checklist]]\n  id = "b"', '  [[tasks.checklist]]\n  id = "a"',
     "tasks[0].checklist[1].id", "duplicate"),
    ("courses/c1/course.toml", "[certificate]", "[certificate]\nextra = 1",
     "certificate.extra", "unknown field"),
    ("pack.toml", 'courses = ["c1", "c2"]\nprofile', 'courses = ["c1", "c9"]\nprofile',
     "programmes[0].courses", "not a course"),
    ("pack.toml", 'profile = "officer"', 'profile = "nobody"', "programmes[0].profile",
     "not a profile"),
    ("pack.toml", "observed_tasks = 2", "observed_tasks = 5", "programmes[0].observed_tasks",
     "define 4"),
    ("pack.toml", 'id = "foundation"', 'id = "foundation"\ncolour = "red"',
     "programmes[0].colour", "unknown field"),
])
def test_source_errors_name_file_line_and_field(src: Path, file: str, old: str, new: str,
                                                field: str, words: str) -> None:
    edit(src / file, old, new)
    with pytest.raises(PackSourceError) as exc:
        read_source(src)
    err = exc.value
    assert err.path is not None and err.path.endswith(file)
    assert err.line is not None and err.field == field, (err.field, str(err))
    assert words in str(err)


def test_bounds_on_tasks_and_checklists(src: Path) -> None:
    course = src / "courses/c2/course.toml"
    text = course.read_text(encoding="utf-8")
    task = text[text.index("[[tasks]]"):]
    many = "\n".join(task.replace('id = "u1"', f'id = "u{i}"') for i in range(MAX_TASKS + 1))
    course.write_text(text[:text.index("[[tasks]]")] + many, encoding="utf-8")
    with pytest.raises(PackSourceError, match=f"at most {MAX_TASKS} tasks"):
        read_source(src)


def test_a_checklist_longer_than_the_bound_is_refused(src: Path) -> None:
    course = src / "courses/c2/course.toml"
    items = "".join(f'  [[tasks.checklist]]\n  id = "x{i}"\n  text = {{ en = "x" }}\n'
                    for i in range(MAX_CHECKLIST))
    course.write_text(course.read_text(encoding="utf-8") + items, encoding="utf-8")
    with pytest.raises(PackSourceError, match=f"at most {MAX_CHECKLIST} checklist"):
        read_source(src)


# -- the manifest check: the same rules for a manifest a foreign tool made ------------------
def tampered(src: Path) -> dict[str, Any]:
    """A copy of the manifest as built (with its ``files``)."""
    private, public = generate_keypair()
    built = build_pack(src, private, src.parent / "built")
    return copy.deepcopy(verify_pack(Path(built), TrustedKeys([public])).manifest)


HOSTILE = [
    (lambda m: m["courses"][0]["certificate"].update(observed_tasks=9), "observed_tasks"),
    (lambda m: m["courses"][0]["certificate"].update(observed_tasks=True), "observed_tasks"),
    (lambda m: m["courses"][0]["tasks"].append(copy.deepcopy(m["courses"][0]["tasks"][0])),
     "duplicate task id"),
    (lambda m: m["courses"][0]["tasks"][0]["checklist"].clear(), "checklist"),
    (lambda m: m["courses"][0]["tasks"][0]["checklist"].extend(
        {"id": f"z{i}", "text": {"en": "z"}} for i in range(9)), "checklist"),
    (lambda m: m["courses"][0]["tasks"][0].update(id="../x"), "invalid id"),
    (lambda m: m["courses"][0]["tasks"][0].update(title="plain"), "title"),
    (lambda m: m["courses"][0]["tasks"][0].update(script="x"), "unknown member"),
    (lambda m: m["courses"][0]["tasks"].extend({"id": f"k{i}", "title": {"en": "k"},
                                                "checklist": [{"id": "a", "text": {"en": "a"}}]}
                                               for i in range(MAX_TASKS)), "at most"),
    (lambda m: m["programmes"][0].update(courses=["c1", "ghost"]), "not a course"),
    (lambda m: m["programmes"][0].update(courses=["c1", "c1"]), "distinct"),
    (lambda m: m["programmes"][0].update(profile="ghost"), "not a profile"),
    (lambda m: m["programmes"][0].update(observed_tasks=99), "more than the tasks"),
    (lambda m: m["programmes"][0].update(observed_tasks=-1), "observed_tasks"),
    (lambda m: m["programmes"].append(copy.deepcopy(m["programmes"][0])), "duplicate programme"),
    (lambda m: m.update(programmes={"id": "x"}), "programmes"),
]


@pytest.mark.parametrize("damage, words", HOSTILE)
def test_the_manifest_check_refuses_what_the_builder_refuses(src: Path, damage: Any,
                                                             words: str) -> None:
    m = tampered(src)
    check_manifest(m)                        # the untouched manifest passes
    damage(m)
    with pytest.raises(PackVerifyError, match=words):
        check_practice(m)
    with pytest.raises(PackVerifyError, match=words):
        check_manifest(m)


def test_a_deeply_nested_or_huge_checklist_entry_is_refused(src: Path) -> None:
    m = tampered(src)
    deep: Any = "x"
    for _ in range(50):
        deep = {"en": deep}
    m["courses"][0]["tasks"][0]["checklist"][0]["text"] = deep
    with pytest.raises(PackVerifyError, match="language → text"):
        check_practice(m)
    assert json.dumps(m)          # still a JSON manifest: refused by rule, not by crash
