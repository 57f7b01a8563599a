"""Acceptance: the whole system as its users meet it, in one walk.

Admin (JSON API) creates a facility, uploads the real promote-core pack (built here with
app.core.packs, signed with an author key the server trusts) and publishes it → tablet A
(real TinyDB folder, app.core.application.Device wired like the app) enrols with a code and syncs through the real
sync client: the pack arrives over the network and installs → a learner makes a profile,
reads every card of one course, passes its quiz (answers taken from the manifest), does a
self-assessment and starts the next course → sync → the server holds each event exactly
once and has issued one certificate → tablet B of the same facility enrols, syncs, the same
learner signs in with the same PIN and sees the same progress, resume point and
certificate; the certificate verifies offline against the server key → /verify says
genuine, a tampered copy fails → the admin xAPI export has one statement per event, with
the event id as statement id. Along the way: work continued on B shows on A, a failed
then passed quiz, a profile change, the server down for a while, a pack v2 update and a
tablet restart. The other tests: background syncs during learning, one staff number made
on two tablets offline (xfail: no way out on the tablet), and a learner the admin
registered setting a first PIN on a tablet.
"""

from __future__ import annotations

import copy
import json
import shutil
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.application import Device, Session
from app.core.certificates import CertificateStatus, verify_credential
from app.core.errors import SyncError
from app.core.packs import build_pack, load_private_key
from app.core.packs.keys import TrustedKeys, load_public_key, write_keypair
from app.sync import DeviceSyncer
from app.ui.main import open_device
from tests.support.server import ServerProcess, admin_token, bearer, open_repo, seed

ROOT = Path(__file__).resolve().parents[2]
PROMOTE_CORE = ROOT / "content_packs" / "promote-core"
PACK = "promote-core"
#: the version of the promote-core source (it grows with every content release): the
#: journey publishes it, then a copy one version higher as the content update
VERSION = tomllib.loads((PROMOTE_CORE / "pack.toml").read_text(encoding="utf-8"))["version"]
FACILITY = "vilnius-1"
PIN = "2580"


def correct_answers(manifest: dict[str, Any], course: str) -> dict[str, list[str]]:
    """Question (and scenario part) id → ids of its correct options, from the manifest."""
    quiz = next(c for c in manifest["courses"] if c["id"] == course)["quiz"]
    out: dict[str, list[str]] = {}

    def add(q: dict[str, Any], prefix: str = "") -> None:
        if q.get("parts"):
            for part in q["parts"]:
                add(part, f"{q['id']}/")
            return
        right = [o["id"] for o in q["options"] if o.get("correct")]
        out[q["id"]] = right
        out.setdefault(prefix + q["id"], right)
    for q in quiz["questions"]:
        add(q)
    return out


def sync(device: Device, code: str | None = None) -> None:
    device.sync_now(enrol_code=code)   # the Settings button: waits, raises a SyncError


def admin_post(base: str, token: str, path: str, **kw: Any) -> httpx.Response:
    r = httpx.post(f"{base}/api/v1/admin{path}", headers={**bearer(token), **kw.pop("headers", {})},
                   timeout=60, **kw)
    assert r.status_code in (200, 201, 204), f"{path}: {r.status_code} {r.text}"
    return r


def server_events(data: Path, learner: str) -> list[dict[str, Any]]:
    repo = open_repo(data)
    try:
        stored = repo.events_after(FACILITY, 0, 100_000)
    finally:
        repo.close()
    events = [json.loads(s.content) for s in stored]
    return [e for e in events if e.get("learner") == learner]


def progress_summary(session: Session, course: str) -> dict[str, Any]:
    outline = session.learning.outline(PACK, course)
    progress = session.learning.my_progress()
    return {
        "lessons": [(lesson.id, lesson.viewed, lesson.state) for lesson in outline.lessons],
        "passed": outline.quiz.passed if outline.quiz else None,
        "best": outline.quiz.best_score if outline.quiz else None,
        "completed": [(r.course, r.completed_at, r.best_score) for r in progress.completed],
        "resume": session.learning.library().resume,
        "certificates": sorted(c.id for c in progress.certificates),
    }


