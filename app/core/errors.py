"""One exception tree for the whole project, and the stable codes its errors carry.

Every error a user or admin can cause carries a message that says *where* (file, line,
field) and *what* is wrong, in English, for logs and the CLI. What an error *means* is
its ``code`` (an :class:`ErrorCode`) and its data fields (``wait_seconds``,
``retry_after``, ``status`` …), never its text: the UI picks the learner's sentence from
the code (app/ui/messages.py) and the sync client decides by HTTP status and codes
(app/sync), so rewording a message changes no behaviour (tests/unit/test_error_codes.py).

Each class has a default code (its family's catch-all); a raise site that means
something more specific passes ``code=``. Codes are a ``StrEnum``: a code compares equal
to its text and serialises as it (``"already_answered"``), so it can cross the wire.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """What went wrong, as a stable key (never shown as is; never reworded)."""

    # -- the catch-all of each family (the class's default code) ---------------------------
    ERROR = "error"
    PACK = "pack"
    STORE = "store"
    EVENT_INVALID = "event_invalid"
    DEVICE_FOLDER = "device_folder"
    AUTH = "auth"
    LEARNING = "learning"
    CERTIFICATE = "certificate"
    SYNC = "sync"
    SYNC_NETWORK = "sync_network"
    SYNC_AUTH = "sync_auth"
    SYNC_PROTOCOL = "sync_protocol"
    SYNC_QUOTA = "sync_quota"
    SYNC_TLS = "sync_tls"
    DEVICE_REVOKED = "device_revoked"

    # -- learning and self-assessment rules ------------------------------------------------
    ALREADY_ANSWERED = "already_answered"
    ATTEMPT_SUBMITTED = "attempt_submitted"
    NO_ATTEMPTS_LEFT = "no_attempts_left"
    ATTEMPT_STILL_OPEN = "attempt_still_open"
    CHOOSE_ONE = "choose_one"
    CHOICE_MISSING = "choice_missing"
    CHOICE_REPEATED = "choice_repeated"
    ASSESSMENT_STILL_OPEN = "assessment_still_open"
    ASSESSMENT_COMPLETED = "assessment_completed"
    TASKS_NOT_RATED = "tasks_not_rated"
    NOT_INSTALLED = "not_installed"
    #: observed practice (app/core/practice): who may confirm, what, when
    MENTOR_IS_LEARNER = "mentor_is_learner"
    NOT_A_MENTOR = "not_a_mentor"
    TASK_UNKNOWN = "task_unknown"
    OBSERVATION_DATE_BAD = "observation_date_bad"

    # -- sign-in -----------------------------------------------------------------------------
    NOT_SIGNED_IN = "not_signed_in"
    #: device-wide settings need the device admin PIN (app/core/application/device_admin.py)
    ADMIN_REQUIRED = "admin_required"
    ADMIN_PIN_WRONG = "admin_pin_wrong"
    ADMIN_PIN_NEEDED = "admin_pin_needed"
    PIN_LOCKED = "pin_locked"
    PIN_NOT_SET = "pin_not_set"

    # -- the tablet's sync set-up --------------------------------------------------------------
    SYNC_NOT_INSTALLED = "sync_not_installed"
    NO_SERVER_ADDRESS = "no_server_address"
    SERVER_URL_INVALID = "server_url_invalid"
    NOT_ENROLLED = "not_enrolled"
    ENROLMENT_CODE_INVALID = "enrolment_code_invalid"

    # -- device store ----------------------------------------------------------------------------
    STAFF_NUMBER_TAKEN = "staff_number_taken"

    # -- fields of the "new profile" and "Set your PIN" forms (ProfileFormError) ----------------
    NAME_MISSING = "name_missing"
    NAME_TOO_LONG = "name_too_long"
    NAME_BAD = "name_bad"
    STAFF_NUMBER_MISSING = "staff_number_missing"
    STAFF_NUMBER_BAD = "staff_number_bad"
    STAFF_NUMBER_TOO_LONG = "staff_number_too_long"
    ROLE_UNKNOWN = "role_unknown"
    LANGUAGE_UNKNOWN = "language_unknown"
    PIN_BAD = "pin_bad"
    PIN_MISMATCH = "pin_mismatch"
    PIN_TRIVIAL = "pin_trivial"
    #: a new PIN shorter than the deployment's PIN policy (docs/security.md "PIN policy")
    PIN_TOO_SHORT = "pin_too_short"
    #: the current PIN typed to change it is wrong
    PIN_WRONG = "pin_wrong"
    SETUP_CODE_MISSING = "code_missing"
    #: the one-time PIN set-up code (SetupCodeError and the form alike)
    SETUP_CODE_WRONG = "code_wrong"
    SETUP_CODE_EXPIRED = "code_expired"
    SETUP_CODE_NONE = "code_none"

    # -- profile field rules (ProfileFieldError, app/core/profile_rules.py) ---------------------
    FIELD_MISSING = "missing"
    FIELD_NOT_TEXT = "not_text"
    FIELD_TOO_LONG = "too_long"
    FIELD_BAD_CHARACTERS = "bad_characters"
    FIELD_BAD_FORMAT = "bad_format"
    FIELD_UNKNOWN = "unknown"

    # -- JSON crossing the device ↔ server boundary (JSONLimitError, bounded_json.py) ------------
    JSON_INVALID = "invalid_json"
    JSON_TOO_DEEP = "too_deep"
    JSON_TOO_LARGE = "too_large"


class ShiftError(Exception):
    """Root of every error Shift Learning raises on purpose.

    ``code`` is the class's default unless the raise site names a more specific one.
    """

    code: ErrorCode = ErrorCode.ERROR

    def __init__(self, message: str = "", *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class PackError(ShiftError):
    """A content pack (source or built) is unusable."""

    code = ErrorCode.PACK


class PackSourceError(PackError):
    """An authoring mistake in a pack source folder; names file, line and field."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = path or ""
        if line is not None:
            where += f":{line}"
        if field:
            where += f" [{field}]" if where else f"[{field}]"
        super().__init__(f"{where}: {message}" if where else message)


