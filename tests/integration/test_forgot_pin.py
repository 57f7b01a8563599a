""""Forgot PIN?" end to end (issue 15 item 6): a learner locked out on tablet A asks the
training administrator, who resets the PIN in the console/API and hands over a one-time
set-up code; the learner sets a new PIN with it on tablet B (any tablet of the
facility), keeps all their work, and the new PIN — not the old one — works on A after
its next sync. The code works once; a wrong code counts towards the lock-out. A real
uvicorn on 127.0.0.1, two real device data folders."""

from __future__ import annotations

from pathlib import Path

from app.core.application import Session
from tests.integration.test_whole_journey import (
    PACK,
    admin_post,
    facility_with_two_tablets,
    progress_summary,
    sync,
)
from tests.support.server import admin_token

OLD, NEW = "2468", "1357"


def test_a_reset_code_sets_a_new_pin_on_any_tablet_of_the_facility(tmp_path: Path) -> None:
    with facility_with_two_tablets(tmp_path) as (server, tablet_a, tablet_b):
        learner = tablet_a.create_profile("Jurgita Forgetful", "FP-0001", "prison_officer",
                                          "lt", OLD, OLD)
        session = Session(tablet_a)
        assert session.sign_in(learner, OLD)
        course = tablet_a.content.manifests()[0]["courses"][0]["id"]
        lesson = session.learning.outline(PACK, course).lessons[0].id
        session.learning.open_lesson(PACK, course, lesson)
        session.learning.finish_card(PACK, course, lesson, 0)
        before = progress_summary(session, course)
        session.lock()
        sync(tablet_a)
        sync(tablet_b)

        # she forgot it: three wrong PINs lock the pad on A
        for wrong in ("1111", "2222", "3333"):
            assert not session.sign_in(learner, wrong)
        assert session.pin_locked

        # the administrator resets her PIN: a one-time code, shown once
        token = admin_token(server.base_url)
        code = admin_post(server.base_url, token, f"/learners/{learner}/pin-setup").json()["code"]

        # on tablet B, after its sync: the old PIN is gone, the code sets a new one
        sync(tablet_b)
        assert tablet_b.profiles.needs_pin(learner)
        other = Session(tablet_b)
        assert not other.sign_in(learner, OLD)
        assert not other.set_first_pin(learner, NEW, NEW, code="AAAA-BBBB-CCCC")
        assert other.view.form_error is not None and other.view.form_error.code == "code_wrong"
        assert other.set_first_pin(learner, NEW, NEW, code=code), other.view.form_message
        assert other.signed_in and progress_summary(other, course) == before  # work kept
        other.lock()
        sync(tablet_b)

        # back on A: the new PIN works there too, the old one and the used code do not
        sync(tablet_a)
        again = Session(tablet_a)
        assert not again.set_first_pin(learner, "9753", "9753", code=code)
        assert not again.sign_in(learner, OLD)
        assert again.sign_in(learner, NEW), again.view.pin_error
        assert progress_summary(again, course) == before
