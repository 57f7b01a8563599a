"""What a blob is: its id (the sha256 of its bytes, 64 lowercase hex) and the check that
bytes received are that blob — one rule for the blob store, its batches and downloads."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable

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


def copy_checked(chunks: Iterable[bytes], write: Callable[[bytes], object], *, sha: str,
                 size: int, label: str | None = None, keep: int = 0) -> bytes:
    """Pass `chunks` to `write` while hashing and counting them: PackVerifyError as soon as
    they run past `size`, or at the end when they are not the blob `sha`
    (`check_blob`). Returns their first `keep` bytes (a content check then needs no
    read-back). The one loop of the blob store, its batches and its containers."""
    h = hashlib.sha256()
    kept = bytearray()
    n = 0
    for chunk in chunks:
        n += len(chunk)
        if n > size:
            raise PackVerifyError(f"blob for {label or sha} is larger than the {size} bytes "
                                  "expected")
        h.update(chunk)
        write(chunk)
        if len(kept) < keep:
            kept += chunk[:keep - len(kept)]
    check_blob(sha, size, n, h.hexdigest(), label)
    return bytes(kept)
