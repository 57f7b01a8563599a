"""Secrets: random tokens and codes (stored only as hashes) and admin password hashes.

Device tokens, admin tokens and enrolment codes are long random strings, so a fast
SHA-256 is enough to store them (nothing to brute-force); admin *passwords* are chosen
by people and are hashed with argon2id at OWASP cost (m=19 MiB, t=2, p=1, the PHC string
of argon2-cffi). Hashes of older servers (scrypt) still verify and are replaced at the
next successful login (`needs_rehash`). `verify_dummy` spends the same time as a real
check, so a login with an unknown name takes as long as one with a wrong password.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
#: Enrolment codes are typed on a tablet: no 0/O/1/I/L confusion, grouped by 4.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


def new_token(prefix: str) -> str:
    """A bearer token like `dev_<43 url-safe chars>` (256 random bits)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_enrol_code() -> str:
    """A one-time code like `K7QF-M2XP-9HTR` (≈59 bits; one use, expiring)."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    """Codes are compared case- and separator-insensitively (typed by hand)."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_hash(code: str) -> str:
    return hashlib.sha256(("enrol:" + normalise_code(code)).encode()).hexdigest()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("$argon2"):
        try:
            return bool(_HASHER.verify(stored, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
    return _verify_scrypt(password, stored)


def needs_rehash(stored: str) -> bool:
    """True for a hash of an older server (scrypt) or of other argon2 parameters."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return bool(_HASHER.check_needs_rehash(stored))
    except InvalidHashError:
        return True


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(24))


def verify_dummy(password: str) -> None:
    """Spend the time of one real password check (for an unknown admin name)."""
    verify_password(password, _dummy_hash())


def _verify_scrypt(password: str, stored: str) -> bool:
    """Admin password hashes of servers before argon2: scrypt$n$r$p$salt$hash."""
    try:
        alg, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if alg != "scrypt" or int(n) > 2 ** 17 or int(r) > 16 or int(p) > 4:
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)
