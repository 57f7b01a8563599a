"""Signed course certificates: Open Badges 3.0-shaped credentials with an Ed25519 proof.

Used on both sides: the sync server signs (``sign_credential``), the device verifies
offline (``verify_credential``) with nothing but the trusted public keys it already holds.
Pure: only ``cryptography`` and the standard library.

What is signed (docs/certificates.md) follows the W3C ``eddsa-jcs-2022`` cryptosuite:

1. ``unsecured`` = the credential without its ``proof`` member;
2. ``proof_config`` = the ``proof`` object without ``proofValue`` (it carries the
   credential's ``@context``, ``type``, ``cryptosuite``, ``created``,
   ``verificationMethod`` and ``proofPurpose``);
3. ``hash_data`` = SHA-256(JCS(proof_config)) ‖ SHA-256(JCS(unsecured)), where JCS is the
   RFC 8785 JSON Canonicalization Scheme (app/core/jcs.py);
4. ``proofValue`` = ``"z"`` + base58btc(Ed25519 signature over ``hash_data``).

Every member of the credential and of the proof except ``proofValue`` is therefore covered:
changing, adding or removing any of them makes verification fail.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.core.clock import now_utc
from app.core.errors import CertificateError, PackVerifyError
from app.core.jcs import canonicalize

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CONTEXTS: list[str] = [VC_CONTEXT, OB_CONTEXT]
CREDENTIAL_TYPES: list[str] = ["VerifiableCredential", "OpenBadgeCredential"]
PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_PURPOSE = "assertionMethod"
#: multicodec prefix of an Ed25519 public key (varint 0xed) used by did:key.
_ED25519_MULTICODEC = b"\xed\x01"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
MAX_CREDENTIAL_BYTES = 64 * 1024


# --------------------------------------------------------------------------- keys

def b58encode(data: bytes) -> str:
    num = int.from_bytes(data, "big")
    out = []
    while num:
        num, rem = divmod(num, 58)
        out.append(_B58[rem])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    num = 0
    for ch in text:
        if ch not in _B58_INDEX:
            raise ValueError(f"not base58btc: {ch!r}")
        num = num * 58 + _B58_INDEX[ch]
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """Same key id as pack signatures (docs/pack-format.md): sha256 of the raw key, 16 hex."""
    return hashlib.sha256(_raw(public_key)).hexdigest()[:16]


def did_key(public_key: Ed25519PublicKey) -> str:
    """``did:key:z6Mk…`` of an Ed25519 public key."""
    return "did:key:z" + b58encode(_ED25519_MULTICODEC + _raw(public_key))


def verification_method(public_key: Ed25519PublicKey) -> str:
    """The ``proof.verificationMethod`` URL of a key: ``did:key:z6Mk…#z6Mk…``."""
    did = did_key(public_key)
    return f"{did}#{did.removeprefix('did:key:')}"


def public_key_from_verification_method(value: Any) -> Ed25519PublicKey:
    """The Ed25519 key a ``did:key`` verification method names (raises ValueError)."""
    if not isinstance(value, str) or not value.startswith("did:key:z"):
        raise ValueError("verificationMethod: expected a did:key URL")
    did, _, fragment = value.partition("#")
    multibase = did.removeprefix("did:key:")
    if fragment and fragment != multibase:
        raise ValueError("verificationMethod: fragment does not match the did:key")
    decoded = b58decode(multibase[1:])
    if len(decoded) != 34 or not decoded.startswith(_ED25519_MULTICODEC):
        raise ValueError("verificationMethod: not an Ed25519 did:key")
    return Ed25519PublicKey.from_public_bytes(decoded[2:])


def coerce_public_key(key: Any) -> Ed25519PublicKey:
    """Accept the key forms the project uses: an Ed25519PublicKey, 32 raw bytes, PEM
    (bytes or text), base64 of the raw key, or a did:key string. Raises CertificateError."""
    if isinstance(key, Ed25519PublicKey):
        return key
    try:
        if isinstance(key, str):
            text = key.strip()
            if text.startswith("did:key:"):
                return public_key_from_verification_method(text)
            if text.startswith("-----BEGIN"):
                key = text.encode()
            else:
                key = base64.b64decode(text, validate=True)
        if isinstance(key, (bytes, bytearray)):
            data = bytes(key)
            if len(data) == 32:
                return Ed25519PublicKey.from_public_bytes(data)
            if data.lstrip().startswith(b"-----BEGIN"):
                loaded = serialization.load_pem_public_key(data)
                if isinstance(loaded, Ed25519PublicKey):
                    return loaded
                raise CertificateError("public key: PEM is not an Ed25519 key")
    except CertificateError:
        raise
    except ValueError as exc:
        raise CertificateError(f"public key: unreadable ({exc})") from None
    raise CertificateError(f"public key: unsupported form {type(key).__name__}")


