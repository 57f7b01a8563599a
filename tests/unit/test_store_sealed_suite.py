"""The store's unit tests once more, on encrypted folders. Every real tablet's store is
encrypted (the app opens it with its key: app/core/store/sealed.py), while the rest of
the suite opens plain folders for speed; this re-run (SHIFT_TEST_SEALED_STORE=1, the
fixture in tests/conftest.py) keeps code that reads or writes store files around the
store's two disk paths from passing here and failing on a tablet (it caught the
retention rewrite's marker being read as plain text). Tests marked `plain_store` read or
damage files as text on purpose and are left out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORE_TESTS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "unit").glob(
    "test_store_*.py") if p.name != Path(__file__).name)


@pytest.mark.timeout(1200)
def test_the_store_suite_passes_on_encrypted_folders(tmp_path: Path) -> None:
    assert len(STORE_TESTS) >= 10
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m",
         "not plain_store", "--basetemp", str(tmp_path / "t"), *STORE_TESTS],
        cwd=ROOT, env={**os.environ, "SHIFT_TEST_SEALED_STORE": "1"},
        capture_output=True, text=True, timeout=1150)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
