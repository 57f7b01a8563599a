"""Characters no pack text may hold, whatever the field.

Control characters (C0 except tab and line breaks, DEL, C1), lone surrogates (JSON can
spell them, UTF-8 cannot store them) and the Unicode bidi embedding/override/isolate
controls (U+202A–U+202E, U+2066–U+2069: "trojan source" text that reads differently from
how it is stored). The left-to-right/right-to-left *marks* (U+200E, U+200F, U+061C) stay
allowed: right-to-left languages need them.
"""

from __future__ import annotations

import re

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
                        "\ud800-\udfff]")


def first_forbidden(text: str) -> tuple[int, str] | None:
    """(1-based line, ``U+XXXX``) of the first forbidden character, or None."""
    m = _FORBIDDEN.search(text)
    if m is None:
        return None
    return text.count("\n", 0, m.start()) + 1, f"U+{ord(m.group()):04X}"


def without_forbidden(text: str) -> str:
    """``text`` with every forbidden character removed (``\\r\\n`` and ``\\r`` become ``\\n``)."""
    return _FORBIDDEN.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
