"""The server's pack signing key and the set of keys it trusts for uploaded packs.

Zero config: the first start writes `<data_dir>/keys/server.key` (+ `.pub`); SHIFT_SIGNING_KEY
names an existing key instead. Trusted keys = the server key + SHIFT_TRUSTED_KEYS files.
Several server processes sharing a data dir race to create the key, so creation uses an
exclusive lock file and re-checks.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.core.packs.keys import (
    TrustedKeys,
    key_id,
    load_private_key,
    load_public_key,
    write_keypair,
)
from sync_server.settings import Settings


@dataclass(frozen=True)
class Keyring:
    private_key: Ed25519PrivateKey
    key_file: Path
    trusted: TrustedKeys

    @property
    def key_id(self) -> str:
        return key_id(self.private_key)


def load_keyring(settings: Settings) -> Keyring:
    if settings.signing_key is not None:
        key_file = settings.signing_key
    else:
        key_file = settings.key_dir / "server.key"
        if not key_file.exists():
            settings.key_dir.mkdir(parents=True, exist_ok=True)
            with open(settings.key_dir / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not key_file.exists():
                    write_keypair(key_file)
    private = load_private_key(key_file)
    trusted = TrustedKeys([private.public_key()])
    for path in settings.trusted_keys:
        trusted.add(load_public_key(path))
    return Keyring(private, key_file, trusted)
