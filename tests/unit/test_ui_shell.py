"""The shell draws the home screen again when the sync badge's state changes (a
background sync finished while the learner looked at it)."""

from __future__ import annotations

from pathlib import Path

from app.core.clock import now_iso
from app.ui.shell import sync_badge_state
from tests.e2e.ui_fixtures import ManualClock, all_text, build, by_key, make_device, signed_in


def test_badge_state_changes_when_a_sync_finishes(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    try:
        session = signed_in(device)
        before = sync_badge_state(session)
        assert before == (False, None)
        view, _ctx, _rec = build(session, "/home")
        assert "Online" not in all_text(by_key(view, "sync-badge"))
        device.set_setting("last_sync_at", now_iso())  # what a finished sync records
        after = sync_badge_state(session)
        assert after != before and after[0] is True
        view, _ctx, _rec = build(session, "/home")
        assert "Online" in all_text(by_key(view, "sync-badge"))
    finally:
        device.close()
