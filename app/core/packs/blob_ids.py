"""What a blob is: its id (the sha256 of its bytes, 64 lowercase hex) and the check that
bytes received are that blob — one rule for the blob store, its batches and downloads."""

from __future__ import annotations

import re

from app.core.errors import PackVerifyError

SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def check_sha(sha: str) -> str:
    """`sha` when it is a blob id; PackVerifyError naming it otherwise."""
    if not isinstance(sha, str) or not SHA_RE.match(sha):
        raise PackVerifyError(f"invalid blob id {str(sha)[:80]!r}: expected 64 lowercase hex")
    return sha


def check_blob(sha: str, size: int, got_size: int, got_sha: str,
               label: str | None = None) -> None:
    """PackVerifyError when the bytes received (`got_size`, `got_sha`) are not the blob
    the manifest names; `label` (a pack path) names it in the message."""
    what = f"blob for {label}" if label else f"blob {sha[:16]}…"
    if got_size != size:
        raise PackVerifyError(f"{what} has {got_size} bytes, expected {size}")
    if got_sha != sha:
        raise PackVerifyError(f"{what} was tampered with: sha256 does not match the manifest")
