"""Helpers shared by the server CLI commands in sync_server/commands/."""

from __future__ import annotations

import argparse

from sync_server.db import Repository, open_repository
from sync_server.settings import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=getattr(args, "data_dir", None),
                             database_url=getattr(args, "database_url", None))


def open_repo(args: argparse.Namespace) -> Repository:
    settings = settings_from(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return open_repository(settings.effective_database_url, pool_size=2)


def add_db_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="default: $SHIFT_DATA_DIR or var/server")
    p.add_argument("--database-url", default=None,
                   help="default: $SHIFT_DATABASE_URL or the SQLite file in the data folder")