class PackSourceErrors(PackSourceError):
    """Several authoring mistakes of one pack source (app/core/packs/problems.py):
    ``problems`` holds each PackSourceError (file, line, field); the message lists them."""

    def __init__(self, problems: list[PackSourceError], *, total: int) -> None:
        self.problems = problems
        self.total = total
        more = f"\n… and {total - len(problems)} more" if total > len(problems) else ""
        super().__init__(f"{total} problems in the pack source:\n"
                         + "\n".join(str(p) for p in problems) + more)


class PackVerifyError(PackError):
    """A built pack failed verification (signature, hash, path, size, version…)."""


class PackInstallError(PackError):
    """Installing a verified pack failed (disk space, I/O); the previous pack still works."""


class StoreError(ShiftError):
    """The device store cannot do what was asked; stored data is left intact."""

    code = ErrorCode.STORE


class StoreReadError(StoreError):
    """A store file could not be read at all (an I/O error, too many open files, no
    permission) — nothing is known of its content, which may be whole: trying again
    later may work. Damage found in what was read is a plain StoreError."""


class StoreSyncError(StoreError):
    """A store file was replaced whole, then making the replace durable failed (the
    folder's fsync): the new content is what is on disk and what the next read gets —
    only a power cut may still take it back. A caller that counts what it wrote counts
    this write (`written`: how many documents, where it says)."""

    written = 0


class EventError(StoreError):
    """An event is malformed; the message names the field."""

    code = ErrorCode.EVENT_INVALID


class DeviceError(ShiftError):
    """The device folder cannot be opened (permissions, damaged store)."""

    code = ErrorCode.DEVICE_FOLDER


