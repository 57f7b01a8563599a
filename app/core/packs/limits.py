"""Limits of docs/pack-format.md §3, in one place so builder, verifier and tests agree."""

from __future__ import annotations

FORMAT_VERSION = 1
SUPPORTED_FORMATS = (1,)
MAX_ENTRIES = 20_000
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
MAX_ENTRY_BYTES = 512 * 1024 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024
MAX_RATIO = 100
DISK_MARGIN = 64 * 1024 * 1024
CHUNK = 1024 * 1024
