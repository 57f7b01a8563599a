"""Translated sentences for refused actions, form errors and sync progress.

The core and the sync client raise errors whose English text is for logs and tests
("attempt a1: question 'q2' already answered"). A learner sees a translated sentence
instead, chosen here by the error's **code** (app/core/errors.py ``ErrorCode``) from one
table — never by its text, so rewording a message changes nothing a learner sees
(tests/unit/test_ui_messages.py proves it). A code without its own sentence falls back to
the code of its class's family (a ``SyncQuotaError`` is a ``SyncError``: "Sync failed").
Pure: no Flet, so it is unit-tested directly; ``tools/i18n.py`` extracts the ``N_`` marks.
"""

from __future__ import annotations

from app.core.application import ProfileFormError, ProgressText
from app.core.errors import ErrorCode, ShiftError
from app.core.i18n import N_, Translator

E = ErrorCode
_FINISH_FIRST = N_("Finish the attempt you started first.")
_CHOOSE_FIRST = N_("Choose an answer first.")
_ASSESSMENT_DONE = N_("This self-assessment is already completed.")
_SERVER_URL = N_("The server address must look like https://learning.example.org.")

#: error code → the sentence a learner sees ({n}: the error's limit, for form fields).
ERROR_SENTENCES: dict[ErrorCode, str] = {
    # learning and self-assessment
    E.ALREADY_ANSWERED: N_("You have already answered this question."),
    E.ATTEMPT_SUBMITTED: N_("This quiz attempt was already submitted."),
    E.NO_ATTEMPTS_LEFT: N_("No quiz attempts are left for this course."),
    E.ATTEMPT_STILL_OPEN: _FINISH_FIRST,
    E.ASSESSMENT_STILL_OPEN: _FINISH_FIRST,
    E.CHOOSE_ONE: N_("Choose exactly one answer."),
    E.CHOICE_MISSING: _CHOOSE_FIRST,
    E.CHOICE_REPEATED: _CHOOSE_FIRST,
    E.ASSESSMENT_COMPLETED: _ASSESSMENT_DONE,
    E.TASKS_NOT_RATED: N_("Rate every task before you finish."),
    E.NOT_INSTALLED: N_("This content is not installed on this tablet."),
    E.LEARNING: N_("This is not possible right now."),
    # observed practice
    E.MENTOR_IS_LEARNER: N_("You cannot confirm your own task. Ask a mentor or trainer."),
    E.NOT_A_MENTOR: N_("Only a mentor or a trainer can confirm a task."),
    E.TASK_UNKNOWN: N_("This task is not in the installed courses."),
    E.OBSERVATION_DATE_BAD: N_("Choose the day you observed the task (not in the future)."),
    # sign-in
    E.PIN_LOCKED: N_("Too many wrong PINs. Please wait and try again."),
    E.NOT_SIGNED_IN: N_("Please sign in again."),
    E.ADMIN_REQUIRED: N_("Only an administrator can change this. Ask an administrator to "
                         "unlock the device settings."),
    E.ADMIN_PIN_WRONG: N_("The administrator PIN is not right."),
    E.ADMIN_PIN_NEEDED: N_("Set a device administrator PIN before enrolling this tablet."),
    E.AUTH: N_("Sign-in refused. Please try again."),
    # sync
    E.SYNC_TLS: N_("The server's certificate is not trusted by this tablet."),
    E.SYNC_NETWORK: N_("The server cannot be reached. Check the network and try again."),
    E.SYNC_AUTH: N_("The server refused this tablet. Ask the administrator for a new "
                    "enrolment code."),
    E.DEVICE_REVOKED: N_("An administrator withdrew this tablet. The learners' data on it "
                         "has been removed. Ask the administrator to enrol it again."),
    E.SYNC_PROTOCOL: N_("The server gave an unexpected answer. Try again later."),
    E.SYNC_NOT_INSTALLED: N_("Sync client not installed yet."),
    E.NO_SERVER_ADDRESS: N_("Enter the server address first."),
    E.SERVER_URL_INVALID: _SERVER_URL,
    E.NOT_ENROLLED: N_("This tablet is not enrolled: enter an enrolment code from the "
                       "administrator."),
    E.ENROLMENT_CODE_INVALID: N_("Enter the enrolment code from the administrator."),
    E.SYNC: N_("Sync failed. Try again later."),
    # content, certificates, store
    E.PACK: N_("This content pack cannot be used on this tablet."),
    E.CERTIFICATE: N_("This certificate cannot be checked."),
    E.STAFF_NUMBER_TAKEN: N_("This staff number already has a profile on this tablet."),
    E.STORE: N_("This could not be saved on the tablet. Your earlier work is safe."),
    # the profile forms (ProfileFormError: the field is named by the form itself)
    E.NAME_MISSING: N_("Enter your name."),
    E.NAME_TOO_LONG: N_("The name is too long ({n} characters at most)."),
    E.NAME_BAD: N_("The name contains characters that cannot be shown."),
    E.STAFF_NUMBER_MISSING: N_("Enter your staff number."),
    E.STAFF_NUMBER_BAD: N_("Staff number: letters, digits and . / - _ only."),
    E.STAFF_NUMBER_TOO_LONG: N_("The staff number is too long ({n} characters at most)."),
    E.ROLE_UNKNOWN: N_("Choose your role."),
    E.LANGUAGE_UNKNOWN: N_("Choose a language."),
    E.PIN_BAD: N_("The PIN must be 4 to 8 digits."),
    E.PIN_MISMATCH: N_("The two PINs are not the same."),
    E.PIN_TOO_SHORT: N_("This organisation requires a PIN of at least {n} digits."),
    E.PIN_WRONG: N_("The current PIN is not right."),
    E.PIN_TRIVIAL: N_("Choose a PIN that is not a simple sequence like 1234 or 1111."),
    E.SETUP_CODE_MISSING: N_("Enter the set-up code your administrator gave you."),
    E.SETUP_CODE_WRONG: N_("This set-up code is not right. Check it and try again."),
    E.SETUP_CODE_EXPIRED: N_("This set-up code has expired. Ask your administrator for a "
                             "new one."),
    E.SETUP_CODE_NONE: N_("There is no set-up code for this profile yet. Ask your "
                          "administrator for one."),
    # anything else
    E.ERROR: N_("Something went wrong. Your work is saved."),
}


