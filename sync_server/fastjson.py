"""The push's fast JSON path: msgspec's C decoder and sorted encoder, held to the bytes and
values of the one rule set in app/core (canonical.py, bounded_json.py, events.py).

Why: at ingest the standard library spent most of the server's own time per event on
JSON — `json.loads` of the body and above all the sorted canonical encoding that
`validated_json` makes of every event (≈ 5 µs of ≈ 8). msgspec does both ≈ 10× faster.

Why it cannot change a verdict: nothing here is a rule. The rules (which fields, which
sizes, depth, NaN) stay in app/core and run unchanged on the values this module gives
them; this module only promises

* `canonical(obj)` returns exactly `canonical_json(obj)` or raises exactly what it
  raises: msgspec's output is used only when it cannot differ — it writes floats in
  exponent form (`1e16`, `1e-7`) or as long decimals (`0.00001`) where Python writes
  `1e+16`, `1e-07`, `1e-05`, and it writes NaN and ±Infinity as `null`; any output with
  `null`, a number with an exponent or a number below 10⁻⁴ is made again by
  `canonical_json` (a false alarm only costs time), and so is anything msgspec refuses
  (lone surrogates, objects);
* `decode(raw)` returns what `json.loads` gives for the same bytes, or None: msgspec
  refuses everything the standard parser refuses and some documents it accepts (escaped
  lone surrogates, numbers beyond a double such as `1e400`, integers beyond 64 bits, the
  nesting limit); the caller then parses with app.core.bounded_json as before. A body
  msgspec parses that the standard parser would not — nested close to the interpreter's
  recursion limit — cannot come through: the push uses the fast path only when every
  event passed the checks (≤ 32 levels each) and the profiles validated, and else takes
  the standard path from the raw bytes (api/sync.py).

tests/unit/test_fastjson.py checks both promises over generated and hostile input (every
code point, floats of every exponent, huge integers, deep nesting, duplicate keys,
non-UTF-8 bytes).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from app.core.canonical import canonical_json

_ENCODER = msgspec.json.Encoder(order="sorted")
_DECODER = msgspec.json.Decoder()
#: msgspec output that may differ from the standard encoder's: `null` (NaN and ±inf are
#: written as null), a number with an exponent, a number below 10⁻⁴ written in full.
#: Inside strings these only cause a (correct) second encoding.
_UNSURE = re.compile(rb"null|(?:^|[:,\[])-?(?:[0-9]+(?:\.[0-9]+)?[eE]|0\.0000)")


def canonical(obj: Any) -> bytes:
    """`app.core.canonical.canonical_json(obj)`, faster (see the module docstring)."""
    try:
        out = _ENCODER.encode(obj)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return canonical_json(obj)
    if _UNSURE.search(out) is not None:
        return canonical_json(obj)
    return out


def decode(raw: bytes) -> Any | None:
    """The JSON value of `raw` as `json.loads` gives it, or None when msgspec refuses it
    (the caller then takes app.core.bounded_json's path)."""
    try:
        return _DECODER.decode(raw)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None
