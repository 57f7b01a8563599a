"""The disk between benchmarks."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def flush_writes(log: Callable[[str], None]) -> None:
    """Write every dirty page to disk before a benchmark measures, so that its timings
    are its own. Some benchmarks write a lot — the pack install ≈ 1 GB, the dashboard's
    generator ≈ 5 GB with `synchronous=OFF` — and the kernel would otherwise still be
    writing that back while the next one measures."""
    started = time.perf_counter()
    os.sync()
    took = time.perf_counter() - started
    if took >= 0.5:
        log(f"flushed earlier writes to disk first ({took:.1f} s)")
