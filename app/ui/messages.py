"""Translated sentences for refused actions and sync progress.

The core and the sync client raise errors with English text meant for logs and
tests ("attempt a1: question 'q2' already answered"). A learner sees a translated
sentence instead, chosen here from the error's class (and, for the few classes that
carry several cases, a stable fragment of its text). Pure: no Flet, so it is unit-tested
directly; ``tools/i18n.py`` extracts the ``N_`` marks below.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import (
    AuthError,
    CertificateError,
    LearningError,
    PackError,
    PinLockedError,
    ShiftError,
    StoreError,
    SyncAuthError,
    SyncError,
    SyncNetworkError,
    SyncProtocolError,
    SyncTLSError,
)
from app.core.i18n import Translator


def N_(message: str) -> str:
    """Mark for extraction; translated where shown."""
    return message


#: (error class, fragment of its English text or "" for any) → sentence; first match wins,
#: so specific cases come before their class's catch-all.
ERROR_TEXT: tuple[tuple[type[BaseException], str, str], ...] = (
    (LearningError, "already answered", N_("You have already answered this question.")),
    (LearningError, "already submitted", N_("This quiz attempt was already submitted.")),
    (LearningError, "no attempts left", N_("No quiz attempts are left for this course.")),
    (LearningError, "is still open", N_("Finish the attempt you started first.")),
    (LearningError, "choose exactly one", N_("Choose exactly one answer.")),
    (LearningError, "choose at least one", N_("Choose an answer first.")),
    (LearningError, "option chosen twice", N_("Choose an answer first.")),
    (LearningError, "already completed", N_("This self-assessment is already completed.")),
    (LearningError, "is completed", N_("This self-assessment is already completed.")),
    (LearningError, "not rated", N_("Rate every task before you finish.")),
    (LearningError, "is not installed", N_("This content is not installed on this tablet.")),
    (LearningError, "", N_("This is not possible right now.")),
    (PinLockedError, "", N_("Too many wrong PINs. Please wait and try again.")),
    (AuthError, "not signed in", N_("Please sign in again.")),
    (AuthError, "", N_("Sign-in refused. Please try again.")),
    (SyncTLSError, "", N_("The server's certificate is not trusted by this tablet.")),
    (SyncNetworkError, "", N_("The server cannot be reached. Check the network and "
                              "try again.")),
    (SyncAuthError, "", N_("The server refused this tablet. Ask the administrator for a new "
                           "enrolment code.")),
    (SyncProtocolError, "", N_("The server gave an unexpected answer. Try again later.")),
    (SyncError, "not installed", N_("Sync client not installed yet.")),
    (SyncError, "no server address", N_("Enter the server address first.")),
    (SyncError, "server_url", N_("The server address must look like "
                                 "https://learning.example.org.")),
    (SyncError, "not enrolled", N_("This tablet is not enrolled: enter an enrolment code "
                                   "from the administrator.")),
    (SyncError, "enrolment code", N_("Enter the enrolment code from the administrator.")),
    (SyncError, "", N_("Sync failed. Try again later.")),
    (PackError, "", N_("This content pack cannot be used on this tablet.")),
    (CertificateError, "", N_("This certificate cannot be checked.")),
    (StoreError, "server_url", N_("The server address must look like "
                                  "https://learning.example.org.")),
    (StoreError, "already used", N_("This staff number already has a profile on this tablet.")),
    (StoreError, "", N_("This could not be saved on the tablet. Your earlier work is safe.")),
    (ShiftError, "", N_("Something went wrong. Your work is saved.")),
)


def error_sentence(tr: Translator, error: BaseException) -> str:
    """The translated sentence a learner sees for a refused action or failed sync."""
    translated = getattr(error, "translated", None)
    if callable(translated):  # ProfileFormError knows its own sentence
        return str(translated(tr))
    text = str(error).casefold()
    for cls, fragment, message in ERROR_TEXT:
        if isinstance(error, cls) and fragment in text:
            return tr.gettext(message)
    return tr.gettext("Something went wrong. Your work is saved.")


PHASE_TEXT: dict[str, str] = {
    "pull": N_("Receiving progress and profiles…"),
    "push": N_("Sending progress…"),
    "packs": N_("Checking for new content…"),
    "install": N_("Installing new content…"),
    "done": N_("Sync finished."),
}


def progress_text(tr: Translator, fraction: float, message: Any) -> str:
    """One line under the sync progress bar, from the sync client's ProgressText ids
    (``phase``, ``done``, ``total``; docs/sync-client.md); plain text falls back to the
    percentage only, so English never leaks into a translated screen."""
    phase = getattr(message, "phase", "")
    done = getattr(message, "done", 0) or 0
    total = getattr(message, "total", 0) or 0
    if phase == "download":
        if isinstance(total, int) and total > 0:
            return tr.gettext("Downloading new content ({done} of {total})…").format(
                done=tr.format_bytes(int(done)), total=tr.format_bytes(total))
        return tr.gettext("Downloading new content…")
    if phase in PHASE_TEXT:
        return tr.gettext(PHASE_TEXT[phase])
    return tr.gettext("Syncing… {percent}").format(
        percent=tr.format_percent(max(0.0, min(1.0, fraction))))