def test_whole_journey(tmp_path: Path) -> None:
    key_file, pub_file = write_keypair(tmp_path / "author.key")
    server = ServerProcess(tmp_path / "srv", env={"SHIFT_TRUSTED_KEYS": str(pub_file)})
    base = server.start()
    devices: list[Device] = []
    try:
        _journey(tmp_path, server, base, key_file, pub_file, devices)
    finally:
        for device in devices:
            device.close()                       # stops background sync first
        server.stop()


def _journey(tmp: Path, server: ServerProcess, base: str, key_file: Path, pub_file: Path,
             devices: list[Device]) -> None:
    data = server.data_dir
    seed(data)                                           # the first admin account
    token = admin_token(base)

    # ---- admin: facility, upload + publish the real pack --------------------------------
    admin_post(base, token, "/facilities", json={"id": FACILITY, "name": "Vilnius pataisos namai"})
    built = build_pack(PROMOTE_CORE, load_private_key(key_file), tmp / "built")
    uploaded = admin_post(base, token, "/packs/upload", content=Path(built).read_bytes(),
                          headers={"Content-Type": "application/octet-stream"}).json()
    assert (uploaded["id"], uploaded["version"]) == (PACK, VERSION), uploaded
    admin_post(base, token, f"/packs/{PACK}/publish",
               json={"version": uploaded["version"], "facilities": [FACILITY], "roles": []})
    server_pub = (data / "keys" / "server.key.pub").read_text(encoding="utf-8")

    def new_tablet(name: str) -> Device:
        device = open_device(tmp / name)
        devices.append(device)
        device.set_setting("trusted_keys", [pub_file.read_text(encoding="utf-8"), server_pub])
        device.set_setting("server_url", base)
        code = admin_post(base, token, "/enrol-codes", json={"facility_id": FACILITY}).json()["code"]
        sync(device, code)
        return device

    # ---- tablet A: enrol + sync → the pack arrives and installs ---------------------------
    tablet_a = new_tablet("tablet-a")
    manifests = {m["id"]: m for m in tablet_a.content.manifests()}
    assert PACK in manifests, "promote-core did not install on tablet A"
    manifest = manifests[PACK]
    course, next_course = manifest["courses"][0]["id"], manifest["courses"][1]["id"]

    # ---- learner on tablet A --------------------------------------------------------------
    learner = tablet_a.create_profile("Rasa Petrauskienė", "LT-4711", "prison_officer", "lt",
                                      PIN, PIN)
    a = Session(tablet_a)
    assert a.sign_in(learner, PIN), a.view.pin_error
    outline = a.learning.outline(PACK, course)
    for lesson in outline.lessons:
        view = a.learning.open_lesson(PACK, course, lesson.id)
        assert len(view.cards) == lesson.cards > 0 and view.lang == "lt"
        for card in view.cards:
            a.learning.finish_card(PACK, course, lesson.id, card.index)
    assert all(s.state == "done" for s in a.learning.outline(PACK, course).lessons)

    answers = correct_answers(manifest, course)
    attempt = a.learning.current_attempt(PACK, course, start=True)
    for question in attempt.questions:
        key = question.id if question.id in answers else f"{question.scenario}/{question.id}"
        a.learning.answer(PACK, course, attempt.attempt, question.id, answers[key])
    result = a.learning.submit(PACK, course, attempt.attempt)
    assert result.passed and result.score == pytest.approx(100), result
    assert a.learning.outline(PACK, course).completed

    profile = a.assessment.profiles()[0]
    sa = a.assessment.view(profile.pack, profile.id)
    for task in a.assessment.tasks_to_rate(sa):
        a.assessment.rate(profile.pack, profile.id, sa.assessment, task.id, 2)
    a.assessment.complete(profile.pack, profile.id, sa.assessment)

    # start the next course so there is a real resume point: lesson 1, second card
    first = a.learning.outline(PACK, next_course).lessons[0]
    a.learning.open_lesson(PACK, next_course, first.id)
    a.learning.finish_card(PACK, next_course, first.id, 0)
    local = tablet_a.store.events(learner)
    types = {e["type"] for e in local}
    assert {"card.viewed", "quiz.submitted", "course.completed"} <= types, types
    assert any(t.startswith("selfassessment.") for t in types), types

    # ---- sync → the server has every event exactly once and issued a certificate ---------
    sync(tablet_a)
    sync(tablet_a)                                       # a second sync sends nothing twice
    on_server = server_events(data, learner)
    ids = [e["id"] for e in on_server]
    assert len(ids) == len(set(ids)), "an event is stored twice on the server"
    local_ids = {e["id"] for e in local}
    assert local_ids <= set(ids), f"missing on the server: {local_ids - set(ids)}"
    # nothing else: the only server-made event is the certificate, and tablet A has it too
    assert {e["id"] for e in tablet_a.store.events(learner)} == set(ids)
    assert set(ids) - local_ids == {e["id"] for e in on_server
                                    if e["type"] == "certificate.received"}
    received = [e for e in on_server if e["type"] == "certificate.received"]
    assert len(received) == 1 and received[0]["ref"]["course"] == course, received
    certs = httpx.get(f"{base}/api/v1/admin/certificates", headers=bearer(token)).json()
    assert len(certs) == 1
    credential = received[0]["data"]["credential"]
    cid = credential["id"].removeprefix("urn:uuid:")
    assert certs[0]["id"] == cid
    lt_title = next(c for c in manifest["courses"] if c["id"] == course)["title"]["lt"]
    assert credential["credentialSubject"]["achievement"]["name"] == lt_title

    a_view = progress_summary(a, next_course)
    assert a_view["certificates"], "tablet A did not get the certificate back"
    assert a_view["resume"] is not None and a_view["resume"].course == next_course
    assert (a_view["resume"].lesson, a_view["resume"].card) == (first.id, 1)

    # ---- tablet B: same facility; same learner, same PIN, same progress -----------------
    tablet_b = new_tablet("tablet-b")
    assert PACK in {m["id"] for m in tablet_b.content.manifests()}
    assert learner in {t.id for t in tablet_b.profiles.tiles()}, "profile did not reach tablet B"
    b = Session(tablet_b)
    assert not b.sign_in(learner, "0000")
    assert b.sign_in(learner, PIN), b.view.pin_error
    b_view = progress_summary(b, next_course)
    assert b_view == a_view
    assert progress_summary(b, course) == progress_summary(a, course)
    assert b.learning.resume_label(b_view["resume"], b.translator) == a.learning.resume_label(a_view["resume"], a.translator)
    assert b.assessment.gap_report(profile.pack, profile.id) == a.assessment.gap_report(profile.pack, profile.id)
    # signing in on B proposes nothing new: the completion came from A's events
    assert {e["id"] for e in tablet_b.store.events(learner)} == set(ids)
    sync(tablet_b)
    again = server_events(data, learner)
    assert sorted(e["id"] for e in again) == sorted(ids)
    assert len(httpx.get(f"{base}/api/v1/admin/certificates", headers=bearer(token)).json()) == 1
    (cert,) = b.learning.my_progress().certificates

    # she carries on at B; tablet A (still signed in) sees it after its next sync
    b.learning.open_lesson(PACK, next_course, first.id)
    b.learning.finish_card(PACK, next_course, first.id, 1)
    sync(tablet_b)
    sync(tablet_a)
    moved = a.learning.library().resume
    assert (moved.course, moved.lesson, moved.card) == (next_course, first.id, 2), moved
    assert progress_summary(a, next_course) == progress_summary(b, next_course)
    assert tablet_b.certificates.verify(cert.credential)

    # offline verification with the server key (and not with another key)
    server_key = TrustedKeys([load_public_key(data / "keys" / "server.key.pub")])
    assert verify_credential(cert.credential, server_key).status is CertificateStatus.GENUINE
    author_only = TrustedKeys([load_public_key(pub_file)])
    assert not verify_credential(cert.credential, author_only).genuine
    forged = copy.deepcopy(cert.credential)
    forged["credentialSubject"]["achievement"]["name"] = "Governor of everything"
    assert verify_credential(forged, server_key).status is not CertificateStatus.GENUINE
    assert not tablet_b.certificates.verify(forged)

    # ---- on B she finishes the second course after one failed attempt; A catches up -----
    for lesson in b.learning.outline(PACK, next_course).lessons:
        view = b.learning.open_lesson(PACK, next_course, lesson.id)
        for card in view.cards:
            b.learning.finish_card(PACK, next_course, lesson.id, card.index)
    answers2 = correct_answers(manifest, next_course)
    for attempt_no, good in ((1, False), (2, True)):
        att = b.learning.current_attempt(PACK, next_course, start=True)
        assert att.number == attempt_no
        for question in att.questions:
            key = question.id if question.id in answers2 else f"{question.scenario}/{question.id}"
            right = answers2[key]
            wrong = [o.id for o in question.options if o.id not in right][:1] or right
            b.learning.answer(PACK, next_course, att.attempt, question.id, right if good else wrong)
        assert b.learning.submit(PACK, next_course, att.attempt).passed is good
    b.set_language("en")                                # a profile change travels too
    sync(tablet_b)
    sync(tablet_a)                                       # pushes nothing new, pulls B's work
    sync(tablet_b)                                       # B gets its certificate
    for session in (a, b):
        summary = progress_summary(session, next_course)
        assert summary["passed"] and len(summary["certificates"]) == 2, summary
    assert progress_summary(a, next_course) == progress_summary(b, next_course)
    record_a = {r.course: r for r in a.learning.my_progress().courses}[next_course]
    assert [x.passed for x in record_a.attempts] == [False, True]
    assert tablet_a.profiles.get(learner).language == "en"
    assert len(httpx.get(f"{base}/api/v1/admin/certificates", headers=bearer(token)).json()) == 2

    # ---- the server is down for a while: A keeps working offline, nothing is lost -------
    server.stop()
    third = manifest["courses"][2]["id"]
    lesson3 = a.learning.outline(PACK, third).lessons[0]
    a.learning.open_lesson(PACK, third, lesson3.id)
    a.learning.finish_card(PACK, third, lesson3.id, 0)
    offline = {e["id"] for e in tablet_a.store.events(learner)} - {
        e["id"] for e in server_events(data, learner)}
    assert offline, "the offline work made no events"
    with pytest.raises(SyncError):
        sync(tablet_a)
    server.start()                                       # same port, same data
    sync(tablet_a)
    assert offline <= {e["id"] for e in server_events(data, learner)}
    sync(tablet_b)
    assert b.learning.library().resume.course == third

    # ---- a content update (promote-core, next version) reaches both tablets; progress survives
    v2_src = tmp / "promote-core-v2"
    shutil.copytree(PROMOTE_CORE, v2_src)
    toml = v2_src / "pack.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        f"version = {VERSION}", f"version = {VERSION + 1}", 1), encoding="utf-8")
    built2 = build_pack(v2_src, load_private_key(key_file), tmp / "built2")
    v2 = admin_post(base, token, "/packs/upload", content=Path(built2).read_bytes(),
                    headers={"Content-Type": "application/octet-stream"}).json()
    assert v2["version"] == VERSION + 1
    admin_post(base, token, f"/packs/{PACK}/publish",
               json={"version": VERSION + 1, "facilities": [FACILITY], "roles": []})
    before = progress_summary(a, course), progress_summary(a, next_course)
    for tablet, session in ((tablet_a, a), (tablet_b, b)):
        sync(tablet)
        assert [m["version"] for m in tablet.content.manifests() if m["id"] == PACK] == [VERSION + 1]
        assert (progress_summary(session, course),
                progress_summary(session, next_course)) == before
        assert session.learning.library().resume.course == third

    # ---- tablet A restarts (closed + reopened); a colleague on it sees none of this ----
    expected = progress_summary(a, next_course)
    tablet_a.close()
    devices.remove(tablet_a)
    tablet_a = open_device(tmp / "tablet-a")
    devices.append(tablet_a)
    a = Session(tablet_a)
    assert a.sign_in(learner, PIN)
    assert progress_summary(a, next_course) == expected
    assert tablet_a.certificates.verify(a.learning.my_progress().certificates[0].credential)
    a.lock()
    colleague = tablet_a.create_profile("Jonas Kazlauskas", "LT-0815", "prison_officer", "lt",
                                        "7391", "7391")
    c = Session(tablet_a)
    assert c.sign_in(colleague, "7391")
    mine = c.learning.my_progress()
    assert not mine.completed and not mine.certificates and c.learning.library().resume is None
    sync(tablet_a)
    sync(tablet_b)
    assert colleague in {t.id for t in tablet_b.profiles.tiles()}

    # ---- public verification page ------------------------------------------------------
    answer = httpx.get(f"{base}/verify/{cid}", headers={"Accept": "application/json"}).json()
    assert (answer["status"], answer["genuine"]) == ("genuine", True)
    repo = open_repo(data)
    try:
        with repo._write() as cur:
            cur.execute(repo._sql("UPDATE certificates SET credential = ? WHERE id = ?"),
                        (json.dumps(forged), cid))
    finally:
        repo.close()
    answer = httpx.get(f"{base}/verify/{cid}", headers={"Accept": "application/json"}).json()
    assert (answer["status"], answer["genuine"]) == ("tampered", False)

    # ---- xAPI export: one statement per learner event, id = event id -------------------
    on_server = server_events(data, learner)
    r = httpx.get(f"{base}/api/v1/admin/exports/xapi.jsonl", headers=bearer(token), timeout=60)
    assert r.status_code == 200, r.text
    statements = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    by_id = {s["id"]: s for s in statements}
    assert len(by_id) == len(statements)
    missing = {e["id"] for e in on_server} - set(by_id)
    assert not missing, f"events without an xAPI statement: {sorted(missing)[:5]}"
    for event in on_server:
        assert learner in json.dumps(by_id[event["id"]]["actor"])


