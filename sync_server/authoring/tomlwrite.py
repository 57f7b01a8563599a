"""A small, strict TOML writer for the pack sources the studio writes.

The project reads TOML with the standard library's ``tomllib``, which cannot write; the
source files the studio produces use a small part of TOML (strings, integers, floats,
booleans, dates, lists of those, tables, arrays of tables), so a writer of that part is
short. Every document is read back with ``tomllib`` and compared with what was meant to
be written before it is returned: a value that could change the document's structure
(a title holding ``"\\n[pack]``, a key with a quote — TOML injection through a form
field) is escaped, and anything this writer cannot express exactly is a ValueError,
never a file that means something else.

Output is stable: the same data gives the same text (keys in the order given; plain
values before sub-tables, as TOML requires).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"',
            "\\": "\\\\"}


def dumps(doc: dict[str, Any]) -> str:
    """``doc`` as TOML text; ValueError when it cannot be written exactly."""
    lines: list[str] = []
    _table(lines, [], doc, header=None)
    text = "\n".join(lines).strip("\n") + "\n"
    try:
        back = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:      # a writer bug, never a user's fault
        raise ValueError(f"TOML writer produced invalid TOML: {exc}") from None
    if back != _plain(doc):
        raise ValueError("TOML writer: the text does not read back as the data")
    return text


def _plain(value: Any) -> Any:
    """The data as tomllib returns it (tuples become lists)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def key(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"TOML key must be a non-empty string, got {name!r}")
    return name if _BARE.match(name) else string(name)


def string(text: str, *, multiline: bool = False) -> str:
    """A basic string; with ``multiline``, triple quotes when the text has line breaks
    (only for a value on its own line: inside ``{ … }`` and lists it stays one line)."""
    if multiline and "\n" in text and "\r" not in text:
        body = "".join("\\\\" if c == "\\" else c if c in "\n\t" else _escape(c) if c != '"'
                       else '\\"' for c in text)
        return '"""\n' + body + '"""'
    return '"' + "".join(_escape(c) for c in text) + '"'


def _escape(c: str) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    if ord(c) < 0x20 or ord(c) == 0x7F:
        return f"\\u{ord(c):04x}"
    return c


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, dt.date))


def _inline_ok(value: Any) -> bool:
    """Written on one line: scalars, lists of scalars, tables of scalars."""
    if _is_scalar(value):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_scalar(v) for v in value) or not value
    if isinstance(value, dict):
        return all(_is_scalar(v) or (isinstance(v, (list, tuple))
                                     and all(_is_scalar(x) for x in v))
                   for v in value.values())
    return False


def value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"TOML writer: {v!r} is not a finite number")
        return repr(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, dt.datetime):
        raise ValueError("TOML writer: dates only (no times)")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + " }"
    raise ValueError(f"TOML writer: cannot write a {type(v).__name__}")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, dict) for x in v)


def _table(lines: list[str], path: list[str], table: dict[str, Any],
           header: str | None) -> None:
    if header is not None:
        if lines:
            lines.append("")
        lines.append(header)
    later: list[tuple[str, Any]] = []
    for k, v in table.items():
        if _is_table_array(v):
            later.append((k, v))
        elif _inline_ok(v):
            shown = string(v, multiline=True) if isinstance(v, str) else value(v)
            lines.append(f"{key(k)} = {shown}")
        elif isinstance(v, dict):
            later.append((k, v))
        else:
            raise ValueError(f"TOML writer: cannot write {'.'.join([*path, k])} "
                             f"({type(v).__name__} of mixed items)")
    for k, v in later:
        sub = [*path, k]
        dotted = ".".join(key(p) for p in sub)
        if isinstance(v, dict):
            _table(lines, sub, v, f"[{dotted}]")
        else:
            for item in v:
                _table(lines, sub, item, f"[[{dotted}]]")
