"""`python -m app install PACKFILE --data-dir DIR --trust PUBFILE` (USB side-load).

Verifies the pack against the trusted keys and installs it (docs/pack-format.md §3–4).
Exit 0 with one line saying what is live now, or exit 1 with one line saying why not;
a refused pack leaves the installed version untouched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.core.errors import ShiftError
from app.core.packs import TrustedKeys, install_pack


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("install", help="verify and install a .pack file into a device data folder")
    p.add_argument("packfile")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--trust", action="append", required=True, help="trusted public key file (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        trusted = TrustedKeys.from_files(args.trust)
        pack = install_pack(Path(args.packfile), Path(args.data_dir), trusted)
    except ShiftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {args.packfile}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"installed {pack.id} version {pack.version} into {args.data_dir}")
    return 0
