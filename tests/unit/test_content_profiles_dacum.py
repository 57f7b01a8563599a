"""DACUM profiles of the shipped packs (issue 19 item 5): every profile says whether it is
a draft or validated by a DACUM panel (shown by the app), and the prison-officer profile
maps its tasks to the ESCO essential skills of the occupation "prison officer" by label —
labels as listed in /work/shared/ESCO-NOTES.md (ESCO v1.2, seen in mirrors), no URI — with
patrol, escort and inspections named as not covered by any course.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from app.core.assessment.engine import SelfAssessment
from app.core.learning.catalog import Catalog
from app.core.packs import read_source
from tests.support.learning_fixtures import Recorder

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p.parent.name for p in (ROOT / "content_packs").glob("*/pack.toml"))
#: ESCO v1.2, occupation "prison officer" (ISCO-08 5413): the 12 essential competences
ESCO_ESSENTIAL_SKILLS = {
    "restrain individuals", "comply with the principles of self-defence",
    "ensure compliance with types of weapons", "patrol areas", "undertake inspections",
    "escort defendants", "identify security threats", "see to the detainees' well-being",
}
ESCO_ESSENTIAL_KNOWLEDGE = {"correctional procedures", "illegal substances", "law enforcement",
                            "legal use-of-force"}
ESCO_OPTIONAL_EXAMPLES = {"conduct frisk", "write situation reports", "maintain logbooks",
                          "apply knowledge of human behaviour", "oversee rehabilitation process"}
ESCO_LABELS = ESCO_ESSENTIAL_SKILLS | ESCO_ESSENTIAL_KNOWLEDGE | ESCO_OPTIONAL_EXAMPLES
#: essential competences no task maps to, on purpose: officers in many European prisons
#: carry no weapons inside, and "law enforcement" (police work) is not a prison task; a
#: DACUM panel decides (docs/content-promote-core.md)
UNMAPPED = {"ensure compliance with types of weapons", "law enforcement"}
#: ESCO essential skills no course teaches yet: skill key (its en label is the ESCO label)
NOT_COVERED_ESCO = {"patrol-areas": "patrol areas", "escort-defendants": "escort defendants",
                    "undertake-inspections": "undertake inspections"}


@pytest.fixture(scope="module", params=SOURCES)
def manifest(request: pytest.FixtureRequest) -> dict[str, Any]:
    return read_source(ROOT / "content_packs" / request.param).manifest


@pytest.fixture(scope="module")
def core() -> dict[str, Any]:
    return read_source(ROOT / "content_packs" / "promote-core").manifest


def officer(m: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in m["profiles"] if p["id"] == "prison-officer")


def test_every_profile_says_whether_a_dacum_panel_validated_it(manifest: dict[str, Any]
                                                               ) -> None:
    langs = [lang for lang in manifest["languages"] if lang not in manifest["partial_languages"]]
    for p in manifest["profiles"]:
        v = p.get("validation")
        assert v is not None, f"{manifest['id']}/{p['id']}: no [validation]"
        assert set(langs) <= set(v["note"]), p["id"]
        if v["status"] == "draft":
            assert "DACUM panel" in v["note"]["en"], p["id"]
            assert "panel" not in v and "date" not in v
        else:
            assert v["panel"] and v["date"], p["id"]


def esco_problems(profile: dict[str, Any]) -> list[str]:
    problems = []
    mapped: set[str] = set()
    for d in profile["duties"]:
        for t in d["tasks"]:
            labels = set(t.get("esco_skills", []))
            problems += [f"{t['id']}: {label!r} is not an ESCO label of the prison officer"
                         for label in sorted(labels - ESCO_LABELS)]
            mapped |= labels
    for label in sorted((ESCO_ESSENTIAL_SKILLS | ESCO_ESSENTIAL_KNOWLEDGE) - UNMAPPED - mapped):
        problems.append(f"essential ESCO competence {label!r} is mapped to no task")
    return problems


def test_prison_officer_tasks_map_to_the_esco_essential_skills(core: dict[str, Any]) -> None:
    assert esco_problems(officer(core)) == []


def test_patrol_escort_and_inspections_are_tasks_named_not_covered(core: dict[str, Any]
                                                                   ) -> None:
    p = officer(core)
    taught = {s for c in core["courses"] for s in c["skills"]}
    for key, label in NOT_COVERED_ESCO.items():
        assert key in p["not_covered"] and key not in taught, key
        skill = core["skills"][key]
        assert (skill["uri"], skill["label"]["en"]) == ("", label)
        tasks = [t for d in p["duties"] for t in d["tasks"] if key in t["skills"]]
        assert tasks and all(label in t["esco_skills"] for t in tasks), key
        assert all(t["expected"] for t in tasks)


@pytest.mark.parametrize("lang", ["en", "lt", "ro"])
def test_the_gap_report_names_them_as_not_covered(core: dict[str, Any], lang: str) -> None:
    sa = SelfAssessment(Catalog.from_manifests([core]), learner="t", role="prison_officer",
                        language=lang)
    log = Recorder(sa)
    assessment = log.add(sa.start("promote-core", "prison-officer")).assessment
    for duty in sa.profile("promote-core", "prison-officer").duties:
        for task in duty.tasks:
            log.add(sa.rate("promote-core", "prison-officer", assessment, task.id, 0))
    log.add(sa.complete("promote-core", "prison-officer", assessment))
    report = sa.gap_report("promote-core", "prison-officer")
    named = {s.key: s.label for s in report.not_covered}
    assert set(NOT_COVERED_ESCO) <= set(named)
    assert all((named[k].lang, named[k].fallback) == (lang, False) for k in NOT_COVERED_ESCO)
    assert "mental-health" in {r.course for r in report.recommendations}


def test_the_esco_check_catches_an_invented_label_and_a_lost_mapping(core: dict[str, Any]
                                                                     ) -> None:
    p = copy.deepcopy(officer(core))
    tasks = [t for d in p["duties"] for t in d["tasks"]]
    patrol = next(t for t in tasks if "patrol areas" in t.get("esco_skills", []))
    patrol["esco_skills"] = ["manage prison riots"]
    assert esco_problems(p) == [
        f"{patrol['id']}: 'manage prison riots' is not an ESCO label of the prison officer",
        "essential ESCO competence 'patrol areas' is mapped to no task"]
