"""`python -m app install PACKFILE --data-dir DIR --trust PUBFILE` (USB side-load)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("install", help="verify and install a .pack file into a device data folder")
    p.add_argument("packfile")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--trust", action="append", required=True, help="trusted public key file (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("pack installer lands with issue 2")
