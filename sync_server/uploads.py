"""Stream an uploaded file to a temporary file with a size limit (JSON API and console).

The body never sits in memory whole; on any failure the partial file is removed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from sync_server.errors import ServerError

CHUNK = 1024 * 1024


class UploadTooLargeError(ServerError):
    """More bytes than the configured limit (HTTP 413 in the JSON API)."""


class EmptyUploadError(ServerError):
    """No bytes at all."""


async def save_upload(chunks: AsyncIterator[bytes], folder: Path, prefix: str, limit: int) -> Path:
    """Write `chunks` to a new file in `folder`; its path (the caller deletes it)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix, dir=folder)
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise UploadTooLargeError(f"upload larger than {limit} bytes")
                handle.write(chunk)
        if size == 0:
            raise EmptyUploadError("the uploaded file is empty")
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)
