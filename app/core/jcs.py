"""RFC 8785 JSON Canonicalization Scheme (JCS): the bytes certificate proofs are made over.

Certificates (app/core/certificates.py, the ``eddsa-jcs-2022`` cryptosuite) are verified
by other software too, so their canonical form is the standard one: keys sorted by UTF-16
code units, ECMAScript number formatting. Not the project's own canonical JSON for packs
and events (app/core/canonical.py), which needs neither.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from app.core.errors import CertificateError


def canonicalize(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``value``.

    Raises CertificateError for values JSON cannot carry (NaN, infinity, non-string keys,
    lone surrogates, other Python types).
    """
    parts: list[str] = []
    _jcs(value, parts, "$")
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError:
        raise CertificateError("canonical JSON: text contains a lone surrogate") from None


def _jcs(value: Any, out: list[str], where: str) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(_number(float(value), where) if abs(value) >= 2**53 else str(value))
    elif isinstance(value, float):
        out.append(_number(value, where))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _jcs(item, out, f"{where}[{i}]")
        out.append("]")
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CertificateError(f"canonical JSON: {where}: object key {key!r} is not a string")
        out.append("{")
        # RFC 8785 §3.2.3: sort by the UTF-16 code units of the keys.
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _jcs(value[key], out, f"{where}.{key}")
        out.append("}")
    else:
        raise CertificateError(f"canonical JSON: {where}: {type(value).__name__} is not JSON")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t"}


def _string(text: str) -> str:
    chars = ['"']
    for ch in text:
        if ch in _ESCAPES:
            chars.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            chars.append(f"\\u{ord(ch):04x}")
        else:
            chars.append(ch)
    chars.append('"')
    return "".join(chars)


def _number(value: float, where: str) -> str:
    """ECMAScript Number.prototype.toString of a double (RFC 8785 §3.2.2.3)."""
    if not math.isfinite(value):
        raise CertificateError(f"canonical JSON: {where}: {value!r} is not a JSON number")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr() gives the shortest round-trip digits, as ECMAScript does; only the layout differs.
    parsed = Decimal(repr(abs(value))).as_tuple()
    s = "".join(map(str, parsed.digits)).rstrip("0")
    n = int(parsed.exponent) + len(parsed.digits)  # value = 0.s × 10^n
    k = len(s)
    if k <= n <= 21:
        return sign + s + "0" * (n - k)
    if 0 < n <= 21:
        return sign + s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + s
    e = n - 1
    exp_text = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + (s if k == 1 else s[0] + "." + s[1:]) + exp_text
