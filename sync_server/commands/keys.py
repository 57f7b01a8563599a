"""`python -m sync_server keygen KEYFILE` — a new Ed25519 pack-signing key pair.

Writes KEYFILE (PEM PKCS#8 private key, mode 0600) and KEYFILE.pub (PEM public key, the
file devices and servers trust with --trust). Refuses to overwrite an existing key.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.core.errors import PackError
from app.core.packs import key_id, load_public_key, write_keypair


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("keygen", help="create an Ed25519 pack-signing key pair")
    p.add_argument("keyfile", help="private key file to create (KEYFILE.pub is written too)")
    p.add_argument("--force", action="store_true", help="overwrite an existing key pair")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        private, public = write_keypair(Path(args.keyfile), overwrite=args.force)
    except OSError as exc:
        raise PackError(f"{exc.filename or args.keyfile}: cannot write the key "
                        f"({exc.strerror or exc})") from None
    print(f"key id {key_id(load_public_key(public))}")
    print(f"private key (keep secret, never commit): {private}")
    print(f"public key (give to devices with --trust): {public}")
    return 0
