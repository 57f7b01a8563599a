"""Checks of the server's answers shared by pull and push: a wrong shape is a
SyncProtocolError naming the field, never a KeyError or a silent default."""

from __future__ import annotations

from typing import Any

from app.core.errors import SyncProtocolError


def expect_int(value: Any, what: str) -> int:
    """An integer >= 0 (cursors)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SyncProtocolError(f"{what}: expected an integer >= 0, got {value!r}")
    return value


def expect_list(answer: dict[str, Any], key: str, what: str) -> list[Any]:
    """``answer[key]``, which must be a list."""
    value = answer.get(key)
    if not isinstance(value, list):
        raise SyncProtocolError(f"{what}.{key}: expected a list")
    return value