def test_syncing_while_the_learner_works_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """The app syncs in the background while a learner taps through cards: every event
    reaches the server exactly once and the second tablet folds the same state."""
    with facility_with_two_tablets(tmp_path) as (server, tablet_a, tablet_b):
        learner = tablet_a.create_profile("Ona Jonaitienė", "LT-2024", "prison_officer", "en",
                                          PIN, PIN)
        a = Session(tablet_a)
        assert a.sign_in(learner, PIN)
        syncer = tablet_a.syncer
        assert isinstance(syncer, DeviceSyncer)
        manifest = next(m for m in tablet_a.content.manifests() if m["id"] == PACK)
        for course in manifest["courses"]:
            for lesson in a.learning.outline(PACK, course["id"]).lessons:
                view = a.learning.open_lesson(PACK, course["id"], lesson.id)
                for card in view.cards:
                    a.learning.finish_card(PACK, course["id"], lesson.id, card.index)
                    if card.index % 2 == 0:
                        syncer.sync_now(wait=False)     # the background loop's call
        syncer.manager.wait(30)
        sync(tablet_a)
        local = {e["id"] for e in tablet_a.store.events(learner)}
        on_server = [e["id"] for e in server_events(server.data_dir, learner)]
        assert len(on_server) == len(set(on_server)) == len(local)
        assert set(on_server) == local
        sync(tablet_b)
        b = Session(tablet_b)
        assert b.sign_in(learner, PIN)
        for course in manifest["courses"]:
            assert progress_summary(b, course["id"]) == progress_summary(a, course["id"])


