"""The one canonical JSON encoding: sorted keys, no spaces, UTF-8.

Used wherever bytes are hashed, signed or compared: pack manifests and lesson files (their
sha256 and Ed25519 signature, app/core/packs), and the conflict check of two copies of an
event with the same id (app/core/events.py). The server imports it from here too, so a
manifest it re-signs has exactly the bytes a tablet verifies.

Not RFC 8785 (JCS): certificate proofs use the standard one (app/core/jcs.py), because
other software verifies them.
"""

from __future__ import annotations

import json
from typing import Any

#: one encoder for every call: `json.dumps` with options builds a new JSONEncoder each
#: time, which costs as much as encoding a small event (the server encodes every pushed
#: event). The bytes are the same.
#: allow_nan=False: NaN and ±Infinity are not JSON (a pushed `1e400` parses as inf; written
#: as `Infinity` it would make every tablet's pull of that page fail), so they raise.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           allow_nan=False).encode


def canonical_json(obj: Any) -> bytes:
    """Stable bytes of a JSON value (sorted keys, compact separators, UTF-8, no ASCII
    escaping). Raises ValueError/TypeError for values JSON cannot hold."""
    return _ENCODE(obj).encode()
