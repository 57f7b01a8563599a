"""PIN verifiers, PIN-change proofs and one-time PIN set-up codes (device and server).

A verifier is self-describing text, so one made on a tablet checks on any other tablet
and on the server, and its cost can be raised without breaking old ones:

    argon2id$<m KiB>$<t>$<p>$<salt b64>$<SHA-256(K) b64>        made now
    scrypt-sha256$<n>$<r>$<p>$<salt b64>$<SHA-256(K) b64>       an old verifier, wrapped
    scrypt$<n>$<r>$<p>$<salt b64>$<K b64>                       old form (read, never made)

where K = KDF(secret, salt) is the *key* of the secret (a PIN, or a set-up code). A
verifier stores only H(K), so the tablets and the server can check a PIN (derive K, hash,
compare) but holding a verifier does not give K. K is the proof of knowing the secret:
a PIN change sent to the server carries K_old (``encode_proof``), which the server checks
against the verifier it has (``proof_matches``) — a device token alone cannot change
anybody's PIN. Old ``scrypt$`` verifiers store K itself, so every holder of one could forge
that proof: the server wraps them (``canonical``) and tablets replace them by an argon2id
verifier at the learner's next sign-in (``needs_upgrade``).

Cost (OWASP Password Storage Cheat Sheet): argon2id m=19 MiB, t=2, p=1 — one of OWASP's
equivalent minimum settings, chosen over m=46 MiB, t=1 because it needs less memory on a
tablet and measured 2–3× faster here (about 20–45 ms on the shared 2-core build machine,
0.6–0.75× the old scrypt n=2^14 check; benchmarks/pin_hashing.py; the sign-in budget on
a tablet is 0.5 s of hashing). A PIN has at most 10^8 values, so a stolen verifier still
falls to an offline search in the end; the cost buys time, the on-tablet lock-out guards
the PIN pad.

Set-up codes (``new_setup_code``, 12 characters ≈ 59 random bits) are handed by an admin
to a learner registered without a PIN. Their verifier uses a light argon2id (the code's
entropy, not the KDF, is what protects it); the tablet checks the code offline and sends
K_code as the proof of the first PIN.

Verifiers from outside are bounds-checked before use (``parse_verifier``) so a hostile one
cannot make a tablet spend minutes or gigabytes on one check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw

from app.core.errors import ErrorCode, StoreError

#: argon2id cost of PIN verifiers made now (OWASP: m=19456 KiB, t=2, p=1).
ARGON2_M = 19456
ARGON2_T = 2
ARGON2_P = 1
#: argon2id cost of set-up code verifiers (made by the server for every registered learner).
SETUP_M = 8192
SETUP_T = 1
SETUP_P = 1
#: A verifier at least this costly is not upgraded (OWASP's weakest equivalent: 7 MiB × 5).
MIN_ARGON2_M = 7168
MIN_ARGON2_WORK = 7168 * 5
SALT_BYTES = 16
KEY_BYTES = 32
#: A PIN is 4 to 8 digits: the one rule (the forms and the PIN pad use these too).
PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 8
PIN_RE = re.compile(rf"^[0-9]{{{PIN_MIN_DIGITS},{PIN_MAX_DIGITS}}}$")
#: Set-up codes are typed on a tablet: no 0/O/1/I/L confusion, grouped by 4.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12

_VERIFIER_RE = re.compile(
    r"^(argon2id|scrypt-sha256|scrypt)\$(\d{1,7})\$(\d{1,2})\$(\d)\$([A-Za-z0-9+/=]{8,128})"
    r"\$([A-Za-z0-9+/=]{16,128})$")
FORM = "argon2id$<m>$<t>$<p>$<salt b64>$<hash b64>"


@dataclass(frozen=True)
class Verifier:
    """A parsed verifier (see the module docstring for the three kinds)."""

    kind: str
    a: int          # argon2id: memory KiB; scrypt: n
    b: int          # argon2id: time cost; scrypt: r
    p: int
    salt: bytes
    digest: bytes   # SHA-256(K); for the old "scrypt" kind K itself

    def key(self, secret: str) -> bytes:
        """K = KDF(secret, salt) with this verifier's parameters."""
        data = secret.encode("utf-8")
        if self.kind == "argon2id":
            return hash_secret_raw(data, self.salt, time_cost=self.b, memory_cost=self.a,
                                   parallelism=self.p, hash_len=KEY_BYTES, type=Type.ID)
        length = len(self.digest) if self.kind == "scrypt" else KEY_BYTES
        return hashlib.scrypt(data, salt=self.salt, n=self.a, r=self.b, p=self.p, dklen=length,
                              maxmem=256 * self.a * self.b * self.p + 1024 * 1024)

    def accepts_key(self, key: bytes) -> bool:
        """Whether K belongs to this verifier (constant-time)."""
        expected = key if self.kind == "scrypt" else hashlib.sha256(key).digest()
        return hmac.compare_digest(expected, self.digest)

    def text(self) -> str:
        b64 = base64.b64encode
        return "$".join([self.kind, str(self.a), str(self.b), str(self.p),
                         b64(self.salt).decode(), b64(self.digest).decode()])


