"""Which optional test groups can run on this machine, and how to enable the others."""

from __future__ import annotations

import glob
import os
import shutil

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    for path in CHROMIUM_CANDIDATES:
        if os.path.exists(path):
            return path
    return shutil.which("chromium")


def browser_status() -> tuple[bool, str]:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False, "playwright is not installed (make test installs the dev extras)"
    if not chromium_path():
        return False, "no chromium: run `sudo apt-get install chromium` to enable"
    return True, ""


def postgres_status() -> tuple[bool, str]:
    if os.environ.get("SHIFT_TEST_POSTGRES_URL"):
        return True, ""
    if glob.glob("/usr/lib/postgresql/*/bin/initdb") or shutil.which("initdb"):
        return True, "(a throw-away cluster is started with initdb)"
    return False, ("set SHIFT_TEST_POSTGRES_URL=postgresql://user:pw@127.0.0.1/db or "
                   "`sudo apt-get install postgresql` to enable")
