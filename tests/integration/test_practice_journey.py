"""Observed practice end to end: a real sync server (uvicorn on 127.0.0.1) and real tablets
(app.ui.main.open_device: real stores, the real sync client).

Journey: the admin publishes a pack whose course c1 asks for two observed workplace tasks.
A learner passes c1 on tablet A → no certificate. On tablet B a mentor confirms two tasks
(the learner signed in, the mentor's own PIN): after the first sync of B still none; the
certificate is issued only once the second observation reaches the server, and tablet A
shows it verified after its next sync. Then the programme (c1 + c2 + a self-assessment +
two observed tasks): c2 passed on A, the self-assessment — its last part — synced from B
→ exactly one programme certificate, genuine at /verify, shown verified on the tablets,
still one after every tablet syncs again.

And a forged observation pushed by an enrolled device for a mentor of another facility is
stored but worth nothing.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.application import Device, Session
from app.core.packs import build_pack, load_private_key
from app.core.packs.keys import write_keypair
from app.ui.main import open_device
from tests.support.practice_pack import PACK, PROGRAMME, make_pack_source
from tests.support.server import (
    ServerProcess,
    admin_token,
    bearer,
    enrol_device,
    make_profile,
    seed,
)

FACILITY = "vilnius-1"
PIN = "2580"
MENTOR_PIN = "4719"


def admin_post(base: str, token: str, path: str, **kw: Any) -> httpx.Response:
    r = httpx.post(f"{base}/api/v1/admin{path}",
                   headers={**bearer(token), **kw.pop("headers", {})}, timeout=60, **kw)
    assert r.status_code in (200, 201, 204), f"{path}: {r.status_code} {r.text}"
    return r


def certificates(base: str, token: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{base}/api/v1/admin/certificates", headers=bearer(token), timeout=30)
    r.raise_for_status()
    return list(r.json())


def of(certs: list[dict[str, Any]], course: str) -> list[dict[str, Any]]:
    return [c for c in certs if c["course_id"] == course]


class World:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        key_file, self.pub_file = write_keypair(tmp / "author.key")
        self.server = ServerProcess(tmp / "srv", env={"SHIFT_TRUSTED_KEYS": str(self.pub_file)})
        self.base = self.server.start()
        self.devices: list[Device] = []
        seed(self.server.data_dir)
        self.token = admin_token(self.base)
        for fid in (FACILITY, "kaunas-2"):
            admin_post(self.base, self.token, "/facilities", json={"id": fid, "name": fid})
        built = build_pack(make_pack_source(tmp / "src", observed=2), load_private_key(key_file),
                           tmp / "built")
        admin_post(self.base, self.token, "/packs/upload", content=Path(built).read_bytes(),
                   headers={"Content-Type": "application/octet-stream"})
        admin_post(self.base, self.token, f"/packs/{PACK}/publish",
                   json={"version": 1, "facilities": [FACILITY], "roles": []})
        self.server_pub = (self.server.data_dir / "keys" / "server.key.pub").read_text("utf-8")

    def tablet(self, name: str) -> Device:
        device = open_device(self.tmp / name)
        self.devices.append(device)
        device.set_setting("trusted_keys", [self.pub_file.read_text("utf-8"), self.server_pub])
        device.set_setting("server_url", self.base)
        code = admin_post(self.base, self.token, "/enrol-codes",
                          json={"facility_id": FACILITY}).json()["code"]
        device.sync_now(enrol_code=code)
        assert PACK in {m["id"] for m in device.content.manifests()}
        return device

    def close(self) -> None:
        for device in self.devices:
            device.close()
        self.server.stop()


@pytest.fixture
def world(tmp_path: Path) -> Any:
    w = World(tmp_path)
    yield w
    w.close()


def pass_course(s: Session, course: str) -> None:
    for lesson in s.learning.outline(PACK, course).lessons:
        view = s.learning.open_lesson(PACK, course, lesson.id)
        for card in view.cards:
            s.learning.finish_card(PACK, course, lesson.id, card.index)
    attempt = s.learning.current_attempt(PACK, course, start=True)
    assert attempt is not None
    for q in attempt.questions:
        s.learning.answer(PACK, course, attempt.attempt, q.id, ["a"])   # "a" is right
    assert s.learning.submit(PACK, course, attempt.attempt).passed
    assert s.learning.outline(PACK, course).completed


def shown(s: Session) -> dict[str, str]:
    """Certificate title → what the tablet shows about it (verified / revoked / …)."""
    return {str(c.title): s.learning.certificate_check(c).shown
            for c in s.learning.my_progress().certificates}


def test_certificate_waits_for_the_second_observation_then_the_programme_once(
        world: World) -> None:
    base, token = world.base, world.token
    tablet_a = world.tablet("tablet-a")
    learner = tablet_a.create_profile("Lina Learner", "LT-100", "prison_officer", "en", PIN, PIN)
    a = Session(tablet_a)
    assert a.sign_in(learner, PIN)
    pass_course(a, "c1")
    tablet_a.sync_now()
    assert certificates(base, token) == []            # passed, but no task observed yet

    # ---- tablet B: the learner signs in, a mentor confirms two tasks with their PIN ------
    tablet_b = world.tablet("tablet-b")
    mentor = tablet_b.create_profile("Marius Mentor", "LT-200", "mentor", "en", MENTOR_PIN,
                                     MENTOR_PIN)
    b = Session(tablet_b)
    assert b.sign_in(learner, PIN), b.view.pin_error
    assert b.learning.outline(PACK, "c1").completed    # her history came with the pull
    today = b.practice.today()
    b.practice.confirm(PACK, "c1", "t1", mentor_id=mentor, pin=MENTOR_PIN, observed_on=today,
                       checklist=["a", "b"])
    tablet_b.sync_now()
    assert certificates(base, token) == []            # one of the two
    b.practice.confirm(PACK, "c1", "t2", mentor_id=mentor, pin=MENTOR_PIN, observed_on=today,
                       checklist=["a", "b"])
    assert certificates(base, token) == []            # not on the server yet
    tablet_b.sync_now()
    (c1,) = certificates(base, token)
    assert c1["course_id"] == "c1" and c1["learner_id"] == learner

    tablet_a.sync_now()
    assert shown(a) == {"Course c1": "verified"}

    # ---- the programme: c2 on A, then the last part (self-assessment) from B -------------
    pass_course(a, "c2")
    tablet_a.sync_now()
    certs = certificates(base, token)
    assert len(of(certs, "c2")) == 1 and of(certs, f"programme:{PROGRAMME}") == []
    view = b.assessment.view(PACK, "officer")
    assert view.assessment is not None
    for task in b.assessment.tasks_to_rate(view):
        b.assessment.rate(PACK, "officer", view.assessment, task.id, 2)
    b.assessment.complete(PACK, "officer", view.assessment)
    tablet_b.sync_now()
    (prog,) = of(certificates(base, token), f"programme:{PROGRAMME}")
    for tablet in (tablet_a, tablet_b, tablet_a, tablet_b):     # every part again: still one
        tablet.sync_now()
    assert len(of(certificates(base, token), f"programme:{PROGRAMME}")) == 1
    assert len(certificates(base, token)) == 3

    title = "Foundation in dynamic security"
    assert shown(a)[title] == "verified" and shown(b)[title] == "verified"
    verdict = httpx.get(f"{base}/verify/{prog['id']}", headers={"Accept": "application/json"})
    assert verdict.json()["status"] == "genuine"
    achievement = verdict.json()["credential"]["credentialSubject"]["achievement"]
    resolved = httpx.get(achievement["id"])
    assert resolved.status_code == 200 and resolved.json()["name"] == title
    pdf = httpx.get(f"{base}/certificates/{prog['id']}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_a_forged_observation_for_a_mentor_of_another_facility_is_worth_nothing(
        world: World) -> None:
    base, token = world.base, world.token
    # a mentor registered in another facility (pushed by a tablet of that facility)
    other = enrol_device(base, token, "kaunas-2")
    otto = make_profile(role="mentor", name="Otto Other")
    r = httpx.post(f"{base}/api/v1/sync/push", headers=other.headers,
                   json={"profiles": [otto], "events": []})
    assert r.json()["profiles"][0]["status"] == "registered"

    tablet_a = world.tablet("tablet-a")
    learner = tablet_a.create_profile("Lina Learner", "LT-100", "prison_officer", "en", PIN, PIN)
    a = Session(tablet_a)
    assert a.sign_in(learner, PIN)
    pass_course(a, "c1")
    tablet_a.sync_now()
    # a device of the learner's facility pushes two observations naming Otto
    forger = enrol_device(base, token, FACILITY)
    version = 1
    forged = [{"id": str(uuid.uuid4()), "learner": learner, "device": forger.device_id,
               "seq": n, "at": "2026-03-02T12:00:00.000Z", "type": "practice.observed",
               "pack": PACK, "pack_version": version,
               "ref": {"course": "c1", "task": task, "mentor": otto["id"]},
               "data": {"date": date(2026, 3, 2).isoformat(), "checklist": ["a", "b"]}}
              for n, task in ((1, "t1"), (2, "t2"))]
    r = httpx.post(f"{base}/api/v1/sync/push", headers=forger.headers,
                   json={"profiles": [], "events": forged})
    assert sorted(r.json()["stored"]) == sorted(str(e["id"]) for e in forged)   # stored …
    assert certificates(base, token) == []                                 # … worth nothing
    # a self-observation pushed the same way is worth nothing either
    selfie = {**forged[0], "id": str(uuid.uuid4()), "seq": 3,
              "ref": {"course": "c1", "task": "t3", "mentor": learner}}
    r = httpx.post(f"{base}/api/v1/sync/push", headers=forger.headers,
                   json={"profiles": [], "events": [selfie]})
    assert r.json()["stored"] == [selfie["id"]]
    assert certificates(base, token) == []