@contextmanager
def facility_with_two_tablets(tmp: Path) -> Iterator[tuple[ServerProcess, Device, Device]]:
    """A server with promote-core published to FACILITY and two enrolled, synced tablets."""
    key_file, pub_file = write_keypair(tmp / "author.key")
    server = ServerProcess(tmp / "srv", env={"SHIFT_TRUSTED_KEYS": str(pub_file)})
    base = server.start()
    devices: list[Device] = []
    try:
        seed(server.data_dir)
        token = admin_token(base)
        admin_post(base, token, "/facilities", json={"id": FACILITY, "name": "Alytus"})
        built = build_pack(PROMOTE_CORE, load_private_key(key_file), tmp / "built")
        admin_post(base, token, "/packs/upload", content=Path(built).read_bytes(),
                   headers={"Content-Type": "application/octet-stream"})
        admin_post(base, token, f"/packs/{PACK}/publish",
                   json={"version": VERSION, "facilities": [FACILITY], "roles": []})
        for name in ("a", "b"):
            device = open_device(tmp / name)
            devices.append(device)
            device.set_setting("trusted_keys", [pub_file.read_text(encoding="utf-8")])
            device.set_setting("server_url", base)
            code = admin_post(base, token, "/enrol-codes",
                              json={"facility_id": FACILITY}).json()["code"]
            sync(device, code)
        yield server, devices[0], devices[1]
    finally:
        for device in devices:
            device.close()                       # stops background sync first
        server.stop()


