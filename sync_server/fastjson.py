"""The push's fast JSON path: msgspec's C decoder and sorted encoder, held to the values and
bytes of the one rule set in app/core (canonical.py, bounded_json.py, events.py).

Why: at ingest the standard library spent most of the server's own time per event on
JSON — `json.loads` of the body and above all the sorted canonical encoding that
`validated_json` makes of every event (≈ 5 µs of ≈ 8). msgspec does both ≈ 5–10× faster.

Why it cannot change a verdict: nothing here is a rule. The rules (which fields, which
sizes, depth, NaN) stay in app/core and run unchanged on the values this module gives
them; this module only promises

* `decode(raw)` gives exactly the value `json.loads` gives for the same bytes, or None:
  every float is made by `float()` of its digits, as the standard parser does; msgspec
  refuses everything the standard parser refuses and a few documents it accepts
  (escaped lone surrogates, integers beyond 64 bits, the nesting limit) — the caller then
  parses with app.core.bounded_json as before. `Decoded.plain_floats` says whether every
  float is one both encoders write alike (0 or 10⁻⁴ ≤ |x| < 10¹⁶: msgspec writes `1e16`,
  `1e-7`, `0.00001` where Python writes `1e+16`, `1e-07`, `1e-05`, and NaN / ±inf as `null`);
* `encoder(decoded)` is `canonical` only for such plain values, else `canonical_json`
  itself; `canonical(obj)` gives exactly `canonical_json(obj)` for values with plain
  floats, and anything msgspec refuses (lone surrogates in text, integers beyond 4,300
  digits, objects) is made by `canonical_json`, which then raises what it raises.

A body msgspec parses that the standard parser would not — nested close to the
interpreter's recursion limit — cannot come through: the push takes the fast path only
when every event passed the checks (≤ 32 levels each) and the profiles validated, and
else takes the standard path from the raw bytes (api/sync.py `fast_parse`).

tests/unit/test_fastjson.py checks these promises over generated and hostile input (every
code point, floats of every exponent, huge integers, deep nesting, duplicate keys,
non-UTF-8 bytes) and that both paths judge every push body the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from app.core.canonical import canonical_json

_ENCODER = msgspec.json.Encoder(order="sorted")
_ANSWER = msgspec.json.Encoder()
#: floats msgspec and Python's repr write alike (besides 0.0 and -0.0)
_PLAIN_MIN, _PLAIN_MAX = 1e-4, 1e16


@dataclass(frozen=True)
class Decoded:
    value: Any
    #: every float in `value` is written alike by msgspec and the standard encoder
    plain_floats: bool


def decode(raw: bytes) -> Decoded | None:
    """The JSON value of `raw` as `json.loads` gives it, or None when msgspec refuses it
    (the caller then takes app.core.bounded_json's path)."""
    plain = True

    def as_float(digits: str) -> float:
        nonlocal plain
        value = float(digits)               # what the standard parser does
        if value != 0.0 and not _PLAIN_MIN <= abs(value) < _PLAIN_MAX:
            plain = False                   # also inf (`1e400`): canonical_json refuses it
        return value

    try:
        value = msgspec.json.Decoder(float_hook=as_float).decode(raw)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None
    return Decoded(value, plain)


def canonical(obj: Any) -> bytes:
    """`app.core.canonical.canonical_json(obj)` for a value whose floats are plain (see
    the module docstring), faster."""
    try:
        return _ENCODER.encode(obj)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return canonical_json(obj)


def encoder(decoded: Decoded) -> Callable[[Any], bytes]:
    """The canonical encoder for the parts of `decoded`: the fast one when it is exact."""
    return canonical if decoded.plain_floats else canonical_json


def answer(obj: Any) -> bytes:
    """A JSON answer (compact, UTF-8, keys in their order): the push's list of 500 ids."""
    return _ANSWER.encode(obj)
