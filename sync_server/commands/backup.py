"""`python -m sync_server backup OUT [--keep N] [--force]` — a consistent backup while
the server serves: database, signing key, trusted keys and pack files in one archive
(sync_server/backup, docs/deployment.md §Backup and restore).

OUT is a file, or a folder: then a new `shift-backup-<UTC time>.zip` is written in it,
and `--keep N` removes all but the newest N such files there (for cron / systemd timers).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sync_server.cli_support import add_db_options, settings_from


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("backup", help="write a backup (consistent while the server runs)")
    p.add_argument("out", type=Path,
                   help="backup file to write, or a folder for a time-stamped file")
    p.add_argument("--keep", type=int, default=None, metavar="N",
                   help="with a folder: keep only the newest N backups in it")
    p.add_argument("--force", action="store_true", help="replace an existing backup file")
    add_db_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sync_server.backup import create_backup
    from sync_server.errors import BackupError

    if args.keep is not None and args.keep < 1:
        raise BackupError("--keep: expected a number >= 1")
    if args.keep is not None and not args.out.is_dir():
        raise BackupError(f"--keep: {args.out} is not a folder (--keep needs a backup folder)")
    summary = create_backup(settings_from(args), args.out, overwrite=args.force, keep=args.keep)
    print("\n".join(summary.lines()))
    return 0
