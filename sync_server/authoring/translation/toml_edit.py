"""Change localized strings (and pack.toml's language lists) of a TOML source *in place*:
only the line of the changed string is rewritten, so the author's comments and layout
stay. The result is parsed back and must equal the intended data; when it does not (a
shape the line edit does not know, such as a multi-line inline table), the whole file
is written by the studio's ``tomlwrite`` instead (its leading comment block kept).
"""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from app.core.packs.tomldoc import TomlDoc
from sync_server.authoring import tomlwrite
from sync_server.authoring.translation.model import TranslationError

_KEY_LINE = re.compile(r"""^(\s*)((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)(\s*=\s*)(.*)$""")


@dataclass(frozen=True)
class Edit:
    """Set the value at ``keys`` (``None``: remove it); ``index_path`` is TomlDoc's path."""

    keys: tuple[str | int, ...]
    index_path: str
    value: Any


def apply_edits(text: str, edits: list[Edit]) -> str:
    """``text`` with every edit made (lines edited in place where possible)."""
    data = tomllib.loads(text)
    want = copy.deepcopy(data)
    for e in edits:
        _set(want, e.keys, e.value)
    if want == data:
        return text
    lines = text.splitlines(keepends=True)
    doc = TomlDoc(text, "")
    ok = True
    for e in sorted(edits, key=lambda e: _position(doc, e), reverse=True):
        ok = ok and _edit_line(lines, doc, e)
    out = "".join(lines)
    if ok:
        try:
            if tomllib.loads(out) == want:
                return out
        except tomllib.TOMLDecodeError:
            pass
    return rewrite(want, text)


def rewrite(want: dict[str, Any], text: str) -> str:
    """The whole file written again from ``want``, after ``text``'s leading comments."""
    try:
        return header_comments(text) + tomlwrite.dumps(want)
    except ValueError as exc:
        raise TranslationError(f"cannot write the file back: {exc}") from None


def header_comments(text: str) -> str:
    """The file's leading comment block (and blank lines), kept by a rewrite."""
    lines = []
    for line in text.splitlines(keepends=True):
        if line.strip() == "" or line.lstrip().startswith("#"):
            lines.append(line)
        else:
            break
    return "".join(lines)


def _position(doc: TomlDoc, e: Edit) -> int:
    """Where an edit happens: its line, or the last line of its dotted keys
    (``title.en = …`` / ``title.lt = …``); edits run bottom-up so inserted lines do not
    move the ones still to do."""
    exact = doc.exact_line(e.index_path)
    if exact is not None:
        return exact
    parts = [doc.exact_line(f"{e.index_path}.{k}") for k in _sibling_names(doc, e.index_path)]
    found = [n for n in parts if n is not None]
    return max(found) if found else doc.line_of(e.index_path) or 0


def _set(data: Any, keys: tuple[str | int, ...], value: Any) -> None:
    for k in keys[:-1]:
        if isinstance(data, dict) and k not in data:
            data[k] = {}
        data = data[k]
    if value is None:
        data.pop(keys[-1], None)
    else:
        data[keys[-1]] = value


def _value_end(rest: str) -> int | None:
    """Length of the TOML value at the start of ``rest`` (a comment may follow), or None."""
    ends = [i for i, ch in enumerate(rest) if ch == "#"] + [len(rest.rstrip())]
    for end in ends:
        cut = len(rest[:end].rstrip())
        try:
            tomllib.loads("x = " + rest[:cut])
        except tomllib.TOMLDecodeError:
            continue
        return cut
    return None


def _edit_line(lines: list[str], doc: TomlDoc, e: Edit) -> bool:
    """Rewrite the one line of ``e`` (a ``key = value`` line, or a ``lang = "…"`` line of a
    ``[table]``); False when the value is not written on one line of its own."""
    line_no = doc.exact_line(e.index_path)
    if line_no is None and isinstance(e.value, dict):
        return _edit_table(lines, doc, e)       # dotted keys: ``title.lt = "…"``
    if line_no is None:
        return _insert_into_table(lines, doc, e)
    raw = lines[line_no - 1]
    m = _KEY_LINE.match(raw.rstrip("\r\n"))
    if m is None:             # a [table] header: its keys are edited one by one
        return isinstance(e.value, dict) and _edit_table(lines, doc, e)
    end = _value_end(m.group(4))
    if end is None:
        return False
    newline = raw[len(raw.rstrip("\r\n")):] or "\n"
    if e.value is None:
        del lines[line_no - 1]
        return True
    comment = m.group(4)[end:]
    lines[line_no - 1] = (m.group(1) + m.group(2) + m.group(3) + tomlwrite.value(e.value)
                          + comment + newline)
    return True


def _edit_table(lines: list[str], doc: TomlDoc, e: Edit) -> bool:
    old: Any = doc.data
    for k in e.keys:
        old = old[k]
    if not isinstance(old, dict):
        return False
    subs = [Edit((*e.keys, k), f"{e.index_path}.{k}", e.value.get(k))
            for k in [*old, *(k for k in e.value if k not in old)] if old.get(k) != e.value.get(k)]
    subs.sort(key=lambda s: doc.exact_line(s.index_path) or len(lines) + 1, reverse=True)
    return all([_edit_line(lines, doc, s) for s in subs])


def _insert_into_table(lines: list[str], doc: TomlDoc, e: Edit) -> bool:
    """A key new to a ``[table]`` (``lt`` of ``[outcomes.x]``): after its last sibling."""
    if e.value is None:
        return True
    parent, _, name = e.index_path.rpartition(".")
    siblings = [doc.exact_line(f"{parent}.{k}") for k in _sibling_names(doc, parent)]
    known = [n for n in siblings if n is not None]
    if not parent or not known:
        return False
    at = max(known)
    m = _KEY_LINE.match(lines[at - 1])
    indent = m.group(1) if m else ""
    written = m.group(2) if m else ""
    dotted = re.match(r"^(.*?)\s*\.\s*[^.]+$", written)   # ``title.pt`` → ``title.lt``
    new_key = (dotted.group(1) + "." if dotted else "") + tomlwrite.key(name)
    lines.insert(at, f"{indent}{new_key} = {tomlwrite.value(e.value)}\n")
    return True


def _sibling_names(doc: TomlDoc, parent: str) -> list[str]:
    table: Any = doc.data
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", parent):
        table = table[int(part[1:-1])] if part.startswith("[") else table.get(part, {})
    return list(table) if isinstance(table, dict) else []
