"""Helpers shared by the server CLI commands in sync_server/commands/."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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


@contextmanager
def repository(args: argparse.Namespace) -> Iterator[Repository]:
    """The repository named by the command's options, closed afterwards."""
    repo = open_repo(args)
    try:
        yield repo
    finally:
        repo.close()


def command_group(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
                  help_text: str, dest: str, run: Callable[[argparse.Namespace], int],
                  ) -> Callable[[str, str], argparse.ArgumentParser]:
    """Add `name` with sub-commands (their name lands in `args.<dest>`); returns
    `add(sub_name, help)`, which makes a sub-command with the database options that runs
    `run`."""
    group = sub.add_parser(name, help=help_text).add_subparsers(dest=dest, required=True)

    def add(sub_name: str, sub_help: str) -> argparse.ArgumentParser:
        parser = group.add_parser(sub_name, help=sub_help)
        add_db_options(parser)
        parser.set_defaults(func=run)
        return parser

    return add
