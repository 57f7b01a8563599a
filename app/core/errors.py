"""One exception tree for the whole project.

Every error a user or admin can cause carries a message that says *where* (file, line,
field) and *what* is wrong, so the CLI and the UI can show it as it is.
"""

from __future__ import annotations


class ShiftError(Exception):
    """Root of every error Shift Learning raises on purpose."""


class PackError(ShiftError):
    """A content pack (source or built) is unusable."""


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


class PackVerifyError(PackError):
    """A built pack failed verification (signature, hash, path, size, version…)."""


class PackInstallError(PackError):
    """Installing a verified pack failed (disk space, I/O); the previous pack still works."""


class StoreError(ShiftError):
    """The device store cannot do what was asked; stored data is left intact."""


class EventError(StoreError):
    """An event is malformed; the message names the field."""


class JSONLimitError(ShiftError):
    """A JSON document is not valid JSON or exceeds the boundary limits
    (app/core/bounded_json.py). `code` is "invalid_json", "too_deep" or "too_large"."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class ProfileFieldError(StoreError):
    """A learner profile field breaks app/core/profile_rules.py.

    ``field`` names it (``profiles[3].staff_number``), ``code`` is stable (``missing``,
    ``not_text``, ``too_long``, ``bad_characters``, ``bad_format``, ``unknown``) and
    ``detail`` says what is wrong in English (for logs, the CLI and the server's answers).
    """

    def __init__(self, field: str, code: str, detail: str) -> None:
        self.field = field
        self.code = code
        self.detail = detail
        super().__init__(f"{field}: {detail}")


class AuthError(ShiftError):
    """Wrong PIN, locked profile, bad token."""


class PinNotSetError(AuthError):
    """The profile has no PIN yet (registered by an admin): set a first PIN to sign in."""


class SetupCodeError(AuthError):
    """The one-time PIN set-up code cannot set a first PIN. ``reason`` is stable:
    ``missing`` (no code was issued for this profile, or it was already used),
    ``expired``, or ``wrong``."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class PinLockedError(AuthError):
    """Too many wrong PINs: the profile is locked for `wait_seconds` (store profiles)."""

    def __init__(self, message: str, *, wait_seconds: int) -> None:
        self.wait_seconds = wait_seconds
        super().__init__(message)


class SyncError(ShiftError):
    """Sync with the server failed; nothing acknowledged was lost."""


class SyncNetworkError(SyncError):
    """The server could not be reached or the connection dropped."""


class SyncAuthError(SyncError):
    """The server refused the device token or enrolment code."""


class SyncProtocolError(SyncError):
    """The server answered something the protocol does not allow."""


class SyncQuotaError(SyncError):
    """The server's per-device quota for today is used up (HTTP 429 with code
    ``quota_exceeded``). Nothing was lost: the outbox keeps every unacknowledged event;
    `retry_after` is how many seconds until the server accepts pushes again."""

    def __init__(self, message: str, *, retry_after: float, quota: str = "") -> None:
        self.retry_after = retry_after
        self.quota = quota
        super().__init__(message)


class SyncTLSError(SyncNetworkError):
    """The server's TLS certificate is not trusted (set the ``ca_bundle`` setting for a
    facility server with its own certificate authority)."""


class LearningError(ShiftError):
    """A learning-engine rule was broken (e.g. no attempts left)."""


class CertificateError(ShiftError):
    """A certificate cannot be issued or read (bad input, missing key or font)."""
