"""`python -m app` — the device program.

    python -m app [--data-dir DIR] [--port N]          the Flet UI (web mode here)
    python -m app install PACKFILE --data-dir DIR --trust PUBFILE
    python -m app sync --data-dir DIR

Sub-commands live in app/commands/<name>.py, each with `register(subparsers)` that adds
its parser and sets `func`; COMMANDS below lists them (imported, never looked up by name).
Only this file and app.ui import app.ui (ARCHITECTURE.md); the app's parts are wired
together in app/ui/main.py ``open_device`` (the composition root).

`run_device_app()` is the entry of `flet build` bundles (Android, Windows, browser): the
entry module that tools/flet_project.py writes calls it (app/ui/native.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from app.commands import install, sync

#: Every sub-command module's `register(subparsers)`, in the order `--help` lists them.
COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (  # type: ignore[type-arg]
    install.register, sync.register)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Shift Learning device app")
    sub = parser.add_subparsers(dest="command")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices if parser._subparsers else None
    known = set(choices or ())
    if not argv or argv[0] not in known | {"-h", "--help"}:
        from app.ui.main import run_ui  # app.ui is imported only here and in run_device_app
        return run_ui(argv)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def run_device_app(assets_dir: Path | None = None) -> None:
    """The device app under Flet's own runtime; the data folder is the Flet host's
    ``FLET_APP_STORAGE_DATA`` (see app/ui/native.py)."""
    from app.ui.native import run_native
    run_native(assets_dir)


if __name__ == "__main__":
    sys.exit(main())
