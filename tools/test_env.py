"""Say, before the suite runs, which optional test groups will run and how to enable
the ones that will be skipped (browser: Debian's chromium; PostgreSQL: a server)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.optional import browser_status, postgres_status  # noqa: E402


def main() -> None:
    for name, (ok, why) in (("browser (e2e)", browser_status()),
                            ("PostgreSQL", postgres_status())):
        print(f"[test-env] {name}: {'will run' if ok else 'SKIPPED — ' + why}")


if __name__ == "__main__":
    main()