def test_one_staff_number_made_on_two_tablets_offline(tmp_path: Path) -> None:
    """A learner, impatient, makes "her" profile on A and again on B before either syncs,
    and reads a card on each. The server keeps the first profile (staff numbers are unique,
    docs/sync-protocol.md §4.3 `staff_number_taken`); B re-attributes her offline work to
    that profile as new events, retires its own copy, keeps the old events as rejected
    (never lost) and tells her once to sign in with the PIN she set on A."""
    with facility_with_two_tablets(tmp_path) as (server, tablet_a, tablet_b):
        made = {}
        for card, (tablet, pin) in enumerate(((tablet_a, PIN), (tablet_b, "1357"))):
            learner = tablet.create_profile("Ona Jonaitienė", "LT-2024", "prison_officer",
                                            "en", pin, pin)
            made[tablet.data_dir.name] = learner
            session = Session(tablet)
            assert session.sign_in(learner, pin)
            course = tablet.content.manifests()[0]["courses"][0]["id"]
            lesson = session.learning.outline(PACK, course).lessons[0].id
            session.learning.open_lesson(PACK, course, lesson)
            session.learning.finish_card(PACK, course, lesson, card)     # A reads card 0, B card 1
        kept, clashing = made["a"], made["b"]
        before_b = {e["id"]: e for e in tablet_b.store.events(clashing)}
        assert len(before_b) == 2
        for tablet in (tablet_a, tablet_b, tablet_a, tablet_b):
            sync(tablet)
        # the server: A's events and B's work, copied under the kept id, each exactly once
        on_server = server_events(server.data_dir, kept)
        ids = [e["id"] for e in on_server]
        assert len(ids) == len(set(ids)) == 4
        from_a = {e["id"] for e in tablet_a.store.events(kept)
                  if "reattributed_from" not in (e.get("data") or {})}
        copies = [e for e in on_server if "reattributed_from" in (e.get("data") or {})]
        assert {e["id"] for e in on_server} - {e["id"] for e in copies} == from_a
        assert sorted(e["data"]["reattributed_from"] for e in copies) == sorted(before_b)
        for copy_ in copies:
            old = before_b[copy_["data"]["reattributed_from"]]
            assert copy_["id"] not in before_b and copy_["learner"] == kept
            assert (copy_["type"], copy_.get("ref"), copy_["at"]) == \
                (old["type"], old.get("ref"), old["at"])
        assert not server_events(server.data_dir, clashing)
        # tablet B: one tile for her, nothing waiting, the old events kept as rejected
        assert [t.id for t in tablet_b.profiles.tiles() if t.name == "Ona Jonaitienė"] == [kept]
        assert tablet_b.store.outbox_count() == 0
        rejected = {r["event"]["id"]: r["reason"] for r in tablet_b.store.rejected()}
        assert rejected == {i: f"re-attributed to learner {kept}" for i in before_b}
        assert [r["id"] for r in tablet_b.store.profiles.retired()] == [clashing]
        assert tablet_b.store.profiles.retired()[0]["merged_into"] == kept
        assert tablet_b.store.events(clashing) == list(before_b.values())   # never rewritten
        # a repeated sync re-attributes nothing twice
        sync(tablet_b)
        assert len(server_events(server.data_dir, kept)) == 4
        # the notice is shown once; she signs in on the kept tile with A's PIN
        assert tablet_b.profiles.take_reattribution_notice()
        assert not tablet_b.profiles.take_reattribution_notice()
        session_b = Session(tablet_b)
        assert not session_b.sign_in(kept, "1357")
        assert session_b.sign_in(kept, PIN)
        viewed = session_b.learning.outline(PACK, course).lessons[0].viewed
        assert viewed == 2, "B's progress lacks the work of one tablet"
        session_a = Session(tablet_a)
        assert session_a.sign_in(kept, PIN)
        assert progress_summary(session_a, course) == progress_summary(session_b, course)


