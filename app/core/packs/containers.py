"""Blob containers: many small blobs of one install in one file, ``<blobs>/packed/<id>.blobs``.

Why: a pack of 3,000 small files written as 3,000 files costs a file creation each —
140–290 µs on this machine's busy disk, more than hashing them — plus the flush of 3,000
inodes; one container file is written as fast as the bytes come. The blob store
(blobs.py; packed.py keeps the containers' index) looks a blob up in the containers when
it has no loose file for it, reads it from there, and copies an image out to a loose
file the first time a view needs a path.

Format: the blobs' bytes back to back, then an index, then a fixed-size trailer::

    <blob bytes …><index JSON: {"format": 1, "blobs": [[sha256, offset, size], …]}>
    \\nSHIFT-BLOBS <index length: 16 digits>\\n

A container is written under a temporary name, made durable, and only then renamed into
``packed/`` — never changed after — so one in ``packed/`` is whole, and each blob in it
was hash-checked as it was written (BlobBatch.put).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import BinaryIO

FORMAT = 1
MAGIC = b"\nSHIFT-BLOBS "
TRAILER = len(MAGIC) + 16 + 1
SUFFIX = ".blobs"
_NAME = re.compile(r"^[0-9a-f]{16}\.blobs$")
_SHA = re.compile(r"^[0-9a-f]{64}$")

Where = tuple[int, int]        # (offset, size)


def is_container(path: Path) -> bool:
    return _NAME.match(path.name) is not None


class ContainerWriter:
    """Appends blobs to a new container file (the caller checks each blob's hash and
    calls `cancel_last` when one fails, so its bytes are cut off again)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "xb", buffering=1024 * 1024)  # noqa: SIM115  # closed by finish/close
        self.index: dict[str, Where] = {}
        self._start = 0
        self.size = 0

    def begin(self) -> None:
        self._start = self.size

    def write(self, chunk: bytes) -> None:
        self._fh.write(chunk)
        self.size += len(chunk)

    def end(self, sha: str) -> None:
        self.index[sha] = (self._start, self.size - self._start)

    def cancel_last(self) -> None:
        self._fh.flush()
        self._fh.truncate(self._start)
        self._fh.seek(self._start)
        self.size = self._start

    def finish(self) -> None:
        """Write the index and the trailer and close the file (not yet durable)."""
        index = json.dumps({"format": FORMAT, "blobs": [[sha, off, size] for sha, (off, size)
                                                        in sorted(self.index.items())]},
                           separators=(",", ":")).encode()
        self._fh.write(index + MAGIC + b"%016d\n" % len(index))
        self._fh.close()

    def close(self) -> None:
        self._fh.close()


def read_index(path: Path) -> dict[str, Where]:
    """sha → (offset, size) of a container; ValueError when the file is not one."""
    with open(path, "rb") as fh:
        end = fh.seek(0, os.SEEK_END)
        if end < TRAILER:
            raise ValueError(f"{path}: too short for a blob container")
        fh.seek(end - TRAILER)
        trailer = fh.read(TRAILER)
        if not trailer.startswith(MAGIC) or not trailer[len(MAGIC):-1].isdigit():
            raise ValueError(f"{path}: no blob container trailer")
        length = int(trailer[len(MAGIC):-1])
        body = end - TRAILER - length
        if body < 0:
            raise ValueError(f"{path}: index length out of range")
        fh.seek(body)
        doc = json.loads(fh.read(length))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT \
            or not isinstance(doc.get("blobs"), list):
        raise ValueError(f"{path}: not a format {FORMAT} blob container")
    index: dict[str, Where] = {}
    for row in doc["blobs"]:
        if not (isinstance(row, list) and len(row) == 3 and isinstance(row[0], str)
                and _SHA.match(row[0]) and all(type(x) is int and x >= 0 for x in row[1:])
                and row[1] + row[2] <= body):
            raise ValueError(f"{path}: index entry {str(row)[:100]} malformed")
        index[row[0]] = (row[1], row[2])
    return index


class Slice:
    """A read-only file object over one blob of a container."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        self._fh: BinaryIO = open(path, "rb")  # noqa: SIM115  # closed by close()
        self._fh.seek(offset)
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self._left:
            n = self._left
        data = self._fh.read(n)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> Slice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
