"""Ed25519 signing keys: generation, key files, key ids and the trusted-key set.

Key files are PEM: the private key as unencrypted PKCS#8 (``-----BEGIN PRIVATE KEY-----``,
written with mode 0600), the public key as SubjectPublicKeyInfo
(``-----BEGIN PUBLIC KEY-----``). A public key may also be given as one line of base64
of the 32 raw bytes (what an admin can paste from ``pack verify`` output). The key id is the
first 16 hex characters of sha256(raw public key), as in docs/pack-format.md §2.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.core.errors import PackError, PackVerifyError

__all__ = ["generate_keypair", "load_private_key", "load_public_key", "key_id", "TrustedKeys",
           "write_keypair", "public_key_pem"]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """First 16 hex chars of sha256 of the raw 32-byte public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return hashlib.sha256(_raw_public(pub)).hexdigest()[:16]


def generate_keypair() -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
    private = Ed25519PrivateKey.generate()
    return private, private.public_key()


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def write_keypair(keyfile: Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new private key to ``keyfile`` (mode 0600) and its public key to ``keyfile.pub``.

    Refuses to overwrite an existing key unless asked: losing a signing key means no device
    accepts updates any more.
    """
    keyfile = Path(keyfile)
    pubfile = keyfile.with_name(keyfile.name + ".pub")
    if not overwrite:
        for f in (keyfile, pubfile):
            if f.exists():
                raise PackError(f"{f}: already exists; refusing to overwrite a key")
    private, public = generate_keypair()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    keyfile.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(keyfile, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    pubfile.write_bytes(public_key_pem(public))
    return keyfile, pubfile


def load_private_key(source: Path | bytes) -> Ed25519PrivateKey:
    """Load a PEM PKCS#8 Ed25519 private key from a path or bytes."""
    data, name = _read(source)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise PackError(f"{name}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PackError(f"{name}: not an Ed25519 private key")
    return key


def load_public_key(source: Path | bytes) -> Ed25519PublicKey:
    """Load an Ed25519 public key: PEM SubjectPublicKeyInfo or base64 of the 32 raw bytes."""
    data, name = _read(source)
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text)
        except ValueError as exc:
            raise PackError(f"{name}: not a PEM public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise PackError(f"{name}: not an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PackError(f"{name}: not a public key (expected PEM or base64 of 32 bytes)") from None
    if len(raw) != 32:
        raise PackError(f"{name}: a raw Ed25519 public key has 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def _read(source: Path | bytes) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray):
        return bytes(source), "key"
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise PackError(f"{path}: cannot read key file ({exc.strerror})") from None


class TrustedKeys:
    """The public keys a device (or server) accepts pack signatures from, by key id."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        for k in keys:
            self.add(k)

    @classmethod
    def from_files(cls, paths: Iterable[Path | str]) -> TrustedKeys:
        return cls(load_public_key(Path(p)) for p in paths)

    @classmethod
    def from_bytes(cls, blobs: Iterable[bytes]) -> TrustedKeys:
        return cls(load_public_key(b) for b in blobs)

    def add(self, key: Ed25519PublicKey) -> str:
        kid = key_id(key)
        self._keys[kid] = key
        return kid

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def verify(self, kid: str, signature: bytes, data: bytes) -> None:
        """Raise PackVerifyError unless ``signature`` over ``data`` is valid for key ``kid``."""
        key = self._keys.get(kid)
        if key is None:
            raise PackVerifyError(f"signed by unknown key {kid!r}; trusted keys: "
                                  f"{', '.join(self.key_ids) or 'none'}")
        try:
            key.verify(signature, data)
        except InvalidSignature:
            raise PackVerifyError(f"signature does not match manifest.json (key {kid}): "
                                  "the manifest was altered or signed by another key") from None
