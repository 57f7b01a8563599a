"""PIN policy (issue 15 item 6): a deployment requiring 6-digit PINs. A real uvicorn
with SHIFT_PIN_DIGITS=6 on 127.0.0.1, real httpx pushes, and a real tablet (Device +
sync client) that learns the policy from its pull and keeps it offline.

The server can check only what a tablet claims (``pin_digits``): the verifier hides the
PIN (docs/security.md "PIN policy")."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core import pins
from app.core.application import ProfileFormError, Session
from app.core.errors import ErrorCode, StoreError
from tests.support.postgres import BACKENDS, url_for_backend
from tests.support.server import (
    TEST_PIN,
    admin_token,
    bearer,
    enrol_device,
    make_profile,
    open_repo,
    running_server,
    seed,
)

SIX = "258013"


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str | None, str]]:
    db = url_for_backend(request.param)
    data = tmp_path_factory.mktemp("policy")
    with running_server(data, db, {"SHIFT_PIN_DIGITS": "6"}) as url:
        seed(data, db, facilities={"f1": "Facility one"})
        yield url, data, db, admin_token(url)


def push(url: str, headers: dict[str, str], *profiles: dict[str, Any]) -> list[dict[str, Any]]:
    r = httpx.post(url + "/api/v1/sync/push", headers=headers, timeout=30,
                   json={"profiles": list(profiles), "events": []})
    assert r.status_code == 200, r.text
    return r.json()["profiles"]  # type: ignore[no-any-return]


def proof(verifier: str, pin: str) -> str:
    key = pins.key_if_matches(verifier, pin)
    assert key is not None
    return pins.encode_proof(key)


def test_the_pull_answer_carries_the_policy(srv: tuple[str, Path, str | None, str]) -> None:
    url, _data, _db, admin = srv
    dev = enrol_device(url, admin, "f1")
    r = httpx.post(url + "/api/v1/sync/pull", headers=dev.headers, json={}, timeout=30)
    # and the retention period, which tablets follow for sent events (docs/privacy.md §5)
    assert r.json()["policy"] == {"pin_min_digits": 6, "retention_events_years": 6}


def test_the_server_refuses_a_claimed_short_pin_and_takes_what_it_cannot_check(
        srv: tuple[str, Path, str | None, str]) -> None:
    url, data, db, admin = srv
    dev = enrol_device(url, admin, "f1")
    short = {**make_profile(f"P-{uuid.uuid4().hex[:6]}"), "pin_digits": 4}
    (out,) = push(url, dev.headers, short)
    assert (out["status"], out["reason"]) == ("rejected", "pin_too_short")
    assert "at least 6 digits" in out["detail"]
    six_verifier = pins.make_verifier(SIX)
    good = {**make_profile(f"P-{uuid.uuid4().hex[:6]}"), "pin_verifier": six_verifier,
            "pin_digits": 6}
    assert push(url, dev.headers, good)[0]["status"] == "registered"
    # an older app sends no claim: the server cannot count the digits and takes it
    unclaimed = make_profile(f"P-{uuid.uuid4().hex[:6]}")
    assert push(url, dev.headers, unclaimed)[0]["status"] == "registered"
    # ... and that learner's 4-digit PIN keeps working until changed; a change to a
    # claimed 4-digit PIN is refused and the server's copy comes back
    other = pins.make_verifier("1357")
    (out,) = push(url, dev.headers, {**unclaimed, "pin_verifier": other, "pin_digits": 4,
                                     "pin_proof": proof(unclaimed["pin_verifier"], TEST_PIN)})
    assert (out["reason"], out["current"]["pin_verifier"]) == (
        "pin_too_short", unclaimed["pin_verifier"])
    (out,) = push(url, dev.headers, {**unclaimed, "pin_verifier": six_verifier, "pin_digits": 6,
                                     "pin_proof": proof(unclaimed["pin_verifier"], TEST_PIN)})
    assert out["status"] == "updated"
    repo = open_repo(data, db)
    try:
        assert repo.get_learner(short["id"]) is None
        assert repo.get_learner(unclaimed["id"]).pin_verifier == six_verifier
    finally:
        repo.close()
    # a hostile claim is refused naming the field (the chunk's schema), nothing stored
    for bad in (0, 9, "six", [6], 1.5):
        hostile = {**make_profile(), "pin_digits": bad}
        r = httpx.post(url + "/api/v1/sync/push", headers=dev.headers, timeout=30,
                       json={"profiles": [hostile], "events": []})
        assert r.status_code == 422 and "pin_digits" in r.text, (bad, r.text)
        repo = open_repo(data, db)
        try:
            assert repo.get_learner(hostile["id"]) is None
        finally:
            repo.close()


def test_a_tablet_learns_the_policy_and_keeps_it(srv: tuple[str, Path, str | None, str],
                                                 tmp_path: Path) -> None:
    from app.ui.main import open_device

    url, _data, _db, admin = srv
    code = httpx.post(f"{url}/api/v1/admin/enrol-codes", headers=bearer(admin),
                      json={"facility_id": "f1"}, timeout=30).json()["code"]
    device = open_device(tmp_path / "tablet")
    try:
        assert device.pin_min_digits == 4                 # never told: the default
        old = device.create_profile("Ona Old", f"O-{uuid.uuid4().hex[:6]}", "prison_officer",
                                    "en", "2580", "2580")
        device.set_setting("server_url", url)
        first = device.sync_now(enrol_code=code).last_report
        assert device.pin_min_digits == 6
        assert first.profiles_refused == {old: "pin_too_short"}   # made before the policy
        with pytest.raises(ProfileFormError) as err:
            device.create_profile("Rasa New", f"N-{uuid.uuid4().hex[:6]}", "prison_officer",
                                  "en", "2580", "2580")
        assert (err.value.code, err.value.limit) == (ErrorCode.PIN_TOO_SHORT, 6)
        with pytest.raises(StoreError):                   # the store holds the line too
            device.store.profiles.create("Rasa New", "N-2", "prison_officer", "en", "2580",
                                         min_digits=6)
        new = device.create_profile("Rasa New", f"N-{uuid.uuid4().hex[:6]}", "prison_officer",
                                    "en", SIX, SIX)
        session = Session(device)
        assert session.sign_in(old, "2580")               # the old 4-digit PIN still works
        assert session.pin_below_policy and session.new_pin_waits_for_server  # home asks
        assert not session.change_pin("2580", "1357", "1357")
        assert session.view.form_error is not None
        assert session.view.form_error.code == ErrorCode.PIN_TOO_SHORT
        assert session.change_pin("2580", "147036", "147036")
        assert not session.pin_below_policy
        session.lock()
        report = device.sync_now().last_report
        assert not report.profiles_refused
        assert {old, new} <= {p["id"] for p in httpx.post(
            url + "/api/v1/sync/pull", headers=enrol_device(url, admin, "f1").headers,
            json={}, timeout=30).json()["profiles"]}
    finally:
        device.close()
    device = open_device(tmp_path / "tablet")             # offline: the policy is kept
    try:
        assert device.pin_min_digits == 6
    finally:
        device.close()
