"""Revocation of certificates: W3C *Bitstring Status List v1.0*, and the device's check of
a received certificate.

Used on both sides, like ``app.core.certificates``: the server encodes the list it serves
(``encode_status_list``) and signs it as a ``BitstringStatusListCredential``; the device
checks a certificate it received (``check_received``) against the issuer keys it learned
from its server and the status lists it fetched at its last sync.

A certificate names its entry in ``credentialStatus``::

    {"id": "<list url>#<index>", "type": "BitstringStatusListEntry",
     "statusPurpose": "revocation", "statusListIndex": "<index>",
     "statusListCredential": "<list url>"}

and the list credential's ``credentialSubject.encodedList`` is ``"u"`` + base64url (no
padding) of the GZIP-compressed bitstring, at least 16 KiB (131 072 entries) so one
certificate hides among many; bit ``i`` is bit ``7 - i % 8`` of byte ``i // 8`` (the
left-most bit is index 0). Bit set = revoked.
"""

from __future__ import annotations

import base64
import gzip
import re
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.core.certificates import (
    VC_CONTEXT,
    public_key_from_verification_method,
    verify_credential,
)
from app.core.certificates import issuer_id as credential_issuer
from app.core.errors import CertificateError

STATUS_LIST_BITS = 131_072            # the specification's minimum (16 KiB)
#: Largest bitstring a device accepts (a hostile list must not exhaust memory).
MAX_STATUS_LIST_BYTES = 1024 * 1024
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"
STATUS_LIST_TYPE = "BitstringStatusList"
STATUS_LIST_CREDENTIAL_TYPES = ["VerifiableCredential", "BitstringStatusListCredential"]
REVOCATION = "revocation"
_INDEX_RE = re.compile(r"^(0|[1-9][0-9]{0,8})$")


