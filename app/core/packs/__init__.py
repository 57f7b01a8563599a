"""Content packs: read sources, build, sign, verify, install, catalogue.

Contract: docs/pack-format.md. Authoring guide: docs/authoring.md.
"""

from __future__ import annotations

from app.core.canonical import canonical_json
from app.core.packs.blobs import BlobStore
from app.core.packs.builder import build_from_source, build_pack, sign_manifest
from app.core.packs.install import install_from_blobs, install_pack
from app.core.packs.keys import (
    TrustedKeys,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    write_keypair,
)
from app.core.packs.library import InstalledPack, PackLibrary
from app.core.packs.limits import FORMAT_VERSION
from app.core.packs.safezip import UnsafeZipError, safe_extract_zip
from app.core.packs.source import PackSource, read_source
from app.core.packs.verify import VerifiedPack, verify_manifest, verify_pack

__all__ = [
    "FORMAT_VERSION", "BlobStore", "InstalledPack", "PackLibrary", "PackSource", "TrustedKeys",
    "UnsafeZipError", "VerifiedPack", "build_from_source", "build_pack", "canonical_json",
    "generate_keypair", "install_from_blobs", "install_pack", "key_id", "load_private_key",
    "load_public_key", "read_source", "safe_extract_zip", "sign_manifest", "verify_manifest",
    "verify_pack",
    "write_keypair",
]
