"""PIN verifiers: salted scrypt, in a self-describing, portable text form.

``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` — the parameters travel with the verifier,
so a verifier made on one tablet (or pulled from the server) checks on any other, and the
cost can be raised later without breaking old verifiers. n=2**14, r=8, p=1 takes about
65 ms here. Verifiers from outside are bounds-checked before use so a hostile one cannot
make a tablet spend minutes or gigabytes on one check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

from app.core.errors import StoreError

SCRYPT_N = 2 ** 14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
PIN_RE = re.compile(r"^[0-9]{4,8}$")
_VERIFIER_RE = re.compile(
    r"^scrypt\$(\d{1,7})\$(\d{1,2})\$(\d)\$([A-Za-z0-9+/=]{8,128})\$([A-Za-z0-9+/=]{16,128})$")


def check_pin_format(pin: object, field: str = "pin") -> str:
    if not isinstance(pin, str) or not PIN_RE.match(pin):
        raise StoreError(f"{field}: a PIN is 4 to 8 digits")
    return pin


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=256 * n * r * p + 1024 * 1024)


def make_verifier(pin: str) -> str:
    check_pin_format(pin)
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def parse_verifier(verifier: object, field: str = "pin_verifier") -> tuple[int, int, int, bytes, bytes]:
    """Check a verifier's form and bounds; raises StoreError naming `field`."""
    if not isinstance(verifier, str):
        raise StoreError(f"{field}: expected text like scrypt$16384$8$1$<salt>$<hash>")
    m = _VERIFIER_RE.match(verifier)
    if not m:
        raise StoreError(f"{field}: expected scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>")
    n, r, p = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if n < 2 ** 10 or n > 2 ** 17 or n & (n - 1):
        raise StoreError(f"{field}: scrypt n must be a power of two between 2^10 and 2^17")
    if not 1 <= r <= 16 or not 1 <= p <= 4:
        raise StoreError(f"{field}: scrypt r must be 1..16 and p 1..4")
    try:
        salt = base64.b64decode(m.group(4), validate=True)
        digest = base64.b64decode(m.group(5), validate=True)
    except (binascii.Error, ValueError):
        raise StoreError(f"{field}: salt or hash is not valid base64") from None
    if not 8 <= len(salt) <= 64 or not 16 <= len(digest) <= 64:
        raise StoreError(f"{field}: salt must be 8..64 bytes and hash 16..64 bytes")
    return n, r, p, salt, digest


def verify(verifier: str, pin: str) -> bool:
    """True when `pin` matches; constant-time comparison."""
    n, r, p, salt, digest = parse_verifier(verifier)
    if not isinstance(pin, str) or not PIN_RE.match(pin):
        return False
    return hmac.compare_digest(_scrypt(pin, salt, n, r, p, len(digest)), digest)
