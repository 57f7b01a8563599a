"""My record in real Chromium against the real app on 127.0.0.1 (web mode): the learner
signs in, opens My progress, taps "Save my record" and the browser gets a download — a
zip with exactly her record — with every non-loopback request blocked (it works
offline: the bytes come through the page, not from any URL)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.ui.main import open_device
from tests.e2e.ui_harness import AppServer, chromium, install_fixture_packs, start_app

pytestmark = pytest.mark.browser
PIN = "2580"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    work = tmp_path_factory.mktemp("record-e2e")
    data = work / "device"
    install_fixture_packs(data, work)
    device = open_device(data)
    try:
        device.create_profile("Lina Learner", "L-1", "prison_officer", "en", PIN, PIN)
        device.create_profile("Otto Other", "OTHER-9", "prison_officer", "en", "4719", "4719")
    finally:
        device.close()
    srv = start_app(data, work / "app.log")
    yield srv
    srv.stop()


def test_save_my_record_downloads_the_learners_zip(server: AppServer, tmp_path: Path) -> None:
    with chromium() as b:
        b.open(server.url)
        b.text("Who is learning?")
        b.tap_card("Lina Learner")
        for i, digit in enumerate(PIN, start=1):
            b.tap(digit)
            b.text(f"{i} digit")
        b.tap("Sign in")
        b.tap("My progress", role="tab", exact=False)
        b.text("My record")
        with b.page.expect_download(timeout=30_000) as info:
            b.tap("Save my record")
        download = info.value
        assert download.suggested_filename.startswith("my-record-Lina-Learner-")
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        assert not b.blocked, f"requests left 127.0.0.1: {b.blocked}"
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as zf:
        record = json.loads(zf.read("record.json"))
        html = zf.read("record.html").decode("utf-8")
    assert record["learner"]["display_name"] == "Lina Learner"
    assert "Otto" not in json.dumps(record) and "Otto" not in html
    log = Path(server.log).read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log
