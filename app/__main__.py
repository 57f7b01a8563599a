"""`python -m app` — the device program.

    python -m app [--data-dir DIR] [--port N]          the Flet UI (web mode here)
    python -m app install PACKFILE --data-dir DIR --trust PUBFILE
    python -m app sync --data-dir DIR

Sub-commands live in app/commands/<name>.py, each with `register(subparsers)` that adds
its parser and sets `func`. Only this file imports app.ui (ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import app.commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Shift Learning device app")
    sub = parser.add_subparsers(dest="command")
    for info in sorted(pkgutil.iter_modules(app.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"app.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices if parser._subparsers else None
    known = set(choices or ())
    if not argv or argv[0] not in known | {"-h", "--help"}:
        from app.ui.main import run_ui  # the only import of app.ui
        return run_ui(argv)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
