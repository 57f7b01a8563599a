"""Certificates in My progress are checked offline: genuine only when signed by the key the
tablet learned as its server's certificate issuer, issued to the signed-in learner, and
not revoked in the status list fetched at the last sync (issue 13, attack row 5, device
side). Also: signing in reads the learner's history once for both engines."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.application import Device, Session
from app.core.certificates import did_key, sign_credential
from app.core.credential_status import status_entry, status_list_credential
from app.core.events import format_at
from sync_server.certificates import CourseAchievement, Learner, issue_credential, issuer_for
from tests.e2e.ui_fixtures import PIN, ManualClock, all_text, build, by_key, make_device, signed_in

ISSUER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
AUTHOR = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))   # a trusted *pack* key
LIST_URL = "https://learning.example.org/status/1"


@pytest.fixture
def device(tmp_path: Path) -> Device:
    return make_device(tmp_path, ManualClock())


def pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def credential(key: Ed25519PrivateKey, learner: str, *, index: int | None = None,
               name: str = "Reports") -> dict[str, Any]:
    """A certificate as the server issues it (signed by `key`, issuer = its did:key)."""
    return issue_credential(
        key, credential_id=str(uuid.uuid4()), issuer=issuer_for(key, "Training centre"),
        learner=Learner(learner, "Ona"),
        achievement=CourseAchievement("ui-demo", "reports", "en", name, "", 70),
        public_base_url="https://learning.example.org",
        valid_from=datetime(2026, 11, 23, 15, 0, tzinfo=UTC), score=90.0,
        status=None if index is None else status_entry(LIST_URL, index))


def certificate_event(learner: str, cred: Any, seq: int) -> dict[str, Any]:
    cid = str(cred.get("id", "")).removeprefix("urn:uuid:") if isinstance(cred, dict) else "x"
    return {"id": str(uuid.uuid4()), "learner": learner, "device": "server", "seq": seq,
            "at": format_at(datetime(2026, 11, 23, 15, seq, tzinfo=UTC)),
            "type": "certificate.received", "pack": "ui-demo", "pack_version": 1,
            "ref": {"certificate": cid or "junk", "course": "reports"},
            "data": {"credential": cred, "title": f"Certificate {seq}"}}


def revocation_list(key: Ed25519PrivateKey, revoked: list[int]) -> dict[str, Any]:
    return sign_credential(status_list_credential(
        list_url=LIST_URL, issuer_id=did_key(key.public_key()),
        valid_from="2026-11-24T00:00:00Z", revoked=revoked), key,
        created=datetime(2026, 11, 24, tzinfo=UTC))


def status_texts(session: Any, events: list[dict[str, Any]]) -> dict[int, str]:
    view, _ctx, _rec = build(session, "/progress")
    return {e["seq"]: by_key(view, f"cert-status-{e['ref']['certificate']}").value for e in events}


def test_only_the_servers_certificate_for_this_learner_shows_as_verified(device: Device) -> None:
    # the author key is trusted for packs, the issuer key was learned from the server
    device.set_setting("trusted_keys", [pem(AUTHOR), pem(ISSUER)])
    device.set_setting("certificate_keys", ["not a key", did_key(ISSUER.public_key())])
    session = signed_in(device)
    me = str(session.learner_id)
    colleague = str(uuid.uuid4())
    tampered = credential(ISSUER, me)
    tampered["credentialSubject"]["achievement"]["name"] = "Governor of everything"
    events = [
        certificate_event(me, credential(ISSUER, me), 1),              # genuine, mine
        certificate_event(me, tampered, 2),
        certificate_event(me, credential(AUTHOR, me, name="Forged"), 3),  # a pack author's
        certificate_event(me, credential(ISSUER, colleague), 4),       # another learner's
        certificate_event(me, {"proof": [1, 2, 3]}, 5),                # junk
        certificate_event(me, credential(ISSUER, me, index=7), 6),     # revoked (below)
        certificate_event(me, credential(ISSUER, me, index=8), 7),     # in the list, not revoked
    ]
    device.store.merge(events)
    before = copy.deepcopy(device.store.events(me))
    device.set_setting("certificate_status_lists", {LIST_URL: revocation_list(ISSUER, [7])})

    shown = status_texts(session, events)
    assert shown[1] == shown[7] == "Verified: signed by a trusted issuer"
    assert shown[6] == "Revoked by the issuer"
    for seq in (2, 3, 4, 5):
        assert shown[seq] == "Could not be verified on this tablet", seq
    view = build(session, "/progress")[0]
    assert "Certificate 1" in all_text(by_key(view, f"cert-{events[0]['ref']['certificate']}"))
    # nothing else changed: every event is still there, as it came
    assert device.store.events(me) == before
    # the reasons, for the record
    checks = {e["seq"]: device.certificates.check(e["data"]["credential"], learner=me,
                                                 certificate_id=e["ref"]["certificate"])
              for e in events}
    assert "another learner" in checks[4].reason
    assert checks[3].reason.startswith("unknown_key")
    assert checks[6].shown == "revoked"


def test_a_status_list_not_signed_by_the_issuer_changes_nothing(device: Device) -> None:
    device.set_setting("certificate_keys", [did_key(ISSUER.public_key())])
    session = signed_in(device)
    me = str(session.learner_id)
    events = [certificate_event(me, credential(ISSUER, me, index=3), 1)]
    device.store.merge(events)
    forged = revocation_list(AUTHOR, [3])                 # "revoked" by someone else
    device.set_setting("certificate_status_lists", {LIST_URL: forged})
    assert status_texts(session, events)[1] != "Revoked by the issuer"
    tampered = revocation_list(ISSUER, [])
    tampered["credentialSubject"]["encodedList"] = revocation_list(ISSUER, [3])[
        "credentialSubject"]["encodedList"]
    device.set_setting("certificate_status_lists", {LIST_URL: tampered})
    assert status_texts(session, events)[1] != "Revoked by the issuer"


def test_pack_keys_alone_verify_no_certificate(device: Device) -> None:
    device.set_setting("trusted_keys", [pem(ISSUER)])          # a pack key, not learned
    session = signed_in(device)
    me = str(session.learner_id)
    events = [certificate_event(me, credential(ISSUER, me), 1)]
    device.store.merge(events)
    assert device.certificates.verify(events[0]["data"]["credential"]) is False
    session.set_language("lt")
    text = status_texts(session, events)[1]
    assert text and "verified" not in text.casefold()  # translated, not English


def test_sign_in_reads_the_history_once_for_both_engines(device: Device) -> None:
    session = signed_in(device)
    session.learning.open_lesson("ui-demo", "reports", "01-facts")
    session.learning.finish_card("ui-demo", "reports", "01-facts", 0)
    pid = str(session.learner_id)
    session.lock()
    # Sign-in loads the history through the fold snapshot (issue 18): one pass over
    # what the snapshot does not cover (here: everything, no snapshot yet), never the
    # whole list of events.
    calls: list[str] = []
    real = device.store.history_since

    def counting(learner: str, mark: Any, apply: Any) -> Any:
        calls.append(learner)
        return real(learner, mark, apply)

    def no_list(learner: str) -> list[dict[str, Any]]:
        raise AssertionError("sign-in read the whole event list")
    device.store.history_since = counting  # type: ignore[method-assign]
    device.store.events = no_list  # type: ignore[method-assign]
    again = Session(device)
    assert again.sign_in(pid, PIN)
    assert calls == [pid]
    # both engines were fed: the lesson progress and the assessment fold are there
    assert again.work is not None
    assert again.work.engine.state.courses and again.work.assess is not None


def test_a_due_fold_snapshot_is_saved_when_the_session_ends(device: Device) -> None:
    """Sign-in only marks a new fold snapshot due (issue 18: encoding the whole state is
    not the sign-in's to pay); locking saves it, covering what the store then holds."""
    from app.core.learning.history import SNAPSHOT_NAME
    session = signed_in(device)
    pid = str(session.learner_id)
    store = device.store

    def pulled(start: int) -> list[dict[str, Any]]:
        return [{"id": str(uuid.UUID(int=start + i + 1, version=4)), "learner": pid,
                 "device": "dev-" + "b" * 32, "seq": start + i + 1,
                 "at": format_at(datetime(2026, 1, 1, tzinfo=UTC)), "type": "card.viewed",
                 "ref": {"course": "reports", "lesson": "01-facts", "card": "0"},
                 "data": {"seconds": 3}} for i in range(600)]
    store.merge(pulled(0))
    session.lock()
    assert Session(device).sign_in(pid, PIN)          # no snapshot yet: folded, saved
    first = store.read_snapshot(pid, SNAPSHOT_NAME)
    assert first is not None and first.mark.count == 600
    store.merge(pulled(600))
    again = Session(device)
    assert again.sign_in(pid, PIN)
    assert store.read_snapshot(pid, SNAPSHOT_NAME).mark == first.mark    # deferred
    again.lock()
    assert store.read_snapshot(pid, SNAPSHOT_NAME).mark.count == store.event_count(pid)
