"""Which received certificates the tablet shows as genuine — decided offline.

Trust comes only from what the tablet learned from *its server* at sync (setting
``certificate_keys``: the did:keys of the server's certificate issuer, and
``certificate_status_lists``: the signed revocation lists; app/sync/certificates.py).
Pack keys (``trusted_keys``) never count: a pack author must not be able to mint a
certificate the tablet shows as verified. Unreadable settings are skipped, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable

from app.core.certificates import coerce_public_key, verify_credential
from app.core.credential_status import ReceivedCheck, check_received
from app.core.errors import ShiftError

#: How the trust reads a store setting: ``setting(name, default)``.
SettingReader = Callable[[str, object], object]


class CertificateTrust:
    def __init__(self, setting: SettingReader) -> None:
        self.setting = setting

    def issuer_keys(self) -> list[str]:
        """The did:keys that may sign certificates (unreadable entries skipped)."""
        raw = self.setting("certificate_keys", [])
        keys = []
        for entry in raw if isinstance(raw, list) else []:
            try:
                coerce_public_key(entry)
            except ShiftError:
                continue
            keys.append(entry)
        return keys

    def check(self, credential: object, *, learner: str,
              certificate_id: object = None) -> ReceivedCheck:
        """How to show a received certificate to `learner`: verified, revoked (in the
        status list fetched at the last sync) or unverified (not signed by the server's
        certificate key, issued to someone else, tampered, junk). Never raises for bad
        input."""
        lists = self.setting("certificate_status_lists", {})
        return check_received(credential, learner=learner, certificate_id=certificate_id,
                              issuer_keys=self.issuer_keys(),
                              status_lists=lists if isinstance(lists, dict) else {})

    def verify(self, credential: object, *, learner: str | None = None) -> bool:
        """True when ``credential`` is genuine: signed by the server's certificate key
        and unchanged since (and, with `learner`, issued to that learner, not revoked)."""
        if learner is not None:
            return self.check(credential, learner=learner).verified
        keys = self.issuer_keys()
        return bool(keys) and verify_credential(credential, keys).genuine
