"""Server settings that decide what a request may claim: the public base URL, development
mode and the trusted proxies (sync_server/settings.py, sync_server/commands/serve.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync_server.app import create_app
from sync_server.commands.serve import listen_url, uvicorn_options
from sync_server.errors import ConfigError
from sync_server.settings import (
    DEV_BASE_URL,
    Settings,
    parse_flag,
    parse_public_base_url,
    parse_trusted_proxies,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("https://learning.example.org", "https://learning.example.org"),
    ("https://learning.example.org/", "https://learning.example.org"),
    (" http://10.0.0.5:8700/shift/ ", "http://10.0.0.5:8700/shift"),
    ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
])
def test_public_base_url_is_normalised(raw: str, expected: str) -> None:
    assert parse_public_base_url(raw) == expected


@pytest.mark.parametrize("raw", [
    "learning.example.org", "//learning.example.org", "ftp://x.org", "https://", "https:///x",
    "https://u@x.org", "https://u:p@x.org", "https://x.org/?a=1", "https://x.org/#top",
    "https://x.org:0", "https://x.org:99999", "https://x.org:port", "https://x.org/a b",
    'https://x.org/"><script>', "javascript:alert(1)", "https://[::1",
])
def test_public_base_url_refuses_anything_but_a_plain_base_url(raw: str) -> None:
    with pytest.raises(ConfigError, match="SHIFT_PUBLIC_BASE_URL"):
        parse_public_base_url(raw)


def test_trusted_proxies_are_ip_addresses_and_networks_only() -> None:
    assert parse_trusted_proxies("") == ()
    assert parse_trusted_proxies("127.0.0.1, ::1  10.1.2.3/8,127.0.0.1") == (
        "127.0.0.1", "::1", "10.0.0.0/8")
    for bad in ("*", "localhost", "10.0.0.0/33", "300.1.1.1", "10.0.0.1-10.0.0.9"):
        with pytest.raises(ConfigError, match=re.escape(f"SHIFT_TRUSTED_PROXIES: '{bad}' is not")):
            parse_trusted_proxies(f"127.0.0.1,{bad}")


def test_flags() -> None:
    assert [parse_flag("X", v) for v in ("1", "true", "YES", " on ")] == [True] * 4
    assert [parse_flag("X", v) for v in (None, "", "0", "false", "No", "off")] == [False] * 6
    with pytest.raises(ConfigError, match="SHIFT_DEV: expected 1 or 0"):
        parse_flag("SHIFT_DEV", "2")


def test_from_env_reads_the_three_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHIFT_PUBLIC_BASE_URL", "SHIFT_DEV", "SHIFT_TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    plain = Settings.from_env()
    assert (plain.public_base_url, plain.development, plain.trusted_proxies) == (None, False, ())
    monkeypatch.setenv("SHIFT_PUBLIC_BASE_URL", "https://learning.example.org/")
    monkeypatch.setenv("SHIFT_DEV", "1")
    monkeypatch.setenv("SHIFT_TRUSTED_PROXIES", "10.0.0.2")
    s = Settings.from_env()
    assert (s.public_base_url, s.development, s.trusted_proxies) == (
        "https://learning.example.org", True, ("10.0.0.2",))
    monkeypatch.setenv("SHIFT_DB_POOL_SIZE", "eight")
    with pytest.raises(ConfigError, match="SHIFT_DB_POOL_SIZE: expected an integer"):
        Settings.from_env()


def test_base_url_needs_configuration_outside_development(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SHIFT_PUBLIC_BASE_URL is not set"):
        _ = Settings(data_dir=tmp_path).base_url
    assert Settings(data_dir=tmp_path, development=True).base_url == DEV_BASE_URL
    assert Settings(data_dir=tmp_path, public_base_url="https://a.org").base_url == "https://a.org"


def test_create_app_refuses_without_public_url_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    with pytest.raises(ConfigError, match="SHIFT_DEV=1"):
        create_app(Settings(data_dir=data))
    assert not data.exists()


def test_listen_url() -> None:
    assert listen_url("127.0.0.1", 8700) == "http://127.0.0.1:8700"
    assert listen_url("0.0.0.0", 8700) == "http://127.0.0.1:8700"
    assert listen_url("::", 8700) == "http://127.0.0.1:8700"
    assert listen_url("::1", 8701) == "http://[::1]:8701"
    assert listen_url("shift.local", 80) == "http://shift.local:80"


def test_uvicorn_believes_proxy_headers_only_from_configured_proxies(tmp_path: Path) -> None:
    none = uvicorn_options(Settings(data_dir=tmp_path), "127.0.0.1", 8700)
    assert none["proxy_headers"] is False  # uvicorn's default would trust 127.0.0.1
    some = uvicorn_options(Settings(data_dir=tmp_path, trusted_proxies=("10.0.0.2",)),
                           "127.0.0.1", 8700)
    assert some["proxy_headers"] is True and some["forwarded_allow_ips"] == ["10.0.0.2"]
