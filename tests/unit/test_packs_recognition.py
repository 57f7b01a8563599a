"""Recognition data of a course (issue 16 item 4; app/core/packs/recognition.py,
docs/pack-format.md "Recognition data"): EQF level, notional workload, ESCO concepts.
The builder and every manifest reader apply the same rules (one function), every shipped
course has proposed values, and the server carries them into the Open Badges achievement
and onto the PDF."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.certificates import CertificateStatus, verify_credential
from app.core.errors import PackSourceError, PackVerifyError
from app.core.packs import read_source
from app.core.packs.manifest import check_manifest
from app.core.packs.recognition import recognition_problem
from sync_server.certificates import (
    Learner,
    course_achievement,
    issue_credential,
    issuer_for,
)
from sync_server.certificates_pdf import render_pdf

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "content_packs" / "promote-sample"
PRISON_OFFICER = "http://data.europa.eu/esco/occupation/3327a087-cd36-4b02-ac1b-6455f59f9312"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
BASE = "https://learning.example.org"


@pytest.mark.parametrize("pack", sorted(p.parent.name for p in
                                        (ROOT / "content_packs").glob("*/pack.toml")))
def test_every_shipped_course_has_proposed_recognition_data(pack: str) -> None:
    manifest = read_source(ROOT / "content_packs" / pack).manifest
    for course in manifest["courses"]:
        rec = course["recognition"]
        assert rec["eqf_level"] in (4, 5), course["id"]
        # notional workload: at least the reading time, at most a working day
        assert course["minutes"] / 60 <= rec["workload_hours"] <= 8, course["id"]
        for entry in rec["esco"]:
            # the only ESCO URI known (ESCO-NOTES.md); skills stay labels
            assert entry.get("uri") in (None, PRISON_OFFICER), entry
            assert entry["kind"] != "occupation" or entry["preferred_label"] == "prison officer"
        toml = (ROOT / "content_packs" / pack / "courses" / course["id"] / "course.toml")
        assert "awaiting validation by the partners" in toml.read_text()


# -- the same rules in the builder and in the manifest reader ----------------------------
BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"eqf_level": 9, "workload_hours": 3}, "eqf_level", "must be an EQF level 1–8"),
    ({"eqf_level": True, "workload_hours": 3}, "eqf_level", "must be an EQF level 1–8"),
    ({"eqf_level": "4", "workload_hours": 3}, "eqf_level", "must be an EQF level 1–8"),
    ({"workload_hours": 3}, "eqf_level", "must be an EQF level 1–8"),
    ({"eqf_level": 4, "workload_hours": 0}, "workload_hours", "0.5–2000 in steps of 0.5"),
    ({"eqf_level": 4, "workload_hours": 2.3}, "workload_hours", "steps of 0.5"),
    ({"eqf_level": 4, "workload_hours": 1e9}, "workload_hours", "0.5–2000"),
    ({"eqf_level": 4, "workload_hours": 3, "ects": 1}, "ects", "unknown field 'ects'"),
    ({"eqf_level": 4, "workload_hours": 3, "esco": [{"kind": "job", "preferred_label": "x"}]},
     "esco[0].kind", "must be one of occupation, skill, knowledge"),
    ({"eqf_level": 4, "workload_hours": 3,
      "esco": [{"kind": "skill", "preferred_label": "http://data.europa.eu/esco/skill/x"}]},
     "esco[0].preferred_label", "is not an ESCO label"),
    ({"eqf_level": 4, "workload_hours": 3,
      "esco": [{"kind": "skill", "preferred_label": "patrol areas",
                "uri": "http://data.europa.eu/esco/skill/patrol-areas"}]},
     "esco[0].uri", "is not an ESCO skill URI"),
    ({"eqf_level": 4, "workload_hours": 3,       # an occupation URI given for a skill
      "esco": [{"kind": "skill", "preferred_label": "prison officer", "uri": PRISON_OFFICER}]},
     "esco[0].uri", "is not an ESCO skill URI"),
    ({"eqf_level": 4, "workload_hours": 3,
      "esco": [{"kind": "skill", "preferred_label": "patrol areas"},
               {"kind": "skill", "preferred_label": "patrol areas"}]},
     "esco[1].preferred_label", "is listed twice"),
    ({"eqf_level": 4, "workload_hours": 3,
      "esco": [{"kind": "skill", "preferred_label": f"s{i}"} for i in range(51)]},
     "esco", "1–50 ESCO entries"),
]


@pytest.mark.parametrize(("value", "field", "message"), BAD)
def test_the_manifest_reader_refuses_what_the_builder_refuses(value: dict[str, Any],
                                                              field: str, message: str) -> None:
    problem = recognition_problem(value)
    assert problem is not None and problem[0] == field and message in problem[1]
    manifest = copy.deepcopy(read_source(SAMPLE).manifest)
    manifest["files"] = []
    for c in manifest["courses"]:
        c["lessons"] = []
    manifest["courses"][0]["recognition"] = value
    with pytest.raises(PackVerifyError,
                       match=re.escape(f"manifest field courses[0].recognition.{field}: ")):
        check_manifest(manifest)


def _toml(value: dict[str, Any]) -> str:
    lines = ["[recognition]"]
    for key in ("eqf_level", "workload_hours", "ects"):
        if key in value:
            v = value[key]
            lines.append(f"{key} = " + (f'"{v}"' if isinstance(v, str) else
                                        str(v).lower() if isinstance(v, bool) else repr(v)))
    for entry in value.get("esco", []):
        lines.append("  [[recognition.esco]]")
        lines += [f'  {k} = "{v}"' for k, v in entry.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("value", "field", "message"), BAD)
def test_the_builder_names_file_line_and_field(tmp_path: Path, value: dict[str, Any],
                                               field: str, message: str) -> None:
    src = tmp_path / "promote-sample"
    shutil.copytree(SAMPLE, src)
    course = src / "courses/boundaries/course.toml"
    text = course.read_text()
    text = text[:text.index("\n# Recognition data")] + "\n" + _toml(value)
    course.write_text(text)
    with pytest.raises(PackSourceError) as caught:
        read_source(src)
    err = caught.value
    assert err.path == str(course) and err.line is not None
    assert message in str(err)
    assert err.field in (f"recognition.{field}", "recognition"), err.field


def test_recognition_is_optional_and_an_old_manifest_still_reads() -> None:
    manifest = copy.deepcopy(read_source(SAMPLE).manifest)
    del manifest["courses"][0]["recognition"]
    manifest["files"] = []
    for c in manifest["courses"]:
        c["lessons"] = []
    check_manifest(manifest)
    achievement = course_achievement(manifest, "boundaries", "en")
    assert achievement.eqf_level is None and achievement.esco == ()


# -- into the Open Badges achievement and onto the PDF ------------------------------------
def credential(language: str = "en") -> dict[str, Any]:
    manifest = read_source(SAMPLE).manifest
    return issue_credential(
        KEY, credential_id="0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11",
        issuer=issuer_for(KEY, "Lietuvos kalėjimų tarnyba", BASE),
        learner=Learner("7d1e2f4a-1111-4222-8333-944455556666", "Žydrūnė Šėtonaitė", language),
        achievement=course_achievement(manifest, "boundaries", language),
        public_base_url=BASE, valid_from=datetime(2026, 11, 23, 15, 0, tzinfo=UTC), score=80)


def test_the_achievement_carries_outcomes_level_workload_and_esco() -> None:
    cred = credential()
    assert verify_credential(cred, [KEY.public_key()]).status is CertificateStatus.GENUINE
    achievement = cred["credentialSubject"]["achievement"]
    narrative = achievement["criteria"]["narrative"]
    assert "Learning outcomes — the holder can:\n- Identify the early warning signs" in narrative
    assert "EQF level 4 · notional workload 1 hours." in narrative
    assert "ESCO (labels): identify security threats." in narrative   # no URI: a label
    occupation, eqf = achievement["alignment"]
    assert occupation == {"type": ["Alignment"], "targetName": "prison officer",
                          "targetUrl": PRISON_OFFICER, "targetFramework": "ESCO",
                          "targetType": "ext:ESCOOccupation"}
    assert (eqf["targetCode"], eqf["targetType"], eqf["targetUrl"]) == (
        "4", "ext:EQFLevel", "http://data.europa.eu/snb/eqf/4")
    [description] = achievement["resultDescription"]
    assert (description["resultType"], description["requiredValue"]) == ("Percent", "70")
    assert cred["credentialSubject"]["result"][0]["resultDescription"] == description["id"]
    # every alignment has a targetUrl (OB requires it): a label never poses as one
    assert all(a["targetUrl"].startswith("http://data.europa.eu/")
               for a in achievement["alignment"])


def test_the_pdf_prints_level_workload_outcomes_and_esco(tmp_path: Path) -> None:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed: text not checked")
    for language, level in (("en", "EQF level 4 · notional workload 1 hours."),
                            ("lt", "EKS lygis 4 · numatomas mokymosi krūvis 1 val.")):
        path = tmp_path / f"{language}.pdf"
        path.write_bytes(render_pdf(credential(language), public_base_url=BASE))
        out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                             check=True).stdout
        pages = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                               check=True).stdout
        assert "Pages:           1" in pages
        flat = " ".join(out.split())
        assert level in flat
        assert "prison officer" in flat and "identify security threats" in flat
        assert "- " in out and ("Identify the early" in flat or "Atpažinti" in flat)


def test_a_certificate_of_the_earlier_shape_still_verifies_and_prints(tmp_path: Path) -> None:
    """Certificates issued before recognition data and resultDescription are signed as
    they are: they still verify, and the PDF still renders them."""
    from app.core.certificates import sign_credential
    from sync_server.certificates import Alignment, CourseAchievement, build_credential

    unsigned = build_credential(
        credential_id="0b5a3f7e-7f0e-4c2a-9d55-5d1b0a7c9e11", issuer=issuer_for(KEY, "Org"),
        learner=Learner("7d1e2f4a-1111-4222-8333-944455556666", "Ann", "en"),
        achievement=CourseAchievement("p", "c", "en", "Course", "", 70,
                                      (Alignment("http://data.europa.eu/esco/skill/1", "s"),)),
        public_base_url=BASE, valid_from=datetime(2026, 1, 1, tzinfo=UTC), score=80)
    subject = unsigned["credentialSubject"]
    del subject["result"][0]["resultDescription"]              # as issued before issue 16
    del subject["achievement"]["resultDescription"]
    subject["achievement"]["criteria"]["narrative"] = "Completed every lesson (pass mark 70 %)."
    old = sign_credential(unsigned, KEY, created=datetime(2026, 1, 1, tzinfo=UTC))
    assert verify_credential(old, [KEY.public_key()]).status is CertificateStatus.GENUINE
    assert render_pdf(old, public_base_url=BASE).startswith(b"%PDF-")
