"""Learning outcomes, outcome tags on quiz questions, and native-review records (issue 19:
format groundwork for the item banks of issue 16).

course.toml `[outcomes.<id>]` → manifest `courses[].outcomes` (a list, in the author's
order); quiz `outcome = "<id>"` → manifest `outcome` on the question, and on every
scenario part (its own or the scenario's); pack.toml `[reviews.<lang>]` → manifest
`reviews`. Every mistake names file, line and field; the device re-checks the manifest.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import pytest

from app.core.errors import PackSourceError, PackVerifyError
from app.core.packs import read_source, verify_pack
from app.core.packs.manifest import check_manifest
from tests.unit.test_packs_source import edit, fails, line_of
from tests.unit.test_packs_support import TRUST, build, copy_sample

COURSE = "courses/boundaries"
QUIZ = f"{COURSE}/quiz.toml"


def test_outcomes_and_tags_reach_the_manifest_in_order(tmp_path: Path) -> None:
    course = read_source(copy_sample(tmp_path)).manifest["courses"][0]
    assert [o["id"] for o in course["outcomes"]] == ["spot-manipulation", "keep-boundaries"]
    assert set(course["outcomes"][0]["text"]) == {"en", "lt"}
    tags = {q["id"]: q.get("outcome") for q in course["quiz"]["questions"]}
    assert tags == {"q1": "keep-boundaries", "q2": "spot-manipulation",
                    "q3": "keep-boundaries", "q4": "spot-manipulation",
                    "q5": "keep-boundaries"}
    scenario = course["quiz"]["questions"][3]
    # q4a inherits the scenario's outcome, q4b names its own: both are explicit in the
    # manifest, so no reader has to resolve the inheritance
    assert [(p["id"], p["outcome"]) for p in scenario["parts"]] == [
        ("q4a", "spot-manipulation"), ("q4b", "keep-boundaries")]


def test_a_course_without_outcomes_has_no_outcome_fields(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    toml = src / COURSE / "course.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text[: text.index("[outcomes.")], encoding="utf-8")
    quiz = src / QUIZ
    quiz.write_text("".join(line for line in quiz.read_text(encoding="utf-8")
                            .splitlines(keepends=True)
                            if not line.lstrip().startswith("outcome =")), encoding="utf-8")
    course = read_source(src).manifest["courses"][0]
    assert "outcomes" not in course
    assert all("outcome" not in q for q in course["quiz"]["questions"])


def test_an_unknown_outcome_names_quiz_line_and_field(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, QUIZ, 'outcome = "spot-manipulation"\nprompt', 'outcome = "spot-grooming"\nprompt')
    err = fails(src)
    assert err.path.endswith("quiz.toml") and err.field == "questions[1].outcome"
    assert err.line == line_of(src, QUIZ, 'outcome = "spot-grooming"')
    assert ("unknown learning outcome 'spot-grooming'; course.toml defines: "
            "spot-manipulation, keep-boundaries") in str(err)


def test_a_scenario_part_outcome_is_checked_too(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, QUIZ, '  outcome = "keep-boundaries"\n  prompt = { en = "What do you do?"',
         '  outcome = "say-no"\n  prompt = { en = "What do you do?"')
    err = fails(src)
    assert err.field == "questions[3].parts[1].outcome"
    assert err.line == line_of(src, QUIZ, 'outcome = "say-no"')


def test_a_tag_without_an_outcomes_table_says_so(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    toml = src / COURSE / "course.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text[: text.index("[outcomes.")], encoding="utf-8")
    err = fails(src)
    assert "course.toml defines no [outcomes] table" in str(err)
    assert err.path.endswith("quiz.toml") and err.line is not None


@pytest.mark.parametrize(("old", "new", "message", "field"), [
    ("[outcomes.spot-manipulation]", "[outcomes.Spot]", "'Spot' is not a valid outcome id",
     "outcomes.Spot"),
    ('lt = "Atpažinti', 'lv = "Atpažinti', "language 'lv' is not in pack.languages",
     "outcomes.spot-manipulation.lv"),
    ('en = "Identify', 'note = "Identify', "language 'note' is not in pack.languages",
     "outcomes.spot-manipulation.note"),
])
def test_outcome_table_errors_name_course_line_and_field(tmp_path: Path, old: str, new: str,
                                                         message: str, field: str) -> None:
    src = copy_sample(tmp_path)
    rel = f"{COURSE}/course.toml"
    edit(src, rel, old, new)
    err = fails(src)
    assert err.path.endswith("course.toml") and message in str(err)
    assert err.field == field and err.line is not None


def test_an_outcome_missing_a_language_is_named(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    rel = f"{COURSE}/course.toml"
    edit(src, rel, 'lt = "Pasirinkti atsaką', 'en2 = "Pasirinkti atsaką')
    err = fails(src)
    assert err.field is not None and err.field.startswith("outcomes.keep-boundaries")


def test_an_outcome_that_is_not_a_table_of_languages_is_refused(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    rel = f"{COURSE}/course.toml"
    text = (src / rel).read_text(encoding="utf-8")
    (src / rel).write_text(text[: text.index("[outcomes.")]
                           + 'outcomes = { spot = "Spot the signs" }\n', encoding="utf-8")
    err = fails(src)
    assert "must be a table of language → text" in str(err) and err.field == "outcomes.spot"


# -- native reviews (pack.toml) ----------------------------------------------------------
REVIEW = '\n[reviews.lt]\nreviewer = "Ona Onaitė, Kalėjimų tarnyba"\ndate = 2027-03-01\n'


def test_a_native_review_is_recorded_in_the_manifest(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, "pack.toml", 'machine_translated = ["lt"]', "machine_translated = []")
    with (src / "pack.toml").open("a", encoding="utf-8") as f:
        f.write(REVIEW + 'note = "version 1, all lessons"\n')
    m = read_source(src).manifest
    assert m["machine_translated"] == []
    assert m["reviews"] == {"lt": {"reviewer": "Ona Onaitė, Kalėjimų tarnyba",
                                   "date": "2027-03-01", "note": "version 1, all lessons"}}


def test_without_reviews_the_manifest_has_no_reviews_key(tmp_path: Path) -> None:
    assert "reviews" not in read_source(copy_sample(tmp_path)).manifest


@pytest.mark.parametrize(("change", "review", "message", "field"), [
    (None, REVIEW, "'lt' has a native review recorded; remove it from machine_translated",
     "reviews.lt"),
    ("mt", REVIEW.replace("reviews.lt", "reviews.en"), "the default language is the source "
     "text", "reviews.en"),
    ("mt", REVIEW.replace("reviews.lt", "reviews.ro"), "'ro' is not in languages (en, lt)",
     "reviews.ro"),
    ("mt", REVIEW.replace("2027-03-01", '"2027-03-01"'), "must be a date written as YYYY-MM-DD "
     "without quotes, got a string", "reviews.lt.date"),
    ("mt", REVIEW.replace("2027-03-01", "2027-03-01T10:00:00"), "got a date and time",
     "reviews.lt.date"),
    ("mt", REVIEW.replace("date = 2027-03-01\n", ""), "missing required field 'date'",
     "reviews.lt"),
    ("mt", REVIEW + "signed = true\n", "unknown field 'signed'; allowed: date, note, reviewer",
     "reviews.lt.signed"),
    ("mt", REVIEW.replace('"Ona Onaitė, Kalėjimų tarnyba"', '""'), "must not be empty",
     "reviews.lt.reviewer"),
])
def test_review_mistakes_name_pack_toml_line_and_field(tmp_path: Path, change: str | None,
                                                       review: str, message: str, field: str
                                                       ) -> None:
    src = copy_sample(tmp_path)
    if change == "mt":
        edit(src, "pack.toml", 'machine_translated = ["lt"]', "machine_translated = []")
    with (src / "pack.toml").open("a", encoding="utf-8") as f:
        f.write(review)
    err = fails(src)
    assert err.path.endswith("pack.toml") and message in str(err), str(err)
    assert err.field == field and err.line is not None


# -- the device re-checks what arrives -------------------------------------------------
@pytest.fixture()
def manifest(tmp_path: Path) -> dict:
    pack = build(copy_sample(tmp_path), tmp_path / "out")
    with zipfile.ZipFile(pack) as z:
        return json.loads(z.read("manifest.json"))


def test_a_built_pack_with_outcomes_verifies(tmp_path: Path) -> None:
    pack = build(copy_sample(tmp_path), tmp_path / "out")
    vp = verify_pack(pack, TRUST)
    assert vp.manifest["courses"][0]["quiz"]["questions"][0]["outcome"] == "keep-boundaries"


@pytest.mark.parametrize(("damage", "message"), [
    (lambda c: c["quiz"]["questions"][0].update(outcome="forged"),
     "courses[0].quiz.questions[0].outcome: unknown learning outcome 'forged'"),
    (lambda c: c["quiz"]["questions"][3]["parts"][0].update(outcome=7),
     "courses[0].quiz.questions[3].parts[0].outcome: must be str"),
    (lambda c: c["outcomes"].append(copy.deepcopy(c["outcomes"][0])),
     "courses[0].outcomes[2].id: duplicate outcome id 'spot-manipulation'"),
    (lambda c: c["outcomes"][1].update(text="keep them"),
     "courses[0].outcomes[1].text: must be dict"),
    (lambda c: c.update(outcomes={"a": "b"}), "courses[0].outcomes: must be list"),
    (lambda c: c["outcomes"][0].update(id="../x"), "courses[0].outcomes[0].id: invalid id '../x'"),
])
def test_the_manifest_check_refuses_forged_outcomes(manifest: dict, damage, message: str
                                                    ) -> None:
    check_manifest(manifest)
    damage(manifest["courses"][0])
    with pytest.raises(PackVerifyError) as exc:
        check_manifest(manifest)
    assert str(exc.value) == f"manifest field {message}"


def test_reader_errors_are_pack_source_errors(tmp_path: Path) -> None:
    src = copy_sample(tmp_path)
    edit(src, QUIZ, 'outcome = "keep-boundaries"\nprompt = { en = "When',
         'outcome = 3\nprompt = { en = "When')
    with pytest.raises(PackSourceError) as exc:
        read_source(src)
    assert "must be a string, got an integer" in str(exc.value)
