"""Refused actions and sync progress reach the learner as translated sentences, never as
the core's English log text."""

from __future__ import annotations

import pytest

from app.core.errors import (
    AuthError,
    LearningError,
    ShiftError,
    StoreError,
    SyncAuthError,
    SyncError,
    SyncNetworkError,
    SyncProtocolError,
    SyncTLSError,
)
from app.core.i18n import UI_LOCALES, translator
from app.sync import ProgressText
from app.ui.messages import ERROR_TEXT, PHASE_TEXT, error_sentence, progress_text

CASES = [
    (LearningError("attempt a1: question 'q2' already answered"),
     "You have already answered this question."),
    (LearningError("attempt a1 was already submitted"), "This quiz attempt was already submitted."),
    (LearningError("course p/c: no attempts left (3 of 3 used)"),
     "No quiz attempts are left for this course."),
    (LearningError("question q1: choose at least one option"), "Choose an answer first."),
    (LearningError("assessment x: task t1 (duty d1) is not rated yet"),
     "Rate every task before you finish."),
    (LearningError("something new"), "This is not possible right now."),
    (AuthError("not signed in"), "Please sign in again."),
    (SyncTLSError("https://x: TLS certificate not trusted"),
     "The server's certificate is not trusted by this tablet."),
    (SyncNetworkError("connection refused"),
     "The server cannot be reached. Check the network and try again."),
    (SyncAuthError("401"), "The server refused this tablet. Ask the administrator for a new "
                           "enrolment code."),
    (SyncProtocolError("bad JSON"), "The server gave an unexpected answer. Try again later."),
    (SyncError("this tablet is not enrolled: enter an enrolment code from the admin"),
     "This tablet is not enrolled: enter an enrolment code from the administrator."),
    (StoreError("server_url: expected http(s)://host[:port], got 'ftp://x'"),
     "The server address must look like https://learning.example.org."),
    (StoreError("staff_number: 'LT-1' is already used by another profile"),
     "This staff number already has a profile on this tablet."),
    (ShiftError("\x00 hostile \u202e text"), "Something went wrong. Your work is saved."),
    (ValueError("not ours"), "Something went wrong. Your work is saved."),
]


@pytest.mark.parametrize(("error", "expected"), CASES)
def test_errors_become_sentences(error: BaseException, expected: str) -> None:
    assert error_sentence(translator("en"), error) == expected


@pytest.mark.parametrize("lang", [c for c in UI_LOCALES if c != "en"])
def test_every_sentence_is_translated(lang: str) -> None:
    tr = translator(lang)
    for _cls, _fragment, message in ERROR_TEXT:
        assert tr.gettext(message) != message, (lang, message)
    for message in PHASE_TEXT.values():
        assert tr.gettext(message) != message, (lang, message)
    lt = error_sentence(tr, LearningError("attempt a: question 'q' already answered"))
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
