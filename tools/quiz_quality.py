"""Quiz quality figures of pack sources — a thin wrapper around the builder's checks
(app/core/packs/quality.py, the rules of docs/authoring.md §4).

    python -m tools.quiz_quality content_packs/promote-core [more sources…]

prints, per course quiz and language, the share of choice items whose correct option is
the longest and the worst option length ratio, then every finding as
``file:line [field]: message [rule …]``; exits with 1 when a rule is broken (as
``pack build --strict`` does).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.packs import read_source  # noqa: E402
from app.core.packs.quality import source_quality  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path, help="pack source folders")
    args = parser.parse_args(argv)
    failed = False
    for src in args.sources:
        source = read_source(src)
        report = source_quality(source)
        print(f"== {source.id} (version {source.version})")
        for fig in report.figures:
            print("  " + fig.summary())
        for finding in report.findings:
            failed = True
            print(f"    {finding}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