class _Trust:
    """The trusted keys in one shape: raw bytes → key, or a TrustedKeys-like object (the
    packs' ``app.core.packs.TrustedKeys``: ``kid in trusted`` and
    ``trusted.verify(kid, signature, data)`` raising on a bad signature)."""

    def __init__(self, trusted_public_keys: Any) -> None:
        self.registry: Any = None
        self.keys: dict[bytes, Ed25519PublicKey] = {}
        source = trusted_public_keys
        if hasattr(source, "verify") and hasattr(source, "key_ids") and hasattr(source, "__contains__"):
            self.registry = source
            return
        if isinstance(source, dict):
            source = list(source.values())
        if isinstance(source, (Ed25519PublicKey, bytes, bytearray, str)):
            source = [source]
        for k in source:
            key = coerce_public_key(k)
            self.keys[_raw(key)] = key

    def knows(self, public_key: Ed25519PublicKey) -> bool:
        if self.registry is not None:
            return key_id(public_key) in self.registry
        return _raw(public_key) in self.keys

    def valid(self, public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
        """Check with the *trusted* copy of the key (not the one named in the proof)."""
        try:
            if self.registry is not None:
                self.registry.verify(key_id(public_key), signature, data)
            else:
                self.keys[_raw(public_key)].verify(signature, data)
        except (InvalidSignature, PackVerifyError):  # TrustedKeys raises PackVerifyError
            return False
        return True


# --------------------------------------------------------------------------- sign / verify

def hash_data(unsecured: dict[str, Any], proof_config: dict[str, Any]) -> bytes:
    """The 64 bytes that are signed (eddsa-jcs-2022 §3.3.4)."""
    return (hashlib.sha256(canonicalize(proof_config)).digest()
            + hashlib.sha256(canonicalize(unsecured)).digest())


def sign_credential(credential: dict[str, Any], private_key: Ed25519PrivateKey, *,
                    created: datetime | None = None) -> dict[str, Any]:
    """Return a copy of ``credential`` with an ``eddsa-jcs-2022`` DataIntegrityProof."""
    if not isinstance(credential, dict):
        raise CertificateError("credential: expected an object")
    if "proof" in credential:
        raise CertificateError("credential: already has a proof")
    unsecured = dict(credential)
    created = created or now_utc()
    if created.tzinfo is None:
        raise CertificateError("created: datetime must be timezone-aware")
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verificationMethod": verification_method(private_key.public_key()),
        "proofPurpose": PROOF_PURPOSE,
    }
    if "@context" in unsecured:
        proof["@context"] = unsecured["@context"]
    signature = private_key.sign(hash_data(unsecured, proof))
    proof["proofValue"] = "z" + b58encode(signature)
    return {**unsecured, "proof": proof}


class CertificateStatus(StrEnum):
    GENUINE = "genuine"          # signature valid, by a trusted key
    TAMPERED = "tampered"        # well-formed, but the signature does not match the content
    UNKNOWN_KEY = "unknown_key"  # signed by a key this verifier does not trust
    MALFORMED = "malformed"      # not a credential this project issues / can check


@dataclass(frozen=True)
class VerificationResult:
    status: CertificateStatus
    reason: str
    credential_id: str | None = None
    key_id: str | None = None

    @property
    def genuine(self) -> bool:
        return self.status is CertificateStatus.GENUINE


def _malformed(reason: str, cid: str | None = None) -> VerificationResult:
    return VerificationResult(CertificateStatus.MALFORMED, reason, cid)


def check_shape(credential: dict[str, Any]) -> str | None:
    """First reason the credential is not an OpenBadgeCredential of ours, or None."""
    if credential.get("@context") != CONTEXTS:
        return "@context: expected " + ", ".join(CONTEXTS)
    types = credential.get("type")
    if not isinstance(types, list) or not all(t in types for t in CREDENTIAL_TYPES):
        return "type: expected VerifiableCredential and OpenBadgeCredential"
    cid = credential.get("id")
    if not isinstance(cid, str) or not cid.startswith("urn:uuid:"):
        return "id: expected urn:uuid:…"
    try:
        uuid.UUID(cid.removeprefix("urn:uuid:"))
    except ValueError:
        return "id: not a UUID"
    issuer = credential.get("issuer")
    if not isinstance(issuer, dict) or not isinstance(issuer.get("id"), str) \
            or not isinstance(issuer.get("name"), str):
        return "issuer: expected a Profile with id and name"
    valid_from = credential.get("validFrom")
    if not isinstance(valid_from, str) or not _DATETIME_RE.match(valid_from):
        return "validFrom: expected an ISO 8601 date-time"
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict) or not isinstance(subject.get("achievement"), dict):
        return "credentialSubject: expected an AchievementSubject with an achievement"
    if not isinstance(subject["achievement"].get("name"), str):
        return "credentialSubject.achievement.name: missing"
    return None


STATUS_LIST_CREDENTIAL = "BitstringStatusListCredential"


