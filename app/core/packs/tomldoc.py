"""A parsed TOML file that can say on which line a field was written.

tomllib reports syntax errors with a line number but keeps no positions for values, so
semantic errors ("pass_mark must be 0–100") would have no line. ``TomlDoc`` scans the
text once and maps dotted field paths such as ``questions[2].options[0].correct`` to the
line of their key or table header. The scan is deliberately simple (it understands table
headers, arrays of tables, ``key = value`` lines, inline tables and multi-line strings and
arrays), which is enough for the pack sources authors write; a path it cannot place falls
back to its nearest known parent.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from app.core.errors import PackSourceError

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=\s*(.*)$""")
_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _split_key(key: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", key)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class TomlDoc:
    """TOML data plus a field → line index. ``display`` is the file name shown in errors."""

    def __init__(self, text: str, display: str) -> None:
        self.display = display
        try:
            self.data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            msg = str(exc)
            m = _TOML_LINE.search(msg)
            line = int(m.group(1)) if m else None
            if "(at end of document)" in msg:
                line = max(1, len(text.splitlines()))
                msg = msg.replace("(at end of document)", "at end of file")
            msg = _TOML_LINE.sub("", msg).strip().rstrip(".")
            raise PackSourceError(f"TOML syntax error: {msg}"
                                  + (f" (column {m.group(2)})" if m else ""),
                                  path=display, line=line) from None
        self._lines: dict[str, int] = {}
        self._scan(text)

    @classmethod
    def load(cls, path: Path, display: str) -> TomlDoc:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise PackSourceError("file is missing", path=display) from None
        except OSError as exc:
            raise PackSourceError(f"cannot read file ({exc.strerror})", path=display) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise PackSourceError("file is not valid UTF-8", path=display, line=line) from None
        return cls(text, display)

    # -- line index -------------------------------------------------------------------
    def _scan(self, text: str) -> None:
        arrays: dict[str, int] = {}   # resolved array-of-tables path -> current index
        current = ""
        skip_until: str | None = None  # closing token of a multi-line value being skipped
        depth = 0
        for no, line in enumerate(text.splitlines(), start=1):
            if skip_until is not None:
                if skip_until == "]":
                    depth += _bracket_delta(line)
                    if depth <= 0:
                        skip_until = None
                elif skip_until in line:
                    skip_until = None
                continue
            h = _HEADER.match(line)
            if h and not _KEY.match(line):
                names = _split_key(h.group(2))
                parent = self._resolve(names[:-1], arrays)
                resolved = f"{parent}.{names[-1]}" if parent else names[-1]
                if h.group(1) == "[[":
                    arrays[resolved] = arrays.get(resolved, -1) + 1
                    # a new element resets the indexes of arrays nested below it
                    for stale in [k for k in arrays if k.startswith(resolved + "[")]:
                        del arrays[stale]
                    resolved = f"{resolved}[{arrays[resolved]}]"
                current = resolved
                self._lines.setdefault(current, no)
                continue
            k = _KEY.match(line)
            if k:
                path = ".".join(filter(None, [current, *_split_key(k.group(1))]))
                self._lines.setdefault(path, no)
                value = k.group(2)
                for quote in ('"""', "'''"):
                    if value.count(quote) == 1:
                        skip_until = quote
                if skip_until is None and value.lstrip().startswith("["):
                    depth = _bracket_delta(value)
                    if depth > 0:
                        skip_until = "]"

    def _resolve(self, names: list[str], arrays: dict[str, int]) -> str:
        out = ""
        for name in names:
            out = f"{out}.{name}" if out else name
            if out in arrays:
                out = f"{out}[{arrays[out]}]"
        return out

    def exact_line(self, field: str) -> int | None:
        """Line of ``field`` itself (key or table header), or None if it was not written
        there (the translation workspace edits that line in place)."""
        return self._lines.get(field)

    def line_of(self, field: str) -> int | None:
        """Line of ``field`` or of its nearest parent that was written in the file."""
        path = field
        while path:
            if path in self._lines:
                return self._lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None

    def error(self, field: str, message: str) -> PackSourceError:
        return PackSourceError(message, path=self.display, line=self.line_of(field), field=field)


def _bracket_delta(text: str) -> int:
    """Net count of opening brackets on a line, ignoring strings and comments."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', "", text)
    text = text.split("#", 1)[0]
    return text.count("[") - text.count("]")
