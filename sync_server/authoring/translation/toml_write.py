"""Write TOML data back as a source file laid out like docs/pack-format.md.

The workspace edits source files in place (``toml_edit``) so comments and layout stay;
this writer is the fallback for a file written in a shape the in-place edit does not
know. Its output parses back to exactly the data it was given (tested); the file's
leading comment block is kept.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def key(name: str) -> str:
    return name if _BARE.match(name) else string(name)


def string(text: str) -> str:
    """A TOML basic string (one line; control characters escaped)."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _is_table(v: Any) -> bool:
    """A dict written as a ``[header]`` (one holding tables or long text), not inline."""
    if not isinstance(v, dict):
        return False
    return any(isinstance(x, dict) or _is_table_array(x) for x in v.values()) or (
        len(v) > 0 and not all(isinstance(x, str) for x in v.values())
        and not all(isinstance(x, (int, bool)) for x in v.values()))


def _body(table: dict[str, Any], path: list[str], out: list[str]) -> None:
    indent = "  " * max(0, len(path) - 1)
    later = []
    for k, v in table.items():
        if _is_table(v) or _is_table_array(v):
            later.append((k, v))
        else:
            out.append(f"{indent}{key(k)} = {value(v)}")
    for k, v in later:
        sub = [*path, k]
        name = ".".join(key(p) for p in sub)
        head = "  " * (len(sub) - 1)
        for item in (v if _is_table_array(v) else [v]):
            if len(sub) == 1 and out:
                out.append("")
            out.append(f"{head}[[{name}]]" if _is_table_array(v) else f"{head}[{name}]")
            _body(item, sub, out)


def dumps(data: dict[str, Any], header: str = "") -> str:
    """``data`` as TOML text, after ``header`` (comment lines, kept verbatim)."""
    out: list[str] = []
    _body(data, [], out)
    text = "\n".join(out) + "\n"
    return (header + text) if header else text


def header_comments(text: str) -> str:
    """The file's leading comment block (and blank lines), kept by a rewrite."""
    lines = []
    for line in text.splitlines(keepends=True):
        if line.strip() == "" or line.lstrip().startswith("#"):
            lines.append(line)
        else:
            break
    return "".join(lines)
