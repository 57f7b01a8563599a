"""Settings → Sync now against a REAL sync server on 127.0.0.1 (no browser needed):
enrol with a code, push the learner's events, see "Sync finished" and the Online badge."""

from __future__ import annotations

from pathlib import Path

from app.core.i18n import translator
from app.sync import PHASE_TEXT
from app.ui.messages import progress_text
from tests.e2e.ui_fixtures import (
    ManualClock,
    all_text,
    build,
    by_key,
    click,
    make_device,
    signed_in,
    type_text,
)
from tests.integration.test_sync_client_support import server_env


def test_sync_now_from_settings_enrols_and_pushes(tmp_path: Path) -> None:
    with server_env(tmp_path / "env") as env:
        device = make_device(tmp_path, ManualClock())
        try:
            session = signed_in(device)
            session.learning.open_lesson("ui-demo", "safety", "01-notice")
            session.learning.finish_card("ui-demo", "safety", "01-notice", 0)
            assert device.store.outbox_count() >= 2

            view, _ctx, _rec = build(session, "/settings")
            assert by_key(view, "last-sync").value == "Never synced"
            # enrolling needs a device admin PIN: set on this first run (issue 15 item 7)
            type_text(by_key(view, "server-url"), env.url)
            type_text(by_key(view, "enrol-code"), env.code())
            click(by_key(view, "sync-now"))
            view, _ctx, _rec = build(session, "/settings")
            assert by_key(view, "sync-message").value == ("Set a device administrator PIN "
                                                          "before enrolling this tablet.")
            type_text(by_key(view, "admin-new-pin"), "731904")
            type_text(by_key(view, "admin-new-pin-again"), "731904")
            click(by_key(view, "admin-save"))
            view, _ctx, _rec = build(session, "/settings")
            type_text(by_key(view, "enrol-code"), env.code())
            click(by_key(view, "sync-now"))

            view, _ctx, _rec = build(session, "/settings")
            assert by_key(view, "sync-message").value == "Sync finished."
            assert by_key(view, "last-sync").value.startswith("Last synced ")
            assert device.store.outbox_count() == 0
            status = device.sync_summary()
            assert status.online and status.server_url == env.url.rstrip("/")

            home, _ctx, _rec = build(session, "/home")
            assert "Online" in all_text(by_key(home, "sync-badge"))

            # a second sync needs no code; a wrong code is refused with the reason shown
            view, _ctx, _rec = build(session, "/settings")
            type_text(by_key(view, "enrol-code"), "WRONG-CODE")
            click(by_key(view, "sync-now"))
            view, _ctx, _rec = build(session, "/settings")
            assert by_key(view, "sync-message").value == ("The server refused this tablet. Ask the "
                                                          "administrator for a new enrolment code.")
            assert device.store.outbox_count() == 0

            # another learner's session: device settings are locked until the admin PIN
            other = signed_in(device, name="Rasa Kitas", staff="LT-2")
            view, _ctx, _rec = build(other, "/settings")
            assert by_key(view, "server-url").read_only
            assert not by_key(view, "enrol-code").visible
            type_text(by_key(view, "admin-pin"), "000000")
            click(by_key(view, "admin-unlock"))
            view, _ctx, _rec = build(other, "/settings")
            assert by_key(view, "admin-message").value == "The administrator PIN is not right."
            type_text(by_key(view, "admin-pin"), "731904")
            click(by_key(view, "admin-unlock"))
            view, _ctx, _rec = build(other, "/settings")
            assert not by_key(view, "server-url").read_only
            assert by_key(view, "enrol-code").visible
        finally:
            device.close()               # stops the sync client's loop first


def test_a_certificate_from_the_server_is_verified_in_my_progress(tmp_path: Path) -> None:
    """Complete a course → push → the server re-scores the quiz and issues a signed
    certificate → pull → My progress says it is verified with the certificate key the
    tablet learned from its server (and not with another key)."""
    from app.core.packs import build_pack, load_private_key
    from tests.e2e.ui_harness import FIXTURE_PACK

    with server_env(tmp_path / "env") as env:
        built = build_pack(FIXTURE_PACK, load_private_key(env.key), tmp_path / "built")
        env.upload(built)
        env.publish("ui-demo", 1, ["f1"])
        device = make_device(tmp_path, ManualClock())
        try:
            server_pub = env.server.data_dir / "keys" / "server.key.pub"
            device.set_setting("trusted_keys", [server_pub.read_text(encoding="utf-8")])
            device.set_setting("server_url", env.url)
            session = signed_in(device)
            session.learning.open_lesson("ui-demo", "reports", "01-facts")
            for card in range(2):
                session.learning.finish_card("ui-demo", "reports", "01-facts", card)
            att = session.learning.current_attempt("ui-demo", "reports", start=True)
            session.learning.answer("ui-demo", "reports", att.attempt, "r1", ["true"])
            session.learning.submit("ui-demo", "reports", att.attempt)
            lines: list[str] = []
            lt = translator("lt")
            device.sync_now(lambda f, m: lines.append(progress_text(lt, f, m)),
                            enrol_code=env.code())   # pushes the completion
            device.sync_now()                         # pulls the certificate
            # the real client's progress, in the learner's language (never its English)
            assert "Siunčiama pažanga…" in lines and "Gaunama pažanga ir profiliai…" in lines
            assert not set(lines) & set(PHASE_TEXT.values()), lines
            view, _ctx, _rec = build(session, "/progress")
            certs = [c for c in session.learning.my_progress().certificates]
            assert len(certs) == 1, all_text(view)
            status = by_key(view, f"cert-status-{certs[0].id}").value
            assert status == "Verified: signed by a trusted issuer"

            # pack keys do not decide (a pack author must not mint certificates); the key
            # the tablet learned from its server's /issuer at sync does
            device.set_setting("trusted_keys", [env.pub.read_text(encoding="utf-8")])
            view, _ctx, _rec = build(session, "/progress")
            assert by_key(view, f"cert-status-{certs[0].id}").value == status
            from app.core.certificates import did_key
            from app.core.packs.keys import load_public_key
            device.set_setting("certificate_keys", [did_key(load_public_key(env.pub))])
            view, _ctx, _rec = build(session, "/progress")
            assert by_key(view, f"cert-status-{certs[0].id}").value == \
                "Could not be verified on this tablet"
        finally:
            device.close()               # stops the sync client's loop first
