"""Certificates in My progress are checked offline against the tablet's trusted keys,
and signing in reads the learner's history once for both engines."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.certificates import CONTEXTS, CREDENTIAL_TYPES, sign_credential
from app.core.device import Device
from app.core.events import format_at
from tests.e2e.ui_fixtures import PIN, ManualClock, all_text, build, by_key, make_device, signed_in

ISSUER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
STRANGER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


@pytest.fixture
def device(tmp_path: Path) -> Device:
    return make_device(tmp_path, ManualClock())


def pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def credential(key: Ed25519PrivateKey, name: str = "Reports") -> dict[str, Any]:
    return sign_credential({
        "@context": list(CONTEXTS), "type": list(CREDENTIAL_TYPES),
        "id": f"urn:uuid:{uuid.uuid4()}",
        "issuer": {"id": "https://learning.example.org/issuer", "name": "Training centre",
                   "type": ["Profile"]},
        "validFrom": "2026-11-23T15:00:00Z",
        "credentialSubject": {"type": ["AchievementSubject"],
                              "achievement": {"name": name, "type": ["Achievement"]}},
    }, ISSUER if key is ISSUER else key, created=datetime(2026, 11, 23, 15, 0, tzinfo=UTC))


def certificate_event(learner: str, cert_id: str, cred: Any, seq: int) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "learner": learner, "device": "server", "seq": seq,
            "at": format_at(datetime(2026, 11, 23, 15, seq, tzinfo=UTC)),
            "type": "certificate.received", "pack": "ui-demo", "pack_version": 1,
            "ref": {"certificate": cert_id, "course": "reports"},
            "data": {"credential": cred, "title": f"Certificate {cert_id}"}}


def test_progress_shows_which_certificates_are_verified(device: Device) -> None:
    device.set_setting("trusted_keys", ["not a key", pem(ISSUER)])
    session = signed_in(device)
    learner = str(session.learner_id)
    tampered = credential(ISSUER)
    tampered["credentialSubject"]["achievement"]["name"] = "Something else"
    device.store.merge([
        certificate_event(learner, "genuine", credential(ISSUER), 1),
        certificate_event(learner, "tampered", tampered, 2),
        certificate_event(learner, "stranger", credential(STRANGER), 3),
        certificate_event(learner, "junk", {"proof": [1, 2, 3]}, 4),
    ])
    view, _ctx, _rec = build(session, "/progress")
    assert "Verified" in by_key(view, "cert-status-genuine").value
    for cid in ("tampered", "stranger", "junk"):
        assert by_key(view, f"cert-status-{cid}").value == "Could not be verified on this tablet"
    assert "Certificate genuine" in all_text(by_key(view, "cert-genuine"))


def test_without_trusted_keys_nothing_is_verified(device: Device) -> None:
    session = signed_in(device)
    device.store.merge([certificate_event(str(session.learner_id), "c1", credential(ISSUER), 1)])
    assert device.verify_certificate(credential(ISSUER)) is False
    session.set_language("lt")
    view, _ctx, _rec = build(session, "/progress")
    text = by_key(view, "cert-status-c1").value
    assert text and "verified" not in text.casefold()  # translated, not English


def test_sign_in_reads_the_history_once_for_both_engines(device: Device) -> None:
    session = signed_in(device)
    session.open_lesson("ui-demo", "reports", "01-facts")
    session.finish_card("ui-demo", "reports", "01-facts", 0)
    pid = str(session.learner_id)
    session.lock()
    calls: list[str] = []
    real = device.store.events

    def counting(learner: str) -> list[dict[str, Any]]:
        calls.append(learner)
        return real(learner)
    device.store.events = counting  # type: ignore[method-assign]
    again = device.new_session()
    assert again.sign_in(pid, PIN)
    assert calls == [pid]
    # both engines were fed: the lesson progress and the assessment fold are there
    assert again.engine is not None and again.assess is not None
    assert again.engine.state.courses
