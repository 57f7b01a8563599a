"""JSON that crosses the device ↔ server boundary: one rule for size and depth, used by
the tablet (app/sync) and the sync server (sync_server/api/sync.py) alike.

Why this module exists: one pushed event whose `data` nested ~900 levels (6 KB) was
stored by the server; every tablet of the facility then failed every sync with a
RecursionError inside `response.json()` — pull runs first, so nothing was ever pushed
again. The rules:

* **An event** (one item of a push chunk or a pull page) is at most ``MAX_EVENT_BYTES``
  of canonical JSON and at most ``MAX_DEPTH`` levels deep (the event object itself is
  level 1, its `data` object level 2, …). `app.core.events.validate_event` checks both,
  on the device when an event is appended and merged, and on the server at push.
* **A document** (a push body, a pull page, any other answer) is parsed by `loads`,
  which never lets the parser recurse without bound: when the standard parser gives up
  on nesting (RecursionError, reached at ~1,000 levels), the document is split at its
  item list (`items="events"`) without recursion, every item deeper than ``MAX_DEPTH``
  becomes a `BadItem` (reported one by one: quarantined on the tablet, `bad_schema` on
  the server) and the rest is parsed normally. Anything else nested deeper than
  ``MAX_DEPTH`` is a `JSONLimitError` ("too_deep").
* ``NaN``/``Infinity`` are not JSON and are refused ("invalid_json").

The depth scan is linear and iterative (a regular expression finds strings and
brackets), so a hostile document costs time proportional to its size and never a stack
overflow. The common case — a document the standard parser handles — costs one
`json.loads`; item depth is then checked on each item's canonical bytes, where counting
brackets answers almost every case without a scan (`within_depth`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from app.core.errors import ErrorCode, JSONLimitError

#: Deepest JSON nesting accepted for one event (the event object is level 1).
MAX_DEPTH = 32
#: Largest canonical JSON of one event, in bytes.
MAX_EVENT_BYTES = 16_384
#: Largest integer a JSON number can carry exactly in every JSON implementation (RFC 8259
#: §6); event `seq` values are bounded by it.
MAX_SAFE_INTEGER = 2**53

#: A JSON string (with escapes) or one structural character. Inside a valid document the
#: string alternative starts only at real string starts, so brackets inside strings are
#: never counted.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]')
_DEPTH_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_EXCERPT = 300


@dataclass(frozen=True)
class BadItem:
    """An item of a document's item list that could not be accepted as JSON.

    `code` is "too_deep" or "invalid_json"; `id` is the item's top-level "id" string when
    one could be read without parsing it (for the report); `excerpt` is the start of its
    text (for a supervisor; never parsed)."""

    index: int
    code: ErrorCode
    detail: str
    id: str | None = None
    excerpt: str = ""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def text_depth(text: str | bytes) -> int:
    """Nesting depth of a JSON text (0 for a scalar), without parsing or recursion."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    depth = deepest = 0
    for match in _DEPTH_TOKEN.finditer(text):
        char = match.group()[0]
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def within_depth(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Is this JSON text at most `limit` levels deep? Counting brackets first answers
    almost every real event at C speed (fewer brackets than the limit cannot nest
    deeper than it); only bracket-rich texts are scanned."""
    if isinstance(text, bytes | bytearray):
        opens = text.count(b"[") + text.count(b"{")
    else:
        opens = text.count("[") + text.count("{")
    return opens <= limit or text_depth(text) <= limit


def check_depth(text: str | bytes, limit: int = MAX_DEPTH, what: str = "document") -> None:
    """JSONLimitError("too_deep") when `text` nests deeper than `limit`."""
    if not within_depth(text, limit):
        raise JSONLimitError(ErrorCode.JSON_TOO_DEEP, f"{what}: JSON nested deeper than {limit} levels")


def _decode(data: str | bytes, what: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise JSONLimitError(ErrorCode.JSON_INVALID, f"{what}: not UTF-8 text") from None


def _parse(text: str, what: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise JSONLimitError(ErrorCode.JSON_INVALID, f"{what}: not valid JSON ({str(exc)[:160]})") from None


def loads(data: str | bytes, *, items: str | None = None, max_bytes: int | None = None,
          max_depth: int = MAX_DEPTH, what: str = "document") -> Any:
    """Parse a JSON document within the limits.

    With `items` (e.g. "events"), the document must be an object and its `items` list
    may hold items too deep to parse: they come back as `BadItem`s in their place, the
    other items parsed. Raises JSONLimitError (code "invalid_json", "too_deep" or
    "too_large") for the document as a whole."""
    if max_bytes is not None and len(data) > max_bytes:
        raise JSONLimitError(ErrorCode.JSON_TOO_LARGE, f"{what}: larger than {max_bytes} bytes")
    text = _decode(data, what)
    try:
        return _parse(text, what)
    except RecursionError:
        pass   # nested beyond what the C parser handles: split it without recursion
    if items is None:
        raise JSONLimitError(ErrorCode.JSON_TOO_DEEP, f"{what}: JSON nested deeper than {max_depth} levels")
    return _loads_split(text, items, max_depth, what)


def _string_value(token: str) -> str | None:
    try:
        value = json.loads(token)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


@dataclass
class _Span:
    start: int
    end: int = -1
    depth: int = 0      # deepest level inside the item, relative to the item (item = 1)
    id: str | None = None


def _split(text: str, key: str) -> tuple[int, int, list[_Span], int]:
    """Find the top-level `key` list: (its content start, content end, item spans, depth
    of everything outside the list). One pass over strings and structural characters."""
    depth = rest_depth = 0
    open_at = close_at = -1
    spans: list[_Span] = []
    last_string: str | None = None
    expect_items = False                  # the next token is the value of `key`
    inside = False                        # within the `key` list
    item: _Span | None = None
    id_next = False                       # the next token is the value of an item's "id"
    for match in _TOKEN.finditer(text):
        token = match.group()
        char = token[0]
        if id_next:
            id_next = False
            if char == '"' and item is not None and item.id is None:
                item.id = _string_value(token)
                continue
        if char == '"':
            last_string = token
            continue
        if char == ":":
            if depth == 1 and not inside:
                expect_items = _string_value(last_string or "") == key
            elif inside and depth == 3:
                id_next = _string_value(last_string or "") == "id"
            last_string = None
            continue
        if expect_items:
            expect_items = False
            if char == "[" and depth == 1:
                if open_at >= 0:
                    raise JSONLimitError(ErrorCode.JSON_INVALID, f"{key}: given twice")
                depth = 2
                rest_depth = max(rest_depth, 2)
                open_at, inside = match.end(), True
                item = _Span(match.end())
                continue
        if char == ",":
            if inside and depth == 2:
                assert item is not None
                item.end = match.start()
                spans.append(item)
                item = _Span(match.end())
            continue
        if char in "[{":
            depth += 1
            if inside and item is not None:
                item.depth = max(item.depth, depth - 2)
            else:
                rest_depth = max(rest_depth, depth)
            continue
        # a closing bracket
        if inside and depth == 2:          # the end of the `key` list
            assert item is not None
            item.end = match.start()
            if text[item.start:item.end].strip() or spans:
                spans.append(item)
            close_at, inside, item = match.start(), False, None
        depth -= 1
    if open_at < 0 or close_at < 0:
        return -1, -1, [], max(rest_depth, depth)
    return open_at, close_at, spans, rest_depth


def _loads_split(text: str, key: str, max_depth: int, what: str) -> dict[str, Any]:
    open_at, close_at, spans, rest_depth = _split(text, key)
    if rest_depth > max_depth:
        raise JSONLimitError(ErrorCode.JSON_TOO_DEEP, f"{what}: JSON nested deeper than {max_depth} levels")
    rest = _parse(text[:open_at] + text[close_at:] if open_at >= 0 else text, what)
    if not isinstance(rest, dict):
        raise JSONLimitError(ErrorCode.JSON_INVALID, f"{what}: expected a JSON object")
    parsed: list[Any] = []
    for index, span in enumerate(spans):
        raw = text[span.start:span.end].strip()
        excerpt = raw[:_EXCERPT]
        if span.depth > max_depth:
            parsed.append(BadItem(index, ErrorCode.JSON_TOO_DEEP,
                                  f"{key}[{index}]: JSON nested deeper than {max_depth} levels",
                                  span.id, excerpt))
            continue
        try:
            parsed.append(_parse(raw, f"{key}[{index}]"))
        except JSONLimitError as exc:
            parsed.append(BadItem(index, exc.code, str(exc), span.id, excerpt))
    if open_at >= 0:
        rest[key] = parsed
    return rest
