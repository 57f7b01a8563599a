"""Errors carry a stable code from where they are raised (app/core/errors.py ErrorCode):
the real raise sites, driven through the real device, store, engines and sync client.
The UI's sentence table (test_ui_messages.py) and the sync client's decisions (below)
read only these codes and data, so rewording a message changes no behaviour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.core.application import Session
from app.core.errors import (
    AuthError,
    ErrorCode,
    LearningError,
    ShiftError,
    StoreError,
    SyncError,
    SyncProtocolError,
)
from app.core.learning.quiz import score_choice
from app.core.store import Store
from app.sync import RetryPolicy, SyncClient, Transport
from tests.e2e.ui_fixtures import ManualClock, make_device, signed_in
from tests.unit.test_sync_transport import FakeServer, Handler, _pull, js

E = ErrorCode


def code_of(call: Any) -> ErrorCode:
    with pytest.raises(ShiftError) as caught:
        call()
    return caught.value.code


def test_learning_and_assessment_rules_raise_their_codes(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock())
    try:
        session = signed_in(device)
        learning = session.learning
        att = learning.current_attempt("ui-demo", "safety", start=True)
        assert att is not None
        assert code_of(lambda: learning.current_attempt("ui-demo", "nope", start=True)) == \
            E.NOT_INSTALLED
        first = att.questions[0]
        learning.answer("ui-demo", "safety", att.attempt, first.id, [first.options[0].id])
        assert code_of(lambda: learning.answer("ui-demo", "safety", att.attempt, first.id,
                                               [first.options[0].id])) == E.ALREADY_ANSWERED
        assert session.work is not None       # the engine refuses a second open attempt
        with pytest.raises(LearningError) as still_open:
            session.work.engine.start_quiz("ui-demo", "safety")
        assert still_open.value.code == E.ATTEMPT_STILL_OPEN
        for q in att.questions[1:]:
            learning.answer("ui-demo", "safety", att.attempt, q.id, [q.options[0].id])
        learning.submit("ui-demo", "safety", att.attempt)
        assert code_of(lambda: learning.submit("ui-demo", "safety", att.attempt)) == \
            E.ATTEMPT_SUBMITTED
        for _ in range(2):                                   # max_attempts = 3
            again = learning.current_attempt("ui-demo", "safety", start=True)
            assert again is not None
            for q in again.questions:
                learning.answer("ui-demo", "safety", again.attempt, q.id, [q.options[0].id])
            learning.submit("ui-demo", "safety", again.attempt)
        assert code_of(lambda: learning.current_attempt("ui-demo", "safety", start=True)) == \
            E.NO_ATTEMPTS_LEFT

        view = session.assessment.view("ui-demo", "officer", start=True)
        assert view.assessment is not None
        assert code_of(lambda: session.assessment.complete("ui-demo", "officer",
                                                           str(view.assessment))) == \
            E.TASKS_NOT_RATED
        for task in session.assessment.tasks_to_rate(view):
            session.assessment.rate("ui-demo", "officer", view.assessment, task.id, 2)
        session.assessment.complete("ui-demo", "officer", view.assessment)
        assert code_of(lambda: session.assessment.complete("ui-demo", "officer",
                                                           str(view.assessment))) == \
            E.ASSESSMENT_COMPLETED

        session.lock()
        assert code_of(session.learning.library) == E.NOT_SIGNED_IN
        assert code_of(lambda: session.assessment.profiles()) == E.NOT_SIGNED_IN
    finally:
        device.close()


def test_answer_choices_raise_their_codes() -> None:
    single = {"id": "q", "type": "single", "options": [{"id": "a", "correct": True},
                                                       {"id": "b", "correct": False}]}
    multiple = {**single, "type": "multiple"}
    assert code_of(lambda: score_choice(single, [])) == E.CHOICE_MISSING
    assert code_of(lambda: score_choice(multiple, ["a", "a"])) == E.CHOICE_REPEATED
    assert code_of(lambda: score_choice(single, ["a", "b"])) == E.CHOOSE_ONE


def test_store_and_sync_set_up_raise_their_codes(tmp_path: Path) -> None:
    device = make_device(tmp_path, ManualClock(), packs=False)
    try:
        device.create_profile("Ona", "LT-1", "prison_officer", "en", "2580", "2580")
        assert code_of(lambda: device.create_profile("Ona B", "lt-1", "prison_officer", "en",
                                                     "2580", "2580")) == E.STAFF_NUMBER_TAKEN
        with pytest.raises(StoreError) as bad_url:
            device.set_setting("server_url", "ftp://x")
        assert bad_url.value.code == E.SERVER_URL_INVALID
        with pytest.raises(SyncError) as not_enrolled:
            device.sync_now()
        assert not_enrolled.value.code == E.NOT_ENROLLED
        with pytest.raises(SyncError) as no_server:
            device.sync_now(enrol_code="ABC-123")
        assert no_server.value.code == E.NO_SERVER_ADDRESS
        device.set_setting("server_url", "http://127.0.0.1:9")
        with pytest.raises(SyncError) as bad_code:
            device.sync_now(enrol_code="x" * 65)
        assert bad_code.value.code == E.ENROLMENT_CODE_INVALID
    finally:
        device.close()
    with pytest.raises(SyncError) as bad_base:
        Transport("ftp://x")
    assert bad_base.value.code == E.SERVER_URL_INVALID


def test_a_device_without_a_syncer_says_so_by_code(tmp_path: Path) -> None:
    from app.core.application import Device

    device = Device.open(tmp_path / "offline-only")
    try:
        assert not device.sync_summary().client_installed
        assert code_of(device.sync_now) == E.SYNC_NOT_INSTALLED
    finally:
        device.close()
    with pytest.raises(AuthError) as pin:
        Session(make_device(tmp_path / "b", ManualClock(), packs=False)).learning.library()
    assert pin.value.code == E.NOT_SIGNED_IN


# -- the sync client decides by HTTP status and codes, never by message text ---------------
class RewordedTransport(Transport):
    """The transport as the seam of the test: every SyncProtocolError it raises gets other
    words (as if someone reworded the messages), keeping its status and code."""

    def call(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().call(*args, **kwargs)
        except SyncProtocolError as exc:
            raise SyncProtocolError("Užklausa atmesta (reworded)", status=exc.status,
                                    server_code=exc.server_code) from None


def _outbox_client(tmp: Path, url: str, transport: type[Transport]) -> tuple[Store, SyncClient]:
    store = Store.open(tmp / "dev")
    store.settings.set("server_url", url)
    store.settings.set_secret("device_token", "dev_tok")
    for n in range(120):
        store.append({"learner": "learner-x", "type": "card.viewed",
                      "ref": {"course": "c", "lesson": "l", "card": str(n % 5)}})
    return store, SyncClient(store, retry=RetryPolicy(attempts=1), transport_factory=transport)


def test_the_push_halves_its_chunk_on_status_413_whatever_the_words(tmp_path: Path) -> None:
    server = FakeServer()
    server.route("POST /api/v1/sync/pull", _pull([], 0))

    def push(h: Handler) -> Any:
        events = json.loads(h.body)["events"]
        if len(events) > 40:
            return js({"detail": "zu groß"}, 413)
        return js({"stored": [e["id"] for e in events], "duplicate": [], "rejected": [],
                   "profiles": []})

    server.route("POST /api/v1/sync/push", push)
    store, client = _outbox_client(tmp_path, server.url, RewordedTransport)
    try:
        report = client.sync()
        assert report.events_acknowledged == 120 and store.outbox_count() == 0
    finally:
        store.close()
        server.close()


def test_text_that_says_413_does_not_halve_the_chunk(tmp_path: Path) -> None:
    """A 400 whose words mention "HTTP 413" (the old test of the client) is a refusal,
    not a size limit: the sync stops with that error, nothing is acknowledged."""
    server = FakeServer()
    server.route("POST /api/v1/sync/pull", _pull([], 0))
    server.route("POST /api/v1/sync/push", lambda h: js({"detail": "HTTP 413 too large"}, 400))
    store, client = _outbox_client(tmp_path, server.url, Transport)
    try:
        with pytest.raises(SyncProtocolError) as refused:
            client.sync()
        assert refused.value.status == 400 and "HTTP 413" in str(refused.value)
        pushes = [x for x in server.log if x[1] == "/api/v1/sync/push"]
        assert len(pushes) == 1 and store.outbox_count() == 120
    finally:
        store.close()
        server.close()
