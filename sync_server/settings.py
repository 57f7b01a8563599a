"""Server configuration: zero-config defaults, overridable by environment variables.

Every setting has an environment variable (the table in docs/deployment.md, kept
complete by tests/unit/test_env_table.py); the CLI and the tests build a Settings object
directly. A malformed value is a ConfigError naming the variable, never a silent default.

Two settings decide what the server believes about a request (docs/deployment.md §4.3):

* ``public_base_url`` (SHIFT_PUBLIC_BASE_URL) is the one source of every absolute URL
  the server writes (certificate issuer / verify URL / QR, xAPI IRIs, enrolment QR): a
  request's Host header never decides them. Outside development mode (SHIFT_DEV) the
  server refuses to start without it; in development it defaults to the address `serve`
  listens on.
* ``trusted_proxies`` (SHIFT_TRUSTED_PROXIES, default none): only a peer in this list may
  set the client address and scheme with X-Forwarded-For / X-Forwarded-Proto; from any
  other peer those headers are ignored (the per-address admin login limit counts the
  real peer).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from sync_server.errors import ConfigError

MiB = 1024 * 1024
#: Public base URL of a development server started without SHIFT_PUBLIC_BASE_URL and
#: without `serve` (which uses the address it listens on).
DEV_BASE_URL = "http://127.0.0.1:8700"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None


def parse_flag(name: str, raw: str | None) -> bool:
    """``1/true/yes/on`` → True, unset/empty/``0/false/no/off`` → False, else ConfigError."""
    value = (raw or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: expected 1 or 0 (true/false), got {raw!r}")


#: Set by `serve` for its worker processes when it filled in the public base URL.
def _pin_digits(value: int) -> int:
    if not 4 <= value <= 8:
        raise ConfigError(f"SHIFT_PIN_DIGITS: expected 4..8 (digits of a new PIN), got {value}")
    return value


DEFAULTED_ENV = "SHIFT_PUBLIC_BASE_URL_DEFAULTED"


def parse_public_base_url(raw: str, name: str = "SHIFT_PUBLIC_BASE_URL") -> str:
    """``http(s)://host[:port][/path]`` without a trailing slash; anything else (no
    scheme, user:password@, a query or fragment, spaces) is a ConfigError."""
    text = raw.strip()
    example = "e.g. https://learning.example.org"
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a port that is not a number 0-65535
    except ValueError as exc:
        raise ConfigError(f"{name}: {raw!r} is not a URL ({exc}); {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}: expected http(s)://host[:port][/path], got {raw!r}; {example}")
    if parts.username is not None or parts.query or parts.fragment or port == 0 \
            or any(c.isspace() or c in "<>\"'\\" for c in text):
        raise ConfigError(f"{name}: {raw!r} must be a plain base URL (no user, query, fragment, "
                          f"quotes or spaces); {example}")
    return text.rstrip("/")


def parse_trusted_proxies(raw: str, name: str = "SHIFT_TRUSTED_PROXIES") -> tuple[str, ...]:
    """A comma- or space-separated list of IP addresses and CIDR networks, normalised
    (``10.0.0.0/8``, ``::1``). A host name, ``*`` or a malformed entry is a ConfigError:
    trusting a proxy by name or everyone would let any client choose its address."""
    entries: list[str] = []
    for item in raw.replace(",", " ").split():
        try:
            net = ipaddress.ip_network(item, strict=False) if "/" in item \
                else ipaddress.ip_address(item)
        except ValueError:
            raise ConfigError(f"{name}: {item!r} is not an IP address or CIDR network "
                              "(e.g. 127.0.0.1, 10.0.0.0/8, ::1)") from None
        entries.append(str(net))
    return tuple(dict.fromkeys(entries))


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to start.

    `database_url` None means the SQLite file `<data_dir>/server.sqlite3`.
    """

    data_dir: Path = Path("var/server")
    database_url: str | None = None
    #: Largest accepted request body (after gzip decoding) for JSON endpoints.
    max_body_bytes: int = 16 * MiB
    #: Largest pack / zipped source upload (streamed to disk, never held in memory).
    max_upload_bytes: int = 1024 * MiB
    #: Default lifetime of an enrolment code (seconds).
    enrol_code_ttl_s: int = 7 * 24 * 3600
    #: Lifetime of a one-time PIN set-up code handed to a learner the admin registered.
    pin_setup_ttl_s: int = 30 * 24 * 3600
    #: Lifetime of an admin bearer token (seconds).
    admin_session_ttl_s: int = 12 * 3600
    #: Ed25519 private key used to build/sign packs uploaded as source; None = generated
    #: on first start in `<data_dir>/keys/server.key`.
    signing_key: Path | None = None
    #: Extra trusted public keys for uploaded built packs (besides the server key).
    trusted_keys: tuple[Path, ...] = field(default_factory=tuple)
    #: Size of the database connection pool of one server process.
    db_pool_size: int = 8
    #: Per-device push quotas per UTC day (0 = no limit): events sent and request-body
    #: bytes (after gzip inflation). Generous for real use — a shared tablet with 40
    #: staff at ~500 events a day each makes 20,000; a tablet back after a month offline
    #: drains in one day — and small enough that one stolen token cannot fill the disk.
    device_events_per_day: int = 200_000
    device_bytes_per_day: int = 512 * MiB
    log_level: str = "INFO"
    #: Retention (docs/privacy.md): raw events older than this many years are folded into
    #: anonymous per-course counts and deleted; audit entries older than the other are
    #: deleted. 0 = keep for ever.
    retention_events_years: int = 6
    retention_audit_years: int = 6
    #: PIN policy (SHIFT_PIN_DIGITS, 4..8): the fewest digits of a new PIN. Sent to the
    #: tablets in every pull answer (``policy``); a pushed new verifier whose claimed
    #: ``pin_digits`` is smaller is refused (docs/security.md "PIN policy").
    pin_digits: int = 4
    #: The URL people and devices reach the server at; every absolute URL the server
    #: writes starts with it. None is allowed only in development mode.
    public_base_url: str | None = None
    #: Development mode (SHIFT_DEV=1, set by `make run`): may start without a public URL.
    development: bool = False
    #: True when `public_base_url` is only the listening address `serve` filled in
    #: (development mode without SHIFT_PUBLIC_BASE_URL): the console warns about it.
    public_base_url_defaulted: bool = False
    #: Peers (IPs / CIDR networks) whose X-Forwarded-For / -Proto headers are believed.
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)

    @property
    def base_url(self) -> str:
        """The public base URL (no trailing slash); ConfigError if none is configured
        outside development mode (see ``require_public_base_url``)."""
        self.require_public_base_url()
        return self.public_base_url or DEV_BASE_URL

    def require_public_base_url(self) -> None:
        """The start-up check: outside development mode a public base URL is required."""
        if self.public_base_url is None and not self.development:
            raise ConfigError(
                "SHIFT_PUBLIC_BASE_URL is not set: certificates, QR codes and xAPI "
                "statements need the URL people reach this server at (e.g. "
                "SHIFT_PUBLIC_BASE_URL=https://learning.example.org). For a development "
                "server on this machine set SHIFT_DEV=1 instead. See docs/deployment.md.")

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "server.sqlite3"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from SHIFT_* environment variables; keyword overrides win."""
        env = os.environ
        values: dict[str, object] = {
            "data_dir": Path(env.get("SHIFT_DATA_DIR") or "var/server"),
            "database_url": env.get("SHIFT_DATABASE_URL") or None,
            "max_body_bytes": _int_env("SHIFT_MAX_BODY_BYTES", cls.max_body_bytes),
            "max_upload_bytes": _int_env("SHIFT_MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            "enrol_code_ttl_s": _int_env("SHIFT_ENROL_CODE_TTL", cls.enrol_code_ttl_s),
            "admin_session_ttl_s": _int_env("SHIFT_ADMIN_SESSION_TTL", cls.admin_session_ttl_s),
            "pin_setup_ttl_s": _int_env("SHIFT_PIN_SETUP_TTL", cls.pin_setup_ttl_s),
            "signing_key": Path(env["SHIFT_SIGNING_KEY"]) if env.get("SHIFT_SIGNING_KEY") else None,
            "trusted_keys": tuple(Path(p) for p in env.get("SHIFT_TRUSTED_KEYS", "").split(os.pathsep)
                                  if p.strip()),
            "db_pool_size": _int_env("SHIFT_DB_POOL_SIZE", cls.db_pool_size),
            "device_events_per_day": _int_env("SHIFT_DEVICE_EVENTS_PER_DAY",
                                              cls.device_events_per_day),
            "device_bytes_per_day": _int_env("SHIFT_DEVICE_BYTES_PER_DAY",
                                             cls.device_bytes_per_day),
            "log_level": env.get("SHIFT_LOG_LEVEL", "INFO").upper(),
            "retention_events_years": _int_env("SHIFT_RETENTION_EVENTS_YEARS",
                                               cls.retention_events_years),
            "retention_audit_years": _int_env("SHIFT_RETENTION_AUDIT_YEARS",
                                              cls.retention_audit_years),
            "pin_digits": _pin_digits(_int_env("SHIFT_PIN_DIGITS", cls.pin_digits)),
            "public_base_url": parse_public_base_url(env["SHIFT_PUBLIC_BASE_URL"])
            if (env.get("SHIFT_PUBLIC_BASE_URL") or "").strip() else None,
            "development": parse_flag("SHIFT_DEV", env.get("SHIFT_DEV")),
            "public_base_url_defaulted": env.get(DEFAULTED_ENV) == "1",
            "trusted_proxies": parse_trusted_proxies(env.get("SHIFT_TRUSTED_PROXIES", "")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values["data_dir"], str):
            values["data_dir"] = Path(values["data_dir"])
        return cls(**values)  # type: ignore[arg-type]