def check_pin_format(pin: object, field: str = "pin", *,
                     min_digits: int = PIN_MIN_DIGITS) -> str:
    """A PIN of 4 to 8 digits, and at least `min_digits` (the deployment's PIN policy,
    ``pin_policy_digits``) — used for new PINs only: an existing shorter PIN still signs in."""
    if not isinstance(pin, str) or not PIN_RE.match(pin):
        raise StoreError(f"{field}: a PIN is 4 to 8 digits")
    if len(pin) < min_digits:
        raise StoreError(f"{field}: this deployment requires PINs of at least {min_digits} "
                         "digits", code=ErrorCode.PIN_TOO_SHORT)
    return pin


def pin_policy_digits(value: object, field: str = "pin_min_digits") -> int:
    """The PIN policy — the fewest digits a new PIN may have — checked: a whole number
    PIN_MIN_DIGITS..PIN_MAX_DIGITS (server setting SHIFT_PIN_DIGITS, delivered to tablets
    in the pull answer's ``policy``; docs/sync-protocol.md §4.1)."""
    if not isinstance(value, int) or isinstance(value, bool) \
            or not PIN_MIN_DIGITS <= value <= PIN_MAX_DIGITS:
        raise StoreError(f"{field}: expected a whole number {PIN_MIN_DIGITS}..{PIN_MAX_DIGITS}")
    return value


def parse_verifier(verifier: object, field: str = "pin_verifier") -> Verifier:
    """Check a verifier's form and bounds; raises StoreError naming `field`."""
    if not isinstance(verifier, str):
        raise StoreError(f"{field}: expected text like {FORM}")
    m = _VERIFIER_RE.match(verifier)
    if not m:
        raise StoreError(f"{field}: expected {FORM}")
    kind, a, b, p = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
    if kind == "argon2id":
        if not 1024 <= a <= 65536 or not 1 <= b <= 8 or not 1 <= p <= 4 or a * b > 2 ** 18:
            raise StoreError(f"{field}: argon2id needs m 1024..65536 KiB, t 1..8, p 1..4 and "
                             "m·t at most 2^18")
    else:
        if a < 2 ** 10 or a > 2 ** 17 or a & (a - 1):
            raise StoreError(f"{field}: scrypt n must be a power of two between 2^10 and 2^17")
        if not 1 <= b <= 16 or not 1 <= p <= 4:
            raise StoreError(f"{field}: scrypt r must be 1..16 and p 1..4")
    try:
        salt = base64.b64decode(m.group(5), validate=True)
        digest = base64.b64decode(m.group(6), validate=True)
    except (binascii.Error, ValueError):
        raise StoreError(f"{field}: salt or hash is not valid base64") from None
    if not 8 <= len(salt) <= 64 or not 16 <= len(digest) <= 64:
        raise StoreError(f"{field}: salt must be 8..64 bytes and hash 16..64 bytes")
    if kind != "scrypt" and len(digest) != 32:
        raise StoreError(f"{field}: the hash of a {kind} verifier is 32 bytes")
    return Verifier(kind, a, b, p, salt, digest)


