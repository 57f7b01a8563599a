"""My progress → "My record" (issue 15 item 1, device side): one zip with record.json,
record.html (autoescaped) and the certificates as received — exactly the signed-in
learner's data, never another learner's on the same tablet."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.core.application import Device, Session
from app.core.application.my_record import export
from app.core.errors import AuthError
from app.core.events import format_at
from tests.e2e.ui_fixtures import ManualClock, make_device, signed_in

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def at(minute: int) -> str:
    return format_at(datetime(2026, 11, 23, 10, minute, tzinfo=UTC))


def event(learner: str, seq: int, type_: str, ref: dict[str, Any], data: dict[str, Any],
          device: str = "tablet-1") -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "learner": learner, "device": device, "seq": seq,
            "at": at(seq), "type": type_, "pack": "ui-demo", "pack_version": 1,
            "ref": ref, "data": data}


def give_history(device: Device, session: Session, mentor: str, tag: str) -> dict[str, str]:
    """Reading, a self-assessment, an observation and a certificate, each marked `tag`."""
    learner = session.learner_id
    assert learner is not None
    session.learning.open_lesson("ui-demo", "safety", "01-notice")
    session.learning.finish_card("ui-demo", "safety", "01-notice", 0)
    assessment, cert = str(uuid.uuid4()), str(uuid.uuid4())
    for n, (type_, ref, data) in enumerate([
        ("selfassessment.started", {"profile": f"prof-{tag}", "assessment": assessment},
         {"role": "prison_officer"}),
        ("selfassessment.rated", {"profile": f"prof-{tag}", "assessment": assessment,
                                  "task": f"task-{tag}"}, {"level": 3, "min": 1, "max": 5}),
        ("selfassessment.completed", {"profile": f"prof-{tag}", "assessment": assessment},
         {"rated": 1}),
        ("practice.observed", {"course": "safety", "task": f"obs-{tag}", "mentor": mentor},
         {"date": "2026-11-20", "checklist": ["a"]}),
    ], start=50):
        local = event(learner, n, type_, ref, data)
        del local["device"], local["seq"]                 # the store completes them
        device.store.append(local)
    device.store.merge([{**event(learner, 1, "certificate.received",
                                 {"certificate": cert, "course": "safety"},
                                 {"credential": {"id": f"urn:uuid:{cert}", "name": f"cred-{tag}"},
                                  "title": f"Certificate {tag}"}, device="server"),
                         "received_at": at(59)}])
    return {"assessment": assessment, "certificate": cert}


def unzip(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n).decode("utf-8") for n in zf.namelist()}


@pytest.fixture
def device(tmp_path: Path) -> Device:
    dev = make_device(tmp_path, ManualClock())
    yield dev  # type: ignore[misc]
    dev.close()


def test_the_record_holds_exactly_the_signed_in_learners_data(device: Device) -> None:
    device.set_setting("server_url", "https://learning.example.org")
    mentor = signed_in(device, name="Mara Mentor", role="mentor", staff="M-1")
    mentor_id = mentor.learner_id
    assert mentor_id is not None
    mentor.lock()
    other = signed_in(device, name="Otto Other", staff="OTHER-77")
    theirs = give_history(device, other, mentor_id, "OTHERTAG")
    other.lock()
    me = signed_in(device, name=HOSTILE, staff="MINE-42")
    mine = give_history(device, me, mentor_id, "MINETAG")

    record_file = export(me)
    assert record_file.name.startswith("my-record-") and record_file.name.endswith(".zip")
    assert "<" not in record_file.name and "/" not in record_file.name
    files = unzip(record_file.data)
    assert set(files) == {"record.json", "record.html",
                          f"certificates/{mine['certificate']}.json"}
    record = json.loads(files["record.json"])
    assert record["learner"]["display_name"] == HOSTILE
    assert [c["course"] for c in record["courses"]] == ["safety"]
    (sa,) = record["self_assessments"]
    assert sa["assessment"] == mine["assessment"] and sa["ratings"][0]["level"] == 3
    (obs,) = record["observed_practice"]
    assert (obs["task"], obs["mentor"]) == ("obs-MINETAG", "Mara Mentor")
    (cert,) = record["certificates"]
    assert cert["verify_url"] == f"https://learning.example.org/verify/{mine['certificate']}"
    assert cert["status_on_this_tablet"] == "unverified"
    received = json.loads(files[f"certificates/{mine['certificate']}.json"])
    assert received == {"id": f"urn:uuid:{mine['certificate']}", "name": "cred-MINETAG"}
    # nobody else's data: not the other learner's name, staff number, id, tags or ids
    everything = "\n".join(files.values())
    for foreign in ("Otto Other", "OTHER-77", other.learner_id or "?", "OTHERTAG",
                    theirs["assessment"], theirs["certificate"], mentor_id):
        assert foreign not in everything, foreign
    # and no secrets: no staff number, verifier, device id
    for secret in ("MINE-42", "argon2id", device.store.device_id):
        assert secret not in everything, secret
    # the HTML escapes what the learner typed
    assert "<script>" not in files["record.html"]
    assert "&lt;script&gt;" in files["record.html"]


def test_a_record_in_the_learners_language_and_empty(device: Device) -> None:
    me = signed_in(device, language="lt", staff="LT-9")
    files = unzip(export(me).data)
    record = json.loads(files["record.json"])
    assert record["courses"] == [] and record["certificates"] == []
    assert '<html lang="lt">' in files["record.html"]
    assert set(files) == {"record.json", "record.html"}


def test_nobody_signed_in_gets_no_record(device: Device) -> None:
    with pytest.raises(AuthError):
        export(Session(device))


def test_my_progress_offers_the_record(device: Device) -> None:
    from tests.e2e.ui_fixtures import build, by_key

    me = signed_in(device, staff="LT-5")
    view, _ctx, _rec = build(me, "/progress")
    button = by_key(view, "my-record")
    # no page here, so no save dialog: the learner is told, nothing breaks
    import asyncio
    asyncio.run(button.on_click(None))
    assert [f.kind for f in me.view.flashes] == ["error"]
    assert me.view.flashes[0].text.startswith("Could not save the file")