def check_status_list_shape(credential: dict[str, Any]) -> str | None:
    """First reason the credential is not a BitstringStatusListCredential, or None."""
    context = credential.get("@context")
    if not isinstance(context, list) or not context or context[0] != VC_CONTEXT:
        return f"@context: expected {VC_CONTEXT} first"
    types = credential.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types \
            or STATUS_LIST_CREDENTIAL not in types:
        return f"type: expected VerifiableCredential and {STATUS_LIST_CREDENTIAL}"
    if not isinstance(credential.get("id"), str):
        return "id: expected the list's URL"
    valid_from = credential.get("validFrom")
    if not isinstance(valid_from, str) or not _DATETIME_RE.match(valid_from):
        return "validFrom: expected an ISO 8601 date-time"
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict) or not isinstance(subject.get("encodedList"), str):
        return "credentialSubject: expected a BitstringStatusList with encodedList"
    return None


def issuer_id(credential: dict[str, Any]) -> Any:
    """``issuer`` as a string, or ``issuer.id`` when it is a Profile object."""
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def controller_mismatch(credential: dict[str, Any], verification_method: str) -> str | None:
    """The VC Data Model / Data Integrity rule that verifiers such as
    ``@digitalbazaar/vc`` enforce: a DID issuer must be the controller of the proof's
    verification method (for did:key, the DID before ``#``). Credentials issued before
    did:key issuers (an https issuer id; docs/certificates.md) are left to the key check."""
    iid = issuer_id(credential)
    if not isinstance(iid, str):
        return "issuer: expected an id"
    if iid.startswith("did:") and iid != verification_method.partition("#")[0]:
        return "issuer: does not match the verification method's controller"
    return None


SHAPES = {"badge": check_shape, "status_list": check_status_list_shape}


def verify_credential(credential: Any, trusted_public_keys: Any, *,
                      shape: str = "badge") -> VerificationResult:
    """Check a signed credential offline. Never raises for bad input: every problem is a
    result (MALFORMED / UNKNOWN_KEY / TAMPERED) with a one-line reason.

    ``trusted_public_keys``: iterable of keys in any form ``coerce_public_key`` accepts
    (a bad trusted key is the caller's mistake and raises CertificateError).
    ``shape``: "badge" (an OpenBadgeCredential, the default) or "status_list" (a
    BitstringStatusListCredential, app.core.credential_status).
    """
    trusted = _Trust(trusted_public_keys)
    if not isinstance(credential, dict):
        return _malformed("credential: expected a JSON object")
    cid = credential.get("id") if isinstance(credential.get("id"), str) else None
    try:
        size = len(canonicalize(credential))
    except CertificateError as exc:
        return _malformed(str(exc), cid)
    except RecursionError:
        return _malformed("credential: nested too deeply", cid)
    if size > MAX_CREDENTIAL_BYTES:
        return _malformed(f"credential: larger than {MAX_CREDENTIAL_BYTES} bytes", cid)
    proof = credential.get("proof")
    if not isinstance(proof, dict):
        return _malformed("proof: missing", cid)
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        return _malformed(f"proof: unsupported type/cryptosuite (expected {PROOF_TYPE} "
                          f"{CRYPTOSUITE})", cid)
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        return _malformed(f"proof.proofPurpose: expected {PROOF_PURPOSE}", cid)
    created = proof.get("created")
    if not isinstance(created, str) or not _DATETIME_RE.match(created):
        return _malformed("proof.created: expected an ISO 8601 date-time", cid)
    if "@context" in proof and proof["@context"] != credential.get("@context"):
        return _malformed("proof.@context: differs from the credential's @context", cid)
    value = proof.get("proofValue")
    try:
        if not isinstance(value, str) or not value.startswith("z"):
            raise ValueError("not multibase base58btc")
        signature = b58decode(value[1:])
        if len(signature) != 64:
            raise ValueError("wrong length")
    except ValueError as exc:
        return _malformed(f"proof.proofValue: {exc}", cid)
    try:
        public_key = public_key_from_verification_method(proof.get("verificationMethod"))
    except ValueError as exc:
        return _malformed(str(exc), cid)
    wrong = SHAPES[shape](credential) or controller_mismatch(credential,
                                                             str(proof["verificationMethod"]))
    if wrong:
        return _malformed(wrong, cid)
    kid = key_id(public_key)
    if not trusted.knows(public_key):
        return VerificationResult(CertificateStatus.UNKNOWN_KEY,
                                  f"signed by key {kid}, which is not trusted", cid, kid)
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    proof_config = {k: v for k, v in proof.items() if k != "proofValue"}
    if not trusted.valid(public_key, signature, hash_data(unsecured, proof_config)):
        return VerificationResult(CertificateStatus.TAMPERED,
                                  "signature does not match the content", cid, kid)
    return VerificationResult(CertificateStatus.GENUINE, "signature valid, trusted key", cid, kid)
