"""Device settings and secrets, in the same crash-safe files as everything else.

``settings.json`` holds plain settings (one TinyDB document); ``secrets.json`` (mode
0600) holds secrets such as the device token. A secret comes back as a `Secret`, whose
repr/str/format are masked so it cannot end up in a log or a traceback by accident;
`.reveal()` gives the text to the one place that needs it (the sync client's header).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from app.core import pins, profile_rules
from app.core.errors import ErrorCode, StoreError
from app.core.events import parse_at
from app.core.store.atomic import AtomicJSONStorage

KEY_RE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
SECRET_KEYS = frozenset({"device_token"})
#: The deployment's PIN policy as the last pull delivered it (None: never told, 4 digits).
PIN_POLICY_SETTING = "pin_min_digits"
MAX_VALUE_BYTES = 65_536
DEFAULTS: dict[str, Any] = {
    "server_url": None,
    "trusted_keys": [],
    "locale": None,
    "text_size": None,
    "high_contrast": False,
    "idle_lock_seconds": 180,
    "sync_cursor": None,
    "last_sync_at": None,
}
_MISSING = object()


class Secret:
    """A secret string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not picklable")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _server_url(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2000 or any(c.isspace() for c in value):
        raise StoreError("server_url: expected an http(s) URL without spaces",
                         code=ErrorCode.SERVER_URL_INVALID)
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StoreError(f"server_url: expected http(s)://host[:port][/path], got {value!r}",
                         code=ErrorCode.SERVER_URL_INVALID)
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise StoreError(f"server_url: bad port in {value!r}",
                         code=ErrorCode.SERVER_URL_INVALID) from None
    return value.rstrip("/")


def _trusted_keys(value: Any) -> Any:
    if not isinstance(value, list) or not all(
            isinstance(k, str) and 0 < len(k) <= 4096 for k in value):
        raise StoreError("trusted_keys: expected a list of public keys (text)")
    return list(dict.fromkeys(value))


def _locale(value: Any) -> Any:
    return None if value is None else profile_rules.language(value, "locale")


def _text_size(value: Any) -> Any:
    if value is None or (_number(value) and 0.5 <= value <= 64):
        return value
    if isinstance(value, str) and re.fullmatch(r"[a-z][a-z-]{0,15}", value):
        return value
    raise StoreError("text_size: expected a number 0.5..64 or a size name like 'large'")


#: Bound of the ``learner_display`` setting (app/core/application/display.py).
MAX_LEARNER_DISPLAY = 500


