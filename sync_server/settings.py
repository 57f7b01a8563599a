"""Server configuration: zero-config defaults, overridable by environment variables.

Every setting has an environment variable (documented in docs/deployment.md); the CLI
and the tests build a Settings object directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

MiB = 1024 * 1024


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}: expected an integer, got {raw!r}") from None


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
    log_level: str = "INFO"

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
            "log_level": env.get("SHIFT_LOG_LEVEL", "INFO").upper(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values["data_dir"], str):
            values["data_dir"] = Path(values["data_dir"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]
