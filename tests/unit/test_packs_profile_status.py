"""Profile metadata of issue 19: a DACUM chart says whether it is the authors' draft or
validated by a DACUM panel (`[validation]`, shown with the profile by the app), and a task
may name the ESCO skills it maps to (`esco_skills`, ESCO preferred labels, never URIs).

Every authoring mistake names file, line and field; the device re-checks the manifest; the
self-assessment engine hands both to the UI.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from app.core.assessment import SelfAssessment
from app.core.errors import PackVerifyError
from app.core.packs import read_source
from app.core.packs.manifest import check_manifest
from tests.unit.test_packs_source import edit, fails, line_of
from tests.unit.test_packs_support import copy_sample

PROFILE = "profiles/prison-officer.toml"
DRAFT_NOTE = 'status = "draft"\nnote = { en = "Draft for validation'


def _profile(src: Path) -> dict:
    [p] = read_source(src).manifest["profiles"]
    return p


def test_the_status_and_the_esco_labels_reach_the_manifest(tmp_path: Path) -> None:
    p = _profile(copy_sample(tmp_path))
    assert p["validation"]["status"] == "draft"
    assert set(p["validation"]["note"]) == {"en", "lt"}
    assert "panel" not in p["validation"] and "date" not in p["validation"]
    tasks = {t["id"]: t for d in p["duties"] for t in d["tasks"]}
    assert tasks["a2"]["esco_skills"] == ["identify security threats"]
    assert "esco_skills" not in tasks["a1"]          # absent, not an empty list


def test_a_validated_profile_names_its_panel_and_date(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, PROFILE, 'status = "draft"', 'status = "validated"\npanel = "PROMOTE DACUM panel, '
                                           'Vilnius"\ndate = 2027-05-12')
    v = _profile(src)["validation"]
    assert (v["status"], v["panel"], v["date"]) == ("validated", "PROMOTE DACUM panel, Vilnius",
                                                    "2027-05-12")


def test_a_profile_without_validation_has_no_field(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    text = (src / PROFILE).read_text(encoding="utf-8")
    (src / PROFILE).write_text(text[: text.index("[validation]")], encoding="utf-8")
    assert "validation" not in _profile(src)


@pytest.mark.parametrize("old, new, field, message", [
    ('status = "draft"', 'status = "approved"', "validation.status",
     "must be 'draft' or 'validated', got 'approved'"),
    ('status = "draft"', 'status = "validated"', "validation",
     "missing required field 'panel'"),
    ('status = "draft"', 'status = "validated"\npanel = "X"\ndate = "2027-05-12"',
     "validation.date", "must be a date written as YYYY-MM-DD without quotes"),
    ('status = "draft"', 'status = "draft"\npanel = "PROMOTE panel"', "validation.panel",
     "a draft profile has no validation panel or date yet"),
    ('status = "draft"', 'status = "draft"\nsigned = true', "validation.signed",
     "unknown field 'signed'"),
    (', lt = "Projektas', ', xx = "Projektas', "validation.note.xx",
     "language 'xx' is not in pack.languages"),
])
def test_status_mistakes_name_line_and_field(tmp_path: Path, old: str, new: str, field: str,
                                             message: str) -> None:
    src = copy_sample(tmp_path)
    edit(src, PROFILE, old, new)
    err = fails(src)
    assert err.path and err.path.endswith(PROFILE) and err.line is not None
    assert err.field == field and message in str(err), str(err)


def test_a_missing_note_translation_is_named(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    text = (src / PROFILE).read_text(encoding="utf-8")
    start = text.index(', lt = "Projektas')
    (src / PROFILE).write_text(text[:start] + " }\n", encoding="utf-8")
    err = fails(src)
    assert err.field == "validation.note" and "missing translation for lt" in str(err)
    assert err.line == line_of(src, PROFILE, "note = {")


@pytest.mark.parametrize("value, message", [
    ('["http://data.europa.eu/esco/skill/1234"]', "is not an ESCO skill label"),
    ('[""]', "is not an ESCO skill label"),
    (f'["{"x" * 201}"]', "is not an ESCO skill label"),
    ('["patrol areas", "patrol areas"]', "'patrol areas' is listed twice"),
    ('"patrol areas"', "must be a list of strings"),
])
def test_esco_label_mistakes_name_line_and_field(tmp_path: Path, value: str, message: str
                                                 ) -> None:
    src = copy_sample(tmp_path)
    edit(src, PROFILE, 'esco_skills = ["identify security threats"]', f"esco_skills = {value}")
    err = fails(src)
    assert err.field == "duties[0].tasks[1].esco_skills" and message in str(err), str(err)
    assert err.line == line_of(src, PROFILE, "esco_skills =")


def _manifest(tmp_path: Path) -> dict:
    m = copy.deepcopy(read_source(copy_sample(tmp_path)).manifest)
    m["files"] = []
    for course in m["courses"]:       # check_manifest wants the lesson files listed
        for lesson in course["lessons"]:
            for path in lesson["files"].values():
                m["files"].append({"path": path, "size": 1, "sha256": "0" * 64})
    m["files"].sort(key=lambda f: f["path"])
    return m


@pytest.mark.parametrize("damage, where", [
    (lambda p: p.__setitem__("validation", "draft"), "profiles[0].validation"),
    (lambda p: p["validation"].__setitem__("status", "final"), "profiles[0].validation.status"),
    (lambda p: p["validation"].__setitem__("note", "Draft"), "profiles[0].validation.note"),
    (lambda p: p["validation"].update(status="validated"), "profiles[0].validation.panel"),
    (lambda p: p["duties"][0]["tasks"][1].__setitem__("esco_skills", "patrol areas"),
     "profiles[0].duties[0].tasks[1].esco_skills"),
    (lambda p: p["duties"][0]["tasks"][1].__setitem__("esco_skills", ["x" * 201]),
     "profiles[0].duties[0].tasks[1].esco_skills"),
])
def test_the_device_rechecks_a_forged_manifest(tmp_path: Path,
                                               damage: Callable[[dict], object], where: str
                                               ) -> None:
    m = _manifest(tmp_path)
    check_manifest(m)                                  # the real one passes
    damage(m["profiles"][0])
    with pytest.raises(PackVerifyError) as exc:
        check_manifest(m)
    assert str(exc.value).startswith(f"manifest field {where}:"), str(exc.value)


def test_the_engine_hands_status_note_and_labels_to_the_ui(tmp_path: Path) -> None:
    m = read_source(copy_sample(tmp_path)).manifest
    for lang, word in (("en", "DACUM panel"), ("lt", "DACUM ekspertų grupė")):
        sa = SelfAssessment([m], learner="t", role="prison_officer", language=lang)
        [entry] = sa.profiles()
        view = sa.profile(m["id"], "prison-officer")
        for v in (entry.validation, view.validation):
            assert v is not None and v.draft and v.status == "draft"
            assert word in v.note.text and (v.note.lang, v.note.fallback) == (lang, False)
        tasks = {t.id: t for d in view.duties for t in d.tasks}
        assert tasks["a2"].esco_skills == ("identify security threats",)
        assert tasks["a1"].esco_skills == ()
    del m["profiles"][0]["validation"]
    sa = SelfAssessment([m], learner="t", role="prison_officer", language="en")
    assert sa.profiles()[0].validation is None