def _make(secret: str, m: int, t: int, p: int) -> str:
    salt = os.urandom(SALT_BYTES)
    key = hash_secret_raw(secret.encode("utf-8"), salt, time_cost=t, memory_cost=m,
                          parallelism=p, hash_len=KEY_BYTES, type=Type.ID)
    return Verifier("argon2id", m, t, p, salt, hashlib.sha256(key).digest()).text()


def make_verifier(pin: str) -> str:
    """A new argon2id verifier of a PIN (4–8 digits; the policy is checked by callers
    that make a *new* PIN, not by an upgrade of an existing one)."""
    return _make(check_pin_format(pin), ARGON2_M, ARGON2_T, ARGON2_P)


def key_if_matches(verifier: str, secret: str) -> bytes | None:
    """K when `secret` matches the verifier, else None (the verifier is parsed first)."""
    parsed = parse_verifier(verifier)
    key = parsed.key(secret)
    return key if parsed.accepts_key(key) else None


def verify(verifier: str, pin: str) -> bool:
    """True when `pin` matches; constant-time comparison."""
    parse_verifier(verifier)
    if not isinstance(pin, str) or not PIN_RE.match(pin):
        return False
    return key_if_matches(verifier, pin) is not None


def proof_matches(verifier: str, key: bytes) -> bool:
    """Whether `key` (a decoded proof) is K of this verifier's secret."""
    return parse_verifier(verifier).accepts_key(key)


def canonical(verifier: str) -> str:
    """The verifier as stored and compared: an old ``scrypt$`` one (which holds K) is
    wrapped as ``scrypt-sha256$`` (which holds H(K)); others are returned as they are."""
    parsed = parse_verifier(verifier)
    if parsed.kind != "scrypt" or len(parsed.digest) != KEY_BYTES:
        return verifier
    return Verifier("scrypt-sha256", parsed.a, parsed.b, parsed.p, parsed.salt,
                    hashlib.sha256(parsed.digest).digest()).text()


def same(a: str | None, b: str | None) -> bool:
    """Whether two verifiers (or None) stand for the same secret and salt."""
    if a is None or b is None:
        return a is b
    return a == b or canonical(a) == canonical(b)


def is_strong(verifier: str) -> bool:
    """argon2id at OWASP cost or more (what the server accepts as a new PIN verifier)."""
    parsed = parse_verifier(verifier)
    return (parsed.kind == "argon2id" and parsed.a >= MIN_ARGON2_M
            and parsed.a * parsed.b >= MIN_ARGON2_WORK)


def needs_upgrade(verifier: str) -> bool:
    """True for verifiers a tablet replaces at the next successful sign-in."""
    return not is_strong(verifier)


# ----- proofs ------------------------------------------------------------------------------
def encode_proof(key: bytes) -> str:
    return base64.b64encode(key).decode()


def decode_proof(proof: object, field: str = "pin_proof") -> bytes:
    if not isinstance(proof, str) or len(proof) > 128:
        raise StoreError(f"{field}: expected the base64 key of the old PIN or set-up code")
    try:
        key = base64.b64decode(proof, validate=True)
    except (binascii.Error, ValueError):
        raise StoreError(f"{field}: not valid base64") from None
    if not 16 <= len(key) <= 64:
        raise StoreError(f"{field}: a key is 16..64 bytes")
    return key


# ----- one-time set-up codes -----------------------------------------------------------------
def new_setup_code() -> str:
    """A code like ``K7QF-M2XP-9HTR`` (≈ 59 random bits)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: object) -> str:
    """Codes are typed by hand: compared ignoring case, spaces and dashes."""
    return "".join(ch for ch in str(code or "").upper() if ch.isascii() and ch.isalnum())


def make_setup_verifier(code: str) -> str:
    return _make(normalise_code(code), SETUP_M, SETUP_T, SETUP_P)
