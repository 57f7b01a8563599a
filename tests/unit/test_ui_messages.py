"""Refused actions and sync progress reach the learner as translated sentences, never as
the core's English log text; the sentence depends on the error's code, never its text."""

from __future__ import annotations

import pytest

from app.core.application import ProfileFormError
from app.core.errors import (
    AuthError,
    ErrorCode,
    EventError,
    LearningError,
    PinLockedError,
    PinNotSetError,
    ShiftError,
    StoreError,
    SyncAuthError,
    SyncError,
    SyncNetworkError,
    SyncProtocolError,
    SyncQuotaError,
    SyncTLSError,
)
from app.core.i18n import UI_LOCALES, translator
from app.sync import ProgressText
from app.ui.messages import ERROR_SENTENCES, PHASE_SENTENCES, error_sentence, progress_text

E = ErrorCode
CASES = [
    (LearningError("attempt a1: question 'q2' already answered", code=E.ALREADY_ANSWERED),
     "You have already answered this question."),
    (LearningError("attempt a1 was already submitted", code=E.ATTEMPT_SUBMITTED),
     "This quiz attempt was already submitted."),
    (LearningError("course p/c: no attempts left (3 of 3 used)", code=E.NO_ATTEMPTS_LEFT),
     "No quiz attempts are left for this course."),
    (LearningError("question q1: choose at least one option", code=E.CHOICE_MISSING),
     "Choose an answer first."),
    (LearningError("assessment x: task t1 (duty d1) is not rated yet", code=E.TASKS_NOT_RATED),
     "Rate every task before you finish."),
    (LearningError("something new"), "This is not possible right now."),
    (AuthError("not signed in", code=E.NOT_SIGNED_IN), "Please sign in again."),
    (AuthError("wrong PIN"), "Sign-in refused. Please try again."),
    (PinNotSetError("no PIN yet"), "Sign-in refused. Please try again."),     # family: AUTH
    (PinLockedError("locked", wait_seconds=30), "Too many wrong PINs. Please wait and try "
                                                "again."),
    (SyncTLSError("https://x: TLS certificate not trusted"),
     "The server's certificate is not trusted by this tablet."),
    (SyncNetworkError("connection refused"),
     "The server cannot be reached. Check the network and try again."),
    (SyncAuthError("401"), "The server refused this tablet. Ask the administrator for a new "
                           "enrolment code."),
    (SyncProtocolError("bad JSON"), "The server gave an unexpected answer. Try again later."),
    (SyncError("this tablet is not enrolled: enter an enrolment code from the admin",
               code=E.NOT_ENROLLED),
     "This tablet is not enrolled: enter an enrolment code from the administrator."),
    (SyncQuotaError("quota used up", retry_after=60), "Sync failed. Try again later."),
    (StoreError("server_url: expected http(s)://host[:port], got 'ftp://x'",
                code=E.SERVER_URL_INVALID),
     "The server address must look like https://learning.example.org."),
    (StoreError("staff_number: 'LT-1' is already used by another profile",
                code=E.STAFF_NUMBER_TAKEN),
     "This staff number already has a profile on this tablet."),
    (EventError("seq: 3 was already used on this device"),          # family: STORE
     "This could not be saved on the tablet. Your earlier work is safe."),
    (ProfileFormError("display_name", E.NAME_TOO_LONG), "The name is too long (80 characters "
                                                        "at most)."),
    (ShiftError("\x00 hostile \u202e text"), "Something went wrong. Your work is saved."),
    (ValueError("not ours"), "Something went wrong. Your work is saved."),
]


@pytest.mark.parametrize(("error", "expected"), CASES)
def test_errors_become_sentences(error: BaseException, expected: str) -> None:
    assert error_sentence(translator("en"), error) == expected


@pytest.mark.parametrize(("error", "expected"), CASES)
def test_rewording_a_message_changes_no_sentence(error: BaseException, expected: str) -> None:
    """The same error with other words (another wording, another language, words that
    name a different case) shows the same sentence: only its code counts."""
    if not isinstance(error, ShiftError) or isinstance(error, ProfileFormError):
        return
    for words in ("", "reworded entirely", "already answered; no attempts left; not enrolled; "
                  "server_url; already used; not signed in", "Ši žinutė perrašyta"):
        reworded = type(error).__new__(type(error), words)   # same class ...
        reworded.__dict__.update(vars(error))                # ... code and data, other text
        assert str(reworded) == words and reworded.code == error.code
        assert error_sentence(translator("en"), reworded) == expected, words


def test_the_text_of_a_message_selects_nothing() -> None:
    """Text that used to select a sentence ("already answered") no longer does: an error
    without that code gets its family's sentence."""
    tr = translator("en")
    assert error_sentence(tr, LearningError("question q2 already answered")) == \
        "This is not possible right now."
    assert error_sentence(tr, StoreError("staff_number: 'X' is already used")) == \
        "This could not be saved on the tablet. Your earlier work is safe."
    assert error_sentence(tr, SyncError("not enrolled")) == "Sync failed. Try again later."


def test_every_code_a_learner_can_meet_has_a_sentence() -> None:
    """Codes without their own sentence are the internal ones (field rules, JSON limits,
    and family codes whose parent's sentence fits); each still maps to a sentence."""
    internal = {c for c in ErrorCode if c.name.startswith(("FIELD_", "JSON_"))} | {
        ErrorCode.EVENT_INVALID, ErrorCode.DEVICE_FOLDER, ErrorCode.PIN_NOT_SET,
        ErrorCode.SYNC_QUOTA}
    assert set(ErrorCode) - set(ERROR_SENTENCES) == internal


@pytest.mark.parametrize("lang", [c for c in UI_LOCALES if c != "en"])
def test_every_sentence_is_translated(lang: str) -> None:
    tr = translator(lang)
    for message in ERROR_SENTENCES.values():
        assert tr.gettext(message) != message, (lang, message)
    for message in PHASE_SENTENCES.values():
        assert tr.gettext(message) != message, (lang, message)
    lt = error_sentence(tr, LearningError("attempt a: question 'q' already answered",
                                          code=ErrorCode.ALREADY_ANSWERED))
    assert "already" not in lt


def phase(name: str, done: int = 0, total: int = 0) -> ProgressText:
    return ProgressText(name, done, total)  # the sync client's own message type


def test_progress_lines_come_from_phase_ids() -> None:
    en, lt = translator("en"), translator("lt")
    assert progress_text(en, 0.1, phase("pull")) == "Receiving progress and profiles…"
    assert progress_text(en, 0.8, phase("download", 1200, 3_800_000)).startswith(
        "Downloading new content (1")
    assert progress_text(en, 0.7, phase("download")) == "Downloading new content…"
    assert progress_text(en, 0.5, "plain text") == "Syncing… 50%"
    assert progress_text(en, 7.0, phase("unknown")) == "Syncing… 100%"  # clamped
    for name in ("pull", "push", "packs", "download", "install", "done"):
        assert str(phase(name)) not in progress_text(lt, 0.5, phase(name))
        assert progress_text(lt, 0.5, phase(name)) != progress_text(en, 0.5, phase(name))