def encode_status_list(revoked: Iterable[int], size: int = STATUS_LIST_BITS) -> str:
    """The ``encodedList`` of a list of `size` bits with the `revoked` indexes set."""
    if size <= 0 or size % 8:
        raise CertificateError(f"status list: size must be a positive multiple of 8, got {size}")
    bits = bytearray(size // 8)
    for index in revoked:
        if not 0 <= index < size:
            raise CertificateError(f"status list: index {index} outside 0–{size - 1}")
        bits[index // 8] |= 0x80 >> (index % 8)
    packed = gzip.compress(bytes(bits), compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_status_list(encoded: Any) -> bytes:
    """The bitstring of an ``encodedList`` (raises CertificateError; never inflates more
    than MAX_STATUS_LIST_BYTES)."""
    if not isinstance(encoded, str) or not encoded.startswith("u") or len(encoded) > 2_000_000:
        raise CertificateError("encodedList: expected multibase base64url ('u…')")
    body = encoded[1:]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)   # gzip framing
        bits = inflater.decompress(packed, MAX_STATUS_LIST_BYTES + 1)
    except (ValueError, zlib.error) as exc:
        raise CertificateError(f"encodedList: not base64url of GZIP data ({exc})") from None
    if len(bits) > MAX_STATUS_LIST_BYTES:
        raise CertificateError(f"encodedList: larger than {MAX_STATUS_LIST_BYTES} bytes")
    if not inflater.eof:
        raise CertificateError("encodedList: truncated GZIP data")
    return bits


def bit_is_set(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise CertificateError(f"statusListIndex {index}: outside the list "
                               f"(0–{len(bits) * 8 - 1})")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def status_entry(list_url: str, index: int) -> dict[str, str]:
    """The ``credentialStatus`` of a certificate at `index` of the list at `list_url`."""
    return {"id": f"{list_url}#{index}", "type": STATUS_ENTRY_TYPE,
            "statusPurpose": REVOCATION, "statusListIndex": str(index),
            "statusListCredential": list_url}


def status_list_credential(*, list_url: str, issuer_id: str, valid_from: str,
                           revoked: Iterable[int], size: int = STATUS_LIST_BITS
                           ) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` (the server signs it)."""
    return {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": list(STATUS_LIST_CREDENTIAL_TYPES),
        "issuer": issuer_id,
        "validFrom": valid_from,
        "credentialSubject": {"id": f"{list_url}#list", "type": STATUS_LIST_TYPE,
                              "statusPurpose": REVOCATION,
                              "encodedList": encode_status_list(revoked, size)},
    }


def entry_of(credential: Any) -> tuple[str, int] | None:
    """(list url, index) of a certificate's revocation entry; None when it has none.
    Raises CertificateError for an entry that is there but malformed."""
    status = credential.get("credentialStatus") if isinstance(credential, dict) else None
    if status is None:
        return None
    if not isinstance(status, dict) or status.get("type") != STATUS_ENTRY_TYPE \
            or status.get("statusPurpose") != REVOCATION:
        raise CertificateError("credentialStatus: expected a revocation "
                               "BitstringStatusListEntry")
    url, index = status.get("statusListCredential"), status.get("statusListIndex")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 500:
        raise CertificateError("credentialStatus.statusListCredential: expected an http(s) URL")
    if not isinstance(index, str) or not _INDEX_RE.match(index):
        raise CertificateError("credentialStatus.statusListIndex: expected a decimal integer")
    return url, int(index)


def check_status_list(list_credential: Any, *, list_url: str, issuer_id: Any,
                      trusted_keys: Any) -> bytes:
    """The bitstring of a fetched status list credential, after checking it is genuine
    (trusted key), is the list at `list_url`, is a revocation list and was issued by
    `issuer_id`. Raises CertificateError naming what is wrong."""
    result = verify_credential(list_credential, trusted_keys, shape="status_list")
    if not result.genuine:
        raise CertificateError(f"status list {list_url}: {result.status.value}: {result.reason}")
    if list_credential.get("id") != list_url:
        raise CertificateError(f"status list: id {list_credential.get('id')!r} is not {list_url}")
    if credential_issuer(list_credential) != issuer_id:
        raise CertificateError("status list: issued by another issuer than the certificate")
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("statusPurpose") != REVOCATION:
        raise CertificateError("status list: not a revocation list")
    return decode_status_list(subject.get("encodedList"))


class Shown:
    """How the tablet shows a received certificate."""
    VERIFIED = "verified"
    REVOKED = "revoked"
    UNVERIFIED = "unverified"


@dataclass(frozen=True, slots=True)
class ReceivedCheck:
    shown: str        # Shown.*
    reason: str

    @property
    def verified(self) -> bool:
        return self.shown == Shown.VERIFIED


def _same_uuid(value: Any, expected: str) -> bool:
    try:
        return uuid.UUID(str(value).removeprefix("urn:uuid:")) == uuid.UUID(expected)
    except ValueError:
        return False


def check_received(credential: Any, *, learner: str, certificate_id: Any,
                   issuer_keys: Any, status_lists: Mapping[str, Any]) -> ReceivedCheck:
    """May the tablet show this ``certificate.received`` as verified for `learner`?

    Only when the credential is genuine under a key the tablet learned as its server's
    *certificate issuer* key (pack keys do not count: a pack author must not mint
    certificates), is about this learner (``credentialSubject.id``), is the certificate
    the event names, and is not revoked in the status list fetched at the last sync (a
    list the tablet has not fetched yet leaves it verified until the next sync)."""
    if not issuer_keys:
        return ReceivedCheck(Shown.UNVERIFIED, "no certificate issuer key known yet (sync once)")
    result = verify_credential(credential, issuer_keys)
    if not result.genuine:
        return ReceivedCheck(Shown.UNVERIFIED, f"{result.status.value}: {result.reason}")
    subject = credential.get("credentialSubject") or {}
    if not _same_uuid(subject.get("id"), learner):
        return ReceivedCheck(Shown.UNVERIFIED, "issued to another learner")
    if certificate_id is not None and not _same_uuid(credential.get("id"), str(certificate_id)):
        return ReceivedCheck(Shown.UNVERIFIED, "the event names another certificate")
    try:
        entry = entry_of(credential)
        if entry is None:
            return ReceivedCheck(Shown.VERIFIED, "genuine (no revocation entry)")
        url, index = entry
        listed = status_lists.get(url)
        if listed is None:
            return ReceivedCheck(Shown.VERIFIED, "genuine (revocation list not fetched yet)")
        bits = check_status_list(listed, list_url=url, issuer_id=credential_issuer(credential),
                                 trusted_keys=issuer_keys)
        if bit_is_set(bits, index):
            return ReceivedCheck(Shown.REVOKED, "revoked by the issuer")
    except CertificateError as exc:
        return ReceivedCheck(Shown.UNVERIFIED, str(exc))
    return ReceivedCheck(Shown.VERIFIED, "genuine and not revoked")


def did_of(profile: Any) -> str:
    """The did:key of an issuer profile (``GET /issuer``), checked to name an Ed25519
    key. Raises CertificateError."""
    did = profile.get("id") if isinstance(profile, dict) else None
    try:
        public_key_from_verification_method(did)
    except ValueError as exc:
        raise CertificateError(f"issuer profile: id: {exc}") from None
    assert isinstance(did, str)
    return did
