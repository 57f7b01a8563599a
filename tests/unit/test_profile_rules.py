"""One set of profile field rules (app/core/profile_rules.py), used everywhere.

Each value below is given to every place that accepts a learner profile — the tablet's
store and its new-profile form, the server's admin API model and its push, the CSV import
(and so the console form) — and each must accept it or refuse it alike. Before, the rules
lived in four places with four limits: a 33–64 character staff number an admin registered
was silently skipped by every tablet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.core import profile_rules
from app.core.application import ProfileFormError, validate_new_profile
from app.core.errors import ProfileFieldError, StoreError
from app.core.store import Store
from sync_server.api.models import LearnerIn
from sync_server.db.repository import Device
from sync_server.services.learners_csv import parse_learners_csv
from sync_server.services.profiles import check_pushed
from tests.support.server import learner_verifier

GOOD = {"display_name": "Ona Petraitytė", "staff_number": "LT-0042", "role": "prison_officer",
        "language": "lt"}
CASES: list[tuple[str, Any, bool]] = [
    ("staff_number", "S" * 64, True),
    ("staff_number", "S" * 65, False),
    ("staff_number", "LT 0042 / 7_b.c-d", True),
    ("staff_number", "lt\x000042", False),                     # NUL
    ("staff_number", "LT-\u202e0042", False),                  # bidi override
    ("staff_number", "-LT", False),
    ("staff_number", "", False),
    ("display_name", "Ž" * 80, True),
    ("display_name", "Ž" * 81, False),
    ("display_name", "Ștefan Țăranu", True),
    ("display_name", "Ona\x00", False),                        # NUL (PostgreSQL said 500)
    ("display_name", "Ona\u202eavonaJ", False),                # U+202E RIGHT-TO-LEFT OVERRIDE
    ("display_name", "Ona\x1b[31m", False),                    # ESC (terminal escapes)
    ("display_name", "Ona\u200bP", False),                     # zero-width space
    ("display_name", "Ona\u2028P", False),                     # line separator
    ("display_name", "   ", False),
    ("role", "warden", False),
    ("language", "pt_BR", True),
    ("language", "pt-BR", True),
    ("language", "english", False),
]
DEVICE = Device("tab-1", "f1", "tab", "2026-01-01T00:00:00.000Z")


def _store(tmp_path: Path, profile: dict[str, Any]) -> bool:
    with Store.open(tmp_path / "tablet") as store:
        try:
            store.profiles.create(profile["display_name"], profile["staff_number"],
                                  profile["role"], profile["language"], "2468")
        except StoreError:
            return False
    return True


def _pulled(tmp_path: Path, profile: dict[str, Any]) -> bool:
    with Store.open(tmp_path / "pulled") as store:
        try:
            store.profiles.upsert_remote([{**profile, "id": "5a1e0000-0000-4000-8000-00000000000a",
                                           "pin_verifier": None}])
        except StoreError:
            return False
    return True


def _form(profile: dict[str, Any]) -> bool:
    try:
        validate_new_profile(profile["display_name"], profile["staff_number"], profile["role"],
                             "lt" if profile["language"] in ("pt_BR", "pt-BR") else
                             profile["language"], "2581", "2581")
    except ProfileFormError:
        return False
    return True


def _api(profile: dict[str, Any]) -> bool:
    try:
        LearnerIn(**profile, facility_id="f1")
    except ValidationError:
        return False
    return True


def _push(profile: dict[str, Any]) -> bool:
    from datetime import UTC, datetime
    try:
        check_pushed({**profile, "id": "5a1e0000-0000-4000-8000-00000000000b",
                      "pin_verifier": learner_verifier(),
                      "updated_at": "2026-01-01T00:00:00.000Z"}, DEVICE, datetime.now(UTC))
    except ProfileFieldError:
        return False
    return True


def _csv(profile: dict[str, Any]) -> bool:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"'
    text = ("staff_number,name,facility,role,language\n" + ",".join(cell(str(v)) for v in (
        profile["staff_number"], profile["display_name"], "f1", profile["role"],
        profile["language"])) + "\n")
    rows, errors = parse_learners_csv(text.encode(), facilities={"f1"})
    return bool(rows) and not errors


@pytest.mark.parametrize(("field", "value", "ok"), CASES,
                         ids=[f"{f}-{i}" for i, (f, _v, _o) in enumerate(CASES)])
def test_every_door_takes_the_same_values(tmp_path: Path, field: str, value: Any,
                                          ok: bool) -> None:
    profile = {**GOOD, field: value}
    seen = {"rules": _rules(profile), "store": _store(tmp_path, profile),
            "pull": _pulled(tmp_path, profile), "api": _api(profile), "push": _push(profile),
            "csv+console": _csv(profile)}
    if field != "language":                    # the form offers only the UI's languages
        seen["form"] = _form(profile)
    assert seen == dict.fromkeys(seen, ok)


def _rules(profile: dict[str, Any]) -> bool:
    try:
        profile_rules.check_fields(profile)
    except ProfileFieldError:
        return False
    return True


def test_errors_name_the_field_with_a_stable_code() -> None:
    with pytest.raises(ProfileFieldError) as info:
        profile_rules.check_fields({**GOOD, "display_name": "A\u202eB"}, "profiles[3]")
    assert (info.value.field, info.value.code) == ("profiles[3].display_name", "bad_characters")
    assert str(info.value).startswith("profiles[3].display_name: ")
    with pytest.raises(ProfileFieldError) as info:
        profile_rules.staff_number("S" * 65)
    assert info.value.code == "too_long"
    with pytest.raises(ProfileFieldError) as info:
        profile_rules.display_name("x" * 100_000)          # refused before normalising
    assert info.value.code == "too_long"
    with pytest.raises(ProfileFieldError) as info:
        profile_rules.pin_verifier("not-a-verifier")
    assert (info.value.field, info.value.code) == ("pin_verifier", "bad_format")


def test_values_are_normalised_alike() -> None:
    assert profile_rules.display_name("  Ona \u00a0  Petraitytė ") == "Ona Petraitytė"
    assert profile_rules.display_name("Zu\u0308rich") == "Z\u00fcrich"     # NFC
    assert profile_rules.staff_number(" ＬＴ  00４2 ") == "LT 0042"         # NFKC, spaces
    assert profile_rules.staff_key("lt 00 42") == profile_rules.staff_key("LT0042")