def _learner_display(value: Any) -> Any:
    """learner id → {text_size: a size name, high_contrast: bool}; bounded."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_LEARNER_DISPLAY:
        raise StoreError(f"learner_display: expected an object of at most "
                         f"{MAX_LEARNER_DISPLAY} learners")
    for learner, entry in value.items():
        if not isinstance(learner, str) or not 0 < len(learner) <= 128:
            raise StoreError("learner_display: a learner id must be 1-128 characters")
        if not isinstance(entry, dict) or set(entry) - {"text_size", "high_contrast"} \
                or not re.fullmatch(r"[a-z][a-z-]{0,15}", str(entry.get("text_size", "x"))) \
                or not isinstance(entry.get("high_contrast", False), bool):
            raise StoreError(f"learner_display[{learner!r}]: expected "
                             "{text_size: a size name, high_contrast: true or false}")
    return value


def _bool(key: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, bool):
            raise StoreError(f"{key}: expected true or false")
        return value
    return check


def _idle(value: Any) -> Any:
    if not isinstance(value, int) or isinstance(value, bool) or not 10 <= value <= 86_400:
        raise StoreError("idle_lock_seconds: expected whole seconds 10..86400")
    return value


def _cursor(value: Any) -> Any:
    if value is None or (isinstance(value, str) and len(value) <= 1000):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise StoreError("sync_cursor: expected text (≤ 1000 chars), a number >= 0, or null")


def _at(value: Any) -> Any:
    if value is not None:
        try:
            parse_at(value)
        except StoreError as exc:
            raise StoreError(f"last_sync_at: {exc}") from None
    return value


CHECKS: dict[str, Callable[[Any], Any]] = {
    "server_url": _server_url,
    "trusted_keys": _trusted_keys,
    "locale": _locale,
    "text_size": _text_size,
    "high_contrast": _bool("high_contrast"),
    "learner_display": _learner_display,
    "idle_lock_seconds": _idle,
    "sync_cursor": _cursor,
    "last_sync_at": _at,
    PIN_POLICY_SETTING: lambda v: None if v is None else pins.pin_policy_digits(v),
}


def check_setting(key: Any, value: Any) -> Any:
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise StoreError(f"setting {key!r}: keys are lower-case letters, digits, _ and .")
    if key in SECRET_KEYS:
        raise StoreError(f"{key}: is a secret: use settings.set_secret / get_secret")
    if key in CHECKS:
        return CHECKS[key](value)
    try:
        size = len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        raise StoreError(f"{key}: value is not storable as JSON") from None
    if size > MAX_VALUE_BYTES:
        raise StoreError(f"{key}: value larger than {MAX_VALUE_BYTES} bytes")
    return json.loads(json.dumps(value))


class Settings:
    def __init__(self, path: Path, secrets_path: Path, lock: threading.RLock) -> None:
        self._storage = AtomicJSONStorage(path, "settings")
        self._secrets = AtomicJSONStorage(secrets_path, "secrets", mode=0o600)
        self._lock = lock
        self._storage.read()
        self._secrets.read()

    def _values(self) -> dict[str, Any]:
        return dict((self._storage.read() or {}).get("settings", {}).get("1", {}))

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The stored value; else `default` if given; else the built-in default."""
        if key in SECRET_KEYS:
            raise StoreError(f"{key}: is a secret: use settings.get_secret")
        with self._lock:
            values = self._values()
        if key in values:
            return json.loads(json.dumps(values[key]))
        if default is not _MISSING:
            return default
        return json.loads(json.dumps(DEFAULTS.get(key)))

    def set(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, mapping: Mapping[str, Any]) -> None:
        """Check every value first, then write them all at once."""
        if not isinstance(mapping, Mapping):
            raise StoreError("settings.update: expected a mapping")
        clean = {key: check_setting(key, value) for key, value in mapping.items()}
        with self._lock:
            values = self._values()
            values.update(clean)
            self._storage.write({"settings": {"1": values}})

    def delete(self, key: str) -> None:
        with self._lock:
            values = self._values()
            if values.pop(key, _MISSING) is not _MISSING:
                self._storage.write({"settings": {"1": values}})

    def all(self) -> dict[str, Any]:
        """Defaults overlaid with stored settings; secrets are not included
        (see has_secret)."""
        with self._lock:
            values = self._values()
        copied: dict[str, Any] = json.loads(json.dumps({**DEFAULTS, **values}))
        return copied

    # -- secrets -------------------------------------------------------------------
    def set_secret(self, name: str, value: str | None) -> None:
        """Store (or with None remove) a secret such as the device token."""
        if not isinstance(name, str) or not KEY_RE.match(name):
            raise StoreError(f"secret {name!r}: names are lower-case letters, digits, _ and .")
        if value is not None and (not isinstance(value, str) or not value or len(value) > 4096):
            raise StoreError(f"{name}: a secret is non-empty text up to 4096 characters")
        with self._lock:
            values = dict((self._secrets.read() or {}).get("secrets", {}).get("1", {}))
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
            self._secrets.write({"secrets": {"1": values}})

    def get_secret(self, name: str) -> Secret | None:
        with self._lock:
            value = (self._secrets.read() or {}).get("secrets", {}).get("1", {}).get(name)
        return Secret(value) if isinstance(value, str) else None

    def has_secret(self, name: str) -> bool:
        return self.get_secret(name) is not None

    def __repr__(self) -> str:
        return f"Settings({self._storage.path.parent}, secrets masked)"
