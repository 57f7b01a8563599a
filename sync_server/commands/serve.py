"""`python -m sync_server serve [--host 127.0.0.1] [--port 8700] [--data-dir var/server]`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run the sync server (uvicorn)")
    p.add_argument("--host", default=os.environ.get("SHIFT_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("SHIFT_PORT", "8700")))
    p.add_argument("--data-dir", type=Path, default=None,
                   help="data folder (default: $SHIFT_DATA_DIR or var/server)")
    p.add_argument("--database-url", default=None,
                   help="default: $SHIFT_DATABASE_URL or the SQLite file in the data folder")
    p.add_argument("--workers", type=int, default=1,
                   help="uvicorn worker processes (use PostgreSQL or SQLite WAL; default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from sync_server.logs import configure_logging
    from sync_server.settings import Settings

    if args.data_dir is not None:
        os.environ["SHIFT_DATA_DIR"] = str(args.data_dir)
    if args.database_url:
        os.environ["SHIFT_DATABASE_URL"] = args.database_url
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    common = dict(host=args.host, port=args.port, log_config=None, access_log=False,
                  proxy_headers=True, timeout_graceful_shutdown=10)
    if args.workers > 1:
        uvicorn.run("sync_server.app:create_worker_app", factory=True, workers=args.workers, **common)
    else:
        from sync_server.app import create_app
        uvicorn.run(create_app(settings), **common)
    return 0
