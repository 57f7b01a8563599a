"""Backup and restore of a sync server: database, signing key, trusted keys and packs.

    create_backup(settings, out, *, overwrite=False, keep=None, on_snapshot=None)
    check_backup(path) -> Manifest
    restore_backup(settings, path, *, force=False) -> RestoreSummary

One ZIP archive in a portable format (archive.py) for SQLite and PostgreSQL alike, so a
backup of either restores into either. Consistent while the server serves (create.py);
a restore is all or nothing (restore.py). Operators: docs/deployment.md.
"""

from sync_server.backup.archive import BackupArchive, Manifest
from sync_server.backup.create import BackupSummary, create_backup
from sync_server.backup.restore import RestoreSummary, check_backup, restore_backup

__all__ = ["BackupArchive", "BackupSummary", "Manifest", "RestoreSummary", "check_backup",
           "create_backup", "restore_backup"]