class JSONLimitError(ShiftError):
    """A JSON document is not valid JSON or exceeds the boundary limits
    (app/core/bounded_json.py). `code` is JSON_INVALID, JSON_TOO_DEEP or JSON_TOO_LARGE."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message, code=code)


class ProfileFieldError(StoreError):
    """A learner profile field breaks app/core/profile_rules.py.

    ``field`` names it (``profiles[3].staff_number``), ``code`` is one of the FIELD_*
    codes (text ``missing``, ``not_text``, ``too_long``, ``bad_characters``,
    ``bad_format``, ``unknown``) and ``detail`` says what is wrong in English (for logs,
    the CLI and the server's answers).
    """

    def __init__(self, field: str, code: ErrorCode, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}", code=code)


class AuthError(ShiftError):
    """Wrong PIN, locked profile, bad token."""

    code = ErrorCode.AUTH


class PinNotSetError(AuthError):
    """The profile has no PIN yet (registered by an admin): set a first PIN to sign in."""

    code = ErrorCode.PIN_NOT_SET


class SetupCodeError(AuthError):
    """The one-time PIN set-up code cannot set a first PIN. ``reason`` is stable:
    ``missing`` (no code was issued for this profile, or it was already used),
    ``expired``, or ``wrong``; ``code`` says the same as an ErrorCode."""

    CODES = {"missing": ErrorCode.SETUP_CODE_NONE, "expired": ErrorCode.SETUP_CODE_EXPIRED,
             "wrong": ErrorCode.SETUP_CODE_WRONG}

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message, code=self.CODES.get(reason, ErrorCode.SETUP_CODE_WRONG))


class PinLockedError(AuthError):
    """Too many wrong PINs: the profile is locked for `wait_seconds` (store profiles)."""

    code = ErrorCode.PIN_LOCKED

    def __init__(self, message: str, *, wait_seconds: int) -> None:
        self.wait_seconds = wait_seconds
        super().__init__(message)


class SyncError(ShiftError):
    """Sync with the server failed; nothing acknowledged was lost.

    ``status`` is the HTTP status of the answer that caused it (None when there was no
    answer); ``server_code`` the ``code`` field of the server's error answer, if any.
    """

    code = ErrorCode.SYNC

    def __init__(self, message: str = "", *, code: ErrorCode | None = None,
                 status: int | None = None, server_code: str | None = None) -> None:
        self.status = status
        self.server_code = server_code
        super().__init__(message, code=code)


class SyncNetworkError(SyncError):
    """The server could not be reached or the connection dropped."""

    code = ErrorCode.SYNC_NETWORK


class SyncAuthError(SyncError):
    """The server refused the device token or enrolment code."""

    code = ErrorCode.SYNC_AUTH


class DeviceRevokedError(SyncAuthError):
    """The server says an admin revoked this tablet (HTTP 401, code ``device_revoked``):
    the sync client has wiped the learners' data and dropped the token."""

    code = ErrorCode.DEVICE_REVOKED


class SyncProtocolError(SyncError):
    """The server answered something the protocol does not allow (``status`` says which
    HTTP status, when the answer was an error status such as 413)."""

    code = ErrorCode.SYNC_PROTOCOL


class SyncQuotaError(SyncError):
    """The server's per-device quota for today is used up (HTTP 429 with code
    ``quota_exceeded``). Nothing was lost: the outbox keeps every unacknowledged event;
    `retry_after` is how many seconds until the server accepts pushes again."""

    code = ErrorCode.SYNC_QUOTA

    def __init__(self, message: str, *, retry_after: float, quota: str = "") -> None:
        self.retry_after = retry_after
        self.quota = quota
        super().__init__(message, status=429, server_code="quota_exceeded")


class SyncTLSError(SyncNetworkError):
    """The server's TLS certificate is not trusted (set the ``ca_bundle`` setting for a
    facility server with its own certificate authority)."""

    code = ErrorCode.SYNC_TLS


class LearningError(ShiftError):
    """A learning-engine rule was broken (e.g. no attempts left)."""

    code = ErrorCode.LEARNING


class CertificateError(ShiftError):
    """A certificate cannot be issued or read (bad input, missing key or font)."""

    code = ErrorCode.CERTIFICATE