def sentence_code(error: BaseException) -> ErrorCode:
    """The code whose sentence a learner sees: the error's own code if it has a
    sentence, else the nearest family code (walking its classes), else ERROR."""
    if isinstance(error, ShiftError):
        if error.code in ERROR_SENTENCES:
            return error.code
        for cls in type(error).__mro__:
            code = cls.__dict__.get("code")
            if isinstance(code, ErrorCode) and code in ERROR_SENTENCES:
                return code
    return ErrorCode.ERROR


def error_sentence(tr: Translator, error: BaseException) -> str:
    """The translated sentence a learner sees for a refused action, a failed sync or a
    wrong form field."""
    text = tr.gettext(ERROR_SENTENCES[sentence_code(error)])
    if isinstance(error, ProfileFormError) and error.limit is not None:
        return text.format(n=error.limit)
    return text


#: sync phase id (ProgressText.phase) → the line under the progress bar
PHASE_SENTENCES: dict[str, str] = {
    "pull": N_("Receiving progress and profiles…"),
    "push": N_("Sending progress…"),
    "packs": N_("Checking for new content…"),
    "install": N_("Installing new content…"),
    "done": N_("Sync finished."),
}


def progress_text(tr: Translator, fraction: float, message: str) -> str:
    """One line under the sync progress bar, from the ProgressText's phase id, done and
    total (docs/sync-client.md); any other text falls back to the percentage only, so
    English never leaks into a translated screen."""
    if isinstance(message, ProgressText):
        if message.phase == "download":
            if message.total > 0:
                return tr.gettext("Downloading new content ({done} of {total})…").format(
                    done=tr.format_bytes(message.done), total=tr.format_bytes(message.total))
            return tr.gettext("Downloading new content…")
        if message.phase in PHASE_SENTENCES:
            return tr.gettext(PHASE_SENTENCES[message.phase])
    return tr.gettext("Syncing… {percent}").format(
        percent=tr.format_percent(max(0.0, min(1.0, fraction))))