def test_a_learner_the_admin_registered_can_start_on_a_tablet(tmp_path: Path) -> None:
    """docs/sync-protocol.md §4.3: admins may create learners (API, CLI, CSV import); they
    have no PIN, but a one-time PIN set-up code the admin hands to that person. The learner
    walks up to a tablet of their facility, types the code and a first PIN, works and
    syncs: their work reaches the server under the admin's record, exactly once, and the
    PIN works on the other tablet too. A colleague without the code cannot take the
    profile, and the code works once. The staff number is 64 characters long: the same
    field rules on the server, the tablets and the admin's forms."""
    with facility_with_two_tablets(tmp_path) as (server, tablet_a, tablet_b):
        base = server.base_url
        token = admin_token(base)
        staff_number = "LT-" + "0123456789" * 6 + "9"
        assert len(staff_number) == 64
        registered = admin_post(base, token, "/learners", json={
            "staff_number": staff_number, "display_name": "Petras Petraitis",
            "role": "prison_officer", "facility_id": FACILITY, "language": "lt"}).json()
        assert registered["has_pin"] is False
        learner, code = registered["id"], registered["pin_setup_code"]
        sync(tablet_a)
        tiles = {t.id: t for t in tablet_a.profiles.tiles()}
        assert learner in tiles and tiles[learner].needs_pin, "the profile did not reach A"
        assert tablet_a.profiles.get(learner).staff_number == staff_number
        session = Session(tablet_a)
        assert not session.sign_in(learner, "2468")          # no PIN yet: the pad says so
        assert not session.set_first_pin(learner, "1357", "1357", code="AAAA-BBBB-CCCC")
        assert session.view.form_error.code == "code_wrong" and not session.signed_in
        assert not session.set_first_pin(learner, "2468", "2469", code=code)  # typed twice
        assert session.set_first_pin(learner, "2468", "2468", code=code), \
            session.view.form_message
        assert session.signed_in and session.locale == "lt"
        course = tablet_a.content.manifests()[0]["courses"][0]["id"]
        lesson = session.learning.outline(PACK, course).lessons[0].id
        session.learning.open_lesson(PACK, course, lesson)
        session.learning.finish_card(PACK, course, lesson, 0)
        local = {e["id"] for e in tablet_a.store.events(learner)}
        assert len(local) == 2
        sync(tablet_a)
        sync(tablet_a)                                       # nothing is sent twice
        assert tablet_a.store.outbox_count() == 0 and not tablet_a.store.rejected()
        assert tablet_a.store.profiles.pending_push() == []
        on_server = [e["id"] for e in server_events(server.data_dir, learner)]
        assert sorted(on_server) == sorted(local), "the learner's work did not reach the server"
        learners = httpx.get(f"{base}/api/v1/admin/learners", headers=bearer(token)).json()
        (ours,) = [x for x in learners if x["staff_number"] == staff_number]
        assert ours["id"] == learner and ours["has_pin"] is True
        assert ours["pin_setup_expires_at"] is None          # the code is used up
        assert (ours["display_name"], ours["role"]) == ("Petras Petraitis", "prison_officer")
        # the same PIN on tablet B, with the same progress; a "first PIN" cannot be set again
        sync(tablet_b)
        assert not tablet_b.profiles.needs_pin(learner)
        other = Session(tablet_b)
        assert not other.set_first_pin(learner, "9753", "9753", code=code)
        assert not other.sign_in(learner, "9753")
        assert other.sign_in(learner, "2468"), other.view.pin_error
        assert progress_summary(other, course) == progress_summary(session, course)
