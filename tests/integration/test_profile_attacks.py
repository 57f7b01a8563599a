"""Issue 13, rows 3, 4 and 6, tried as an attacker would: a real uvicorn server on SQLite
and PostgreSQL, two facilities, an enrolled device in each, real httpx. Each test asserts
the refusal AND that nothing else changed (the learner rows, what the facility's tablets
pull). Row 8 (lock-out aim) is in test_admin_throttle.py; the device side of PIN proofs in
tests/unit/test_store_profiles.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core import pins
from app.core.events import format_at
from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import (
    TEST_PIN,
    Enrolled,
    admin_token,
    bearer,
    enrol_device,
    learner_verifier,
    make_profile,
    open_repo,
    running_server,
    seed,
)


@dataclass
class Srv:
    url: str
    data_dir: Path
    database_url: str | None
    admin: str

    def device(self, facility: str) -> Enrolled:
        return enrol_device(self.url, self.admin, facility)

    def push(self, dev: Enrolled, *profiles: dict[str, Any],
             events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        r = httpx.post(self.url + "/api/v1/sync/push", headers=dev.headers, timeout=30,
                       json={"profiles": list(profiles), "events": events or []})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def pulled(self, dev: Enrolled) -> dict[str, dict[str, Any]]:
        r = httpx.post(self.url + "/api/v1/sync/pull", headers=dev.headers, timeout=30,
                       json={"events_after": 0, "profiles_after": 0})
        assert r.status_code == 200, r.text
        return {p["id"]: p for p in r.json()["profiles"]}

    def learners(self) -> dict[str, Any]:
        repo = open_repo(self.data_dir, self.database_url)
        try:
            return {x.id: x for x in repo.list_learners()}
        finally:
            repo.close()

    def register(self, facility: str, staff_number: str, name: str = "Admin Made"
                 ) -> dict[str, Any]:
        r = httpx.post(self.url + "/api/v1/admin/learners", headers=bearer(self.admin),
                       timeout=30, json={"staff_number": staff_number, "display_name": name,
                                         "role": "prison_officer", "facility_id": facility})
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Srv]:
    db = url_for_backend(request.param)
    data = tmp_path_factory.mktemp("srv")
    with running_server(data, db) as url:
        seed(data, db, facilities={"f1": "Facility one", "f2": "Facility two"})
        yield Srv(url, data, db, admin_token(url))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def proof_of(verifier: str, secret: str) -> str:
    key = pins.key_if_matches(verifier, secret)
    assert key is not None
    return pins.encode_proof(key)


NEW_PIN = "1357"


@pytest.fixture(scope="module")
def attacker_verifier() -> str:
    return pins.make_verifier(NEW_PIN)


# ----------------------------------------------------------------------------- row 3

def test_row3_a_forged_pin_change_with_a_far_future_stamp_is_refused(
        srv: Srv, attacker_verifier: str) -> None:
    tab, thief = srv.device("f1"), srv.device("f1")
    victim = make_profile(unique("V3"))
    assert srv.push(tab, victim)["profiles"][0]["status"] == "registered"
    before, pulled_before = srv.learners()[victim["id"]], srv.pulled(tab)[victim["id"]]
    forged = {**victim, "pin_verifier": attacker_verifier,
              "updated_at": "9999-12-31T23:59:59.999Z"}
    for proof in (None, pins.encode_proof(b"\0" * 32), victim["pin_verifier"].rsplit("$", 1)[1]):
        (outcome,) = srv.push(thief, {**forged, "pin_proof": proof})["profiles"]
        assert (outcome["status"], outcome["reason"]) == ("rejected", "pin_not_proven")
        assert outcome["current"]["pin_verifier"] == victim["pin_verifier"]   # tablet takes it
        assert srv.learners()[victim["id"]] == before                          # nothing changed
    assert srv.pulled(tab)[victim["id"]] == pulled_before


def test_row3_updated_at_is_clamped_to_the_server_clock(srv: Srv) -> None:
    """A far-future stamp (forged, or a tablet clock years ahead) is stored as the server's
    receive time: it cannot make a copy newer than every later real change."""
    tab = srv.device("f1")
    learner = make_profile(unique("C3"))
    srv.push(tab, learner)
    sent = datetime.now(UTC)
    srv.push(tab, {**learner, "display_name": "Far Future", "updated_at": "9999-12-31T23:59:59.999Z"})
    stored = srv.learners()[learner["id"]]
    assert stored.display_name == "Far Future"
    assert stored.updated_at <= format_at(datetime.now(UTC) + timedelta(seconds=1))
    assert stored.updated_at >= format_at(sent - timedelta(seconds=5))
    later = format_at(datetime.now(UTC) + timedelta(seconds=2))
    (outcome,) = srv.push(tab, {**learner, "display_name": "Real Change",
                                "updated_at": later})["profiles"]
    assert outcome["status"] == "updated"                  # not "unchanged" as before
    assert srv.learners()[learner["id"]].display_name == "Real Change"


def test_row3_a_real_pin_change_proves_the_old_pin(srv: Srv, attacker_verifier: str) -> None:
    tab_a, tab_b = srv.device("f1"), srv.device("f1")
    learner = make_profile(unique("P3"))
    srv.push(tab_a, learner)
    change = {**learner, "pin_verifier": attacker_verifier,
              "pin_proof": proof_of(learner["pin_verifier"], TEST_PIN)}
    (outcome,) = srv.push(tab_a, change)["profiles"]
    assert outcome["status"] == "updated"
    assert srv.pulled(tab_b)[learner["id"]]["pin_verifier"] == attacker_verifier
    # the old proof is spent: it does not prove the new PIN
    again = {**change, "pin_verifier": learner_verifier()}
    assert srv.push(tab_b, again)["profiles"][0]["reason"] == "pin_not_proven"
    # a weak verifier (an old app's scrypt 2^14) is not taken, even with a good proof
    weak = "scrypt$16384$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$" + "A" * 43 + "="
    (outcome,) = srv.push(tab_a, {**learner, "pin_verifier": weak,
                                  "pin_proof": proof_of(attacker_verifier, NEW_PIN)})["profiles"]
    assert (outcome["reason"], outcome["detail"].split(":")[0]) == ("bad_field", "pin_verifier")
    assert srv.learners()[learner["id"]].pin_verifier == attacker_verifier


def test_row3_the_first_pin_of_an_admin_registered_learner_needs_the_one_time_code(
        srv: Srv, attacker_verifier: str) -> None:
    tab, thief = srv.device("f1"), srv.device("f1")
    made = srv.register("f1", unique("A3"))
    lid, code = made["id"], made["pin_setup_code"]
    pulled = srv.pulled(tab)[lid]
    assert pulled["pin_verifier"] is None and pulled["pin_setup_verifier"].startswith("argon2id$")
    assert code not in str(pulled) and pins.normalise_code(code) not in str(pulled)
    before = srv.learners()[lid]
    take = {**{k: pulled[k] for k in ("id", "staff_number", "display_name", "role", "language",
                                      "updated_at")}, "pin_verifier": attacker_verifier}
    for proof in (None, pins.encode_proof(b"\1" * 32),
                  proof_of(pins.make_setup_verifier("AAAA-BBBB-CCCC"), "AAAABBBBCCCC")):
        (outcome,) = srv.push(thief, {**take, "pin_proof": proof})["profiles"]
        assert (outcome["status"], outcome["reason"]) == ("rejected", "pin_not_proven")
        assert srv.learners()[lid] == before
    # another facility's device cannot use even the right code
    other = srv.device("f2")
    good = proof_of(pulled["pin_setup_verifier"], pins.normalise_code(code))
    assert srv.push(other, {**take, "pin_proof": good})["profiles"][0]["reason"] == "other_facility"
    # the learner, with the code: once
    (outcome,) = srv.push(tab, {**take, "pin_proof": good})["profiles"]
    assert outcome["status"] == "updated"
    after = srv.learners()[lid]
    assert after.pin_verifier == attacker_verifier and after.pin_setup_verifier is None
    assert (after.staff_number, after.display_name) == (before.staff_number, before.display_name)
    (outcome,) = srv.push(thief, {**take, "pin_verifier": learner_verifier(),
                                  "pin_proof": good})["profiles"]
    assert outcome["reason"] == "pin_not_proven"           # the code worked once
    assert srv.learners()[lid] == after


def test_row3_an_expired_code_sets_no_pin_and_a_reset_issues_a_new_one(
        srv: Srv, attacker_verifier: str) -> None:
    tab = srv.device("f1")
    made = srv.register("f1", unique("E3"))
    lid = made["id"]
    repo = open_repo(srv.data_dir, srv.database_url)
    try:                                      # as if the code's 30 days had passed
        old = repo.get_learner(lid)
        repo.set_pin_setup(lid, old.pin_setup_verifier, "2020-01-01T00:00:00.000Z")
    finally:
        repo.close()
    pulled = srv.pulled(tab)[lid]
    push = {**{k: pulled[k] for k in ("id", "staff_number", "display_name", "role", "language",
                                      "updated_at")}, "pin_verifier": attacker_verifier,
            "pin_proof": proof_of(pulled["pin_setup_verifier"],
                                  pins.normalise_code(made["pin_setup_code"]))}
    (outcome,) = srv.push(tab, push)["profiles"]
    assert outcome["reason"] == "pin_not_proven" and "expired" in outcome["detail"]
    assert srv.learners()[lid].pin_verifier is None
    r = httpx.post(f"{srv.url}/api/v1/admin/learners/{lid}/pin-setup",
                   headers=bearer(srv.admin), timeout=30)
    assert r.status_code == 201
    fresh = srv.pulled(tab)[lid]
    push["pin_proof"] = proof_of(fresh["pin_setup_verifier"], pins.normalise_code(r.json()["code"]))
    assert srv.push(tab, push)["profiles"][0]["status"] == "updated"
    assert httpx.post(f"{srv.url}/api/v1/admin/learners/{uuid.uuid4()}/pin-setup",
                      headers=bearer(srv.admin), timeout=30).status_code == 404


# ----------------------------------------------------------------------------- row 4

@pytest.mark.parametrize(("field", "value"), [
    ("pin_verifier", "not-a-verifier"),
    ("pin_verifier", "argon2id$1048576$1$1$c2FsdHNhbHRzYWx0$" + "A" * 43 + "="),   # 1 GiB
    ("display_name", "Ona\x00Null"),
    ("display_name", "Ona\u202eavonaJ"),
    ("display_name", "Ona\x1b[2J"),
    ("staff_number", "LT\x00-1"),
    ("staff_number", "LT-\u202e1"),
    ("role", "warden"),
    ("language", "xx\x00"),
    ("pin_proof", "!!!"),
])
def test_row4_malformed_fields_are_refused_and_nothing_is_stored(
        srv: Srv, field: str, value: str) -> None:
    tab = srv.device("f1")
    existing = make_profile(unique("R4"))
    srv.push(tab, existing)
    before, pulled_before = srv.learners(), srv.pulled(tab)
    fresh = make_profile(unique("N4"))
    event = {"id": str(uuid.uuid4()), "learner": existing["id"], "device": tab.device_id,
             "seq": 1, "at": "2026-01-01T09:00:00.000Z", "type": "card.viewed",
             "pack": "promote-core", "pack_version": 1,
             "ref": {"course": "c", "lesson": "l", "card": "0"}, "data": {}}
    answer = srv.push(tab, {**fresh, field: value}, {**existing, field: value,
                                                     "updated_at": "2026-06-01T00:00:00.000Z"},
                      events=[event])
    for outcome in answer["profiles"]:
        assert outcome["status"] == "rejected"
        assert outcome["reason"] == ("unknown_role" if field == "role" else "bad_field")
        assert outcome["detail"].startswith(f"{field}: ")
    assert answer["stored"] == [event["id"]]          # one bad profile blocks nobody's events
    assert srv.learners() == before and srv.pulled(tab) == pulled_before


def test_row4_the_admin_api_refuses_the_same_values(srv: Srv) -> None:
    before = srv.learners()
    for name in ("Ona\x00", "Ona\u202eX", "Ona\x1b[0m", "x" * 81):
        r = httpx.post(srv.url + "/api/v1/admin/learners", headers=bearer(srv.admin), timeout=30,
                       json={"staff_number": unique("API"), "display_name": name,
                             "role": "prison_officer", "facility_id": "f1"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "display_name"]
    assert srv.learners() == before


# ----------------------------------------------------------------------------- row 6

def test_row6_staff_numbers_of_another_facility_neither_block_nor_leak(srv: Srv) -> None:
    own_tab, foreign_tab = srv.device("f1"), srv.device("f2")
    staff = unique("LT6")
    mine = make_profile(staff)
    assert srv.push(own_tab, mine)["profiles"][0]["status"] == "registered"
    admin_made = srv.register("f1", staff + "-A")
    before = {k: v for k, v in srv.learners().items() if v.facility_id == "f1"}
    f1_pull = srv.pulled(own_tab)
    # f2's device registers f1's staff numbers (any spelling): its own learners, no clash
    squat = [make_profile(staff.lower()), make_profile(staff + "-a")]
    answer = srv.push(foreign_tab, *squat)
    assert [(o["status"], o["reason"], o["existing_id"]) for o in answer["profiles"]] == [
        ("registered", None, None)] * 2
    text = str(answer)
    assert mine["id"] not in text and admin_made["id"] not in text
    # nothing of f1 changed; f1's pull does not show f2's learners, nor f2's pull f1's
    assert {k: v for k, v in srv.learners().items() if v.facility_id == "f1"} == before
    assert srv.pulled(own_tab) == f1_pull
    assert not set(srv.pulled(foreign_tab)) & set(before)
    # f1 still creates its own learners (tablet and admin), and the clash answer inside
    # f1 names only f1's learner (the tablet's re-attribution needs it)
    clash = srv.push(own_tab, make_profile(staff.lower()))["profiles"][0]
    assert (clash["reason"], clash["existing_id"]) == ("staff_number_taken", mine["id"])
    assert srv.push(own_tab, make_profile(unique("LT6")))["profiles"][0]["status"] == "registered"
    r = httpx.post(srv.url + "/api/v1/admin/learners", headers=bearer(srv.admin), timeout=30,
                   json={"staff_number": staff + "-b", "display_name": "F2 Person",
                         "role": "trainer", "facility_id": "f2"})
    assert r.status_code == 201
    # f2's device pushing an f1 learner's id is refused without detail
    (outcome,) = srv.push(foreign_tab, replace_id(make_profile(staff), mine["id"]))["profiles"]
    assert (outcome["reason"], outcome["existing_id"], outcome.get("current")) == (
        "other_facility", None, None)


def replace_id(profile: dict[str, Any], learner_id: str) -> dict[str, Any]:
    return {**profile, "id": learner_id}



# ----------------------------------------------------------------------------- tablets

def test_a_refused_first_pin_falls_back_to_the_servers_copy_on_the_tablet(
        srv: Srv, tmp_path: Path) -> None:
    """A learner sets a first PIN offline with a code that expires before the tablet
    syncs: the server refuses the PIN (pin_not_proven) and sends its copy; the real sync
    client takes it, so the tablet asks for a set-up code again instead of keeping a PIN
    no other tablet knows; nothing stays waiting."""
    from app.core.application import Session
    from app.ui.main import open_device

    made = srv.register("f1", unique("T3"))
    lid, code = made["id"], made["pin_setup_code"]
    r = httpx.post(f"{srv.url}/api/v1/admin/enrol-codes", headers=bearer(srv.admin),
                   json={"facility_id": "f1"}, timeout=30)
    device = open_device(tmp_path / "tablet")
    try:
        device.set_setting("server_url", srv.url)
        device.sync_now(enrol_code=r.json()["code"])
        session = Session(device)
        assert session.set_first_pin(lid, TEST_PIN, TEST_PIN, code=code)
        session.lock()
        repo = open_repo(srv.data_dir, srv.database_url)
        try:                                           # the code expires on the server
            learner = repo.get_learner(lid)
            repo.set_pin_setup(lid, learner.pin_setup_verifier, "2020-01-01T00:00:00.000Z")
        finally:
            repo.close()
        report = device.sync_now().last_report
        assert "pin_not_proven" in report.profiles_refused[lid]    # refused, then taken back
        assert device.profiles.needs_pin(lid) and device.store.profiles.pending_push() == []
        assert srv.learners()[lid].pin_verifier is None
        device.sync_now()                                # settles: nothing more to send
        assert device.store.outbox_count() == 0 and not device.store.rejected()
    finally:
        device.close()


def test_an_old_verifier_is_upgraded_at_sign_in_and_the_server_takes_it(
        srv: Srv, tmp_path: Path) -> None:
    """A learner whose verifier is an old scrypt one (stored wrapped by the server) signs in
    on a tablet: the tablet makes an argon2id verifier and pushes it with K of the old PIN;
    the server takes it, and a device that only holds the old verifier cannot."""
    import base64
    import hashlib

    from app.core.store import Store
    from sync_server.db.repository import Learner

    salt = b"0123456789abcdef"
    legacy = "scrypt$16384$8$1${}${}".format(base64.b64encode(salt).decode(), base64.b64encode(
        hashlib.scrypt(TEST_PIN.encode(), salt=salt, n=16384, r=8, p=1, dklen=32)).decode())
    lid = str(uuid.uuid4())
    repo = open_repo(srv.data_dir, srv.database_url)
    try:
        repo.save_profile(Learner(lid, unique("OLD"), "f1", "trainer", "en", "Old Timer",
                                  pins.canonical(legacy), "2026-01-01T00:00:00.000Z"))
    finally:
        repo.close()
    tab, thief = srv.device("f1"), srv.device("f1")
    pulled = srv.pulled(tab)[lid]
    assert pulled["pin_verifier"].startswith("scrypt-sha256$")     # K is not distributed
    # knowing only the distributed verifier gives no usable proof
    forged = {**{k: pulled[k] for k in ("id", "staff_number", "display_name", "role",
                                        "language", "updated_at")},
              "pin_verifier": learner_verifier(),
              "pin_proof": pulled["pin_verifier"].rsplit("$", 1)[1]}
    assert srv.push(thief, forged)["profiles"][0]["reason"] == "pin_not_proven"
    with Store.open(tmp_path / "tablet") as store:
        store.profiles.upsert_remote([pulled])
        assert store.profiles.verify_pin(lid, TEST_PIN)              # signs in, upgrades
        (pending,) = store.profiles.pending_push()
        body = {k: pending[k] for k in ("id", "staff_number", "display_name", "role",
                                        "language", "pin_verifier", "pin_proof", "updated_at")}
        assert srv.push(tab, body)["profiles"][0]["status"] == "updated"
    stored = srv.learners()[lid].pin_verifier
    assert stored == pending["pin_verifier"] and pins.is_strong(stored)
    assert pins.verify(stored, TEST_PIN)
