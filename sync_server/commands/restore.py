"""`python -m sync_server restore IN [--force] [--check]` — restore a backup written by
`backup` into an empty data folder and database, all or nothing (sync_server/backup,
docs/deployment.md §Backup and restore). `--check` only reads and verifies the archive.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sync_server.cli_support import add_db_options, settings_from


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("restore", help="restore a backup into an empty data folder / database")
    p.add_argument("archive", type=Path, help="backup file written by `backup`")
    p.add_argument("--force", action="store_true",
                   help="replace the database, keys and pack files already there "
                        "(stop the server first)")
    p.add_argument("--check", action="store_true",
                   help="only verify the archive (every checksum); change nothing")
    add_db_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sync_server.backup import check_backup, restore_backup

    if args.check:
        m = check_backup(args.archive)
        rows = {e.table.name: e.rows for e in m.tables}
        print(f"{args.archive}: a complete backup, every checksum verified")
        print(f"  taken {m.created_at} by server {m.server_version} from {m.dialect}, schema "
              f"{m.schema_version}; signing key {m.key_id}")
        print(f"  {rows.get('events', 0)} events, {rows.get('certificates', 0)} certificates, "
              f"{rows.get('learners', 0)} learners, {rows.get('devices', 0)} devices, "
              f"{rows.get('packs', 0)} pack versions, {len(m.blobs)} pack files")
        return 0
    summary = restore_backup(settings_from(args), args.archive, force=args.force)
    print("\n".join(summary.lines()))
    return 0
