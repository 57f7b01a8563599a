"""Observed practice in real Chromium against the real app on 127.0.0.1: the learner signs
in, opens a workplace task and hands the tablet to a mentor, who picks their tile, types
their own PIN and confirms — the learner stays signed in and the task shows as observed.
Every non-loopback request is blocked (and recorded): none may be made."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.ui.main import open_device
from tests.e2e.ui_harness import AppServer, chromium, install_fixture_packs, start_app
from tests.support.practice_pack import make_pack_source

pytestmark = pytest.mark.browser
PIN, MENTOR_PIN = "2580", "4719"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    work = tmp_path_factory.mktemp("practice-e2e")
    data = work / "device"
    install_fixture_packs(data, work, [make_pack_source(work / "src")])
    device = open_device(data)              # profiles made before the app holds the folder
    try:
        device.create_profile("Lina Learner", "L-1", "prison_officer", "en", PIN, PIN)
        device.create_profile("Marius Mentor", "M-1", "mentor", "en", MENTOR_PIN, MENTOR_PIN)
    finally:
        device.close()
    srv = start_app(data, work / "app.log")
    yield srv
    srv.stop()


def test_a_mentor_confirms_a_task_with_their_own_pin(server: AppServer) -> None:
    with chromium() as b:
        b.open(server.url)
        b.text("Who is learning?")
        b.tap_card("Lina Learner")
        for i, digit in enumerate(PIN, start=1):
            b.tap(digit)
            b.text(f"{i} digit")
        b.tap("Sign in")
        b.text("Course c1")
        b.tap("My progress", role="tab", exact=False)
        b.tap("Workplace tasks")
        b.text("needs 2 tasks observed")
        b.tap_card("Task t1")
        b.text("Does step a of t1.")
        b.tap("Marius Mentor · Mentor", role="checkbox")
        b.type_into("Mentor's PIN", MENTOR_PIN)
        b.tap("Confirm as observed")
        b.text("Observation recorded")
        b.text("Observed on")
        assert b.has_text("Task t2") and b.has_text("Not observed yet")
        assert not b.blocked, f"requests left 127.0.0.1: {b.blocked}"
    log = Path(server.log).read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log
