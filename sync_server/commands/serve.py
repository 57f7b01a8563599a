"""`python -m sync_server serve [--host 127.0.0.1] [--port 8700] [--data-dir var/server]`.

Start-up refuses (exit 1, one line on stderr, nothing created) when the configuration is
unsafe: no SHIFT_PUBLIC_BASE_URL outside development mode (SHIFT_DEV=1), or a malformed
SHIFT_* value. Proxy headers (X-Forwarded-For / -Proto) are believed only from the peers
in SHIFT_TRUSTED_PROXIES (default: none); uvicorn's own default (trust 127.0.0.1) is
never used.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync_server.settings import Settings


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


def listen_url(host: str, port: int) -> str:
    """``http://host:port`` of a listen address; a wildcard address becomes 127.0.0.1."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}"
    if address.is_unspecified:
        return f"http://127.0.0.1:{port}"
    return f"http://[{address}]:{port}" if address.version == 6 else f"http://{address}:{port}"


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """uvicorn keyword arguments; proxy headers only from the configured proxies."""
    trusted = list(settings.trusted_proxies)
    return dict(host=host, port=port, log_config=None, access_log=False,
                proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
                server_header=False, timeout_graceful_shutdown=10)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from sync_server.logs import configure_logging, log
    from sync_server.settings import DEFAULTED_ENV, Settings

    if args.data_dir is not None:
        os.environ["SHIFT_DATA_DIR"] = str(args.data_dir)
    if args.database_url:
        os.environ["SHIFT_DATABASE_URL"] = args.database_url
    settings = Settings.from_env()
    if settings.development and settings.public_base_url is None:
        base = listen_url(args.host, args.port)
        settings = settings.with_(public_base_url=base, public_base_url_defaulted=True)
        os.environ["SHIFT_PUBLIC_BASE_URL"] = base  # for the --workers processes
        os.environ[DEFAULTED_ENV] = "1"
    settings.require_public_base_url()   # before anything is created or bound
    configure_logging(settings.log_level)
    logger = logging.getLogger("sync_server")
    log(logger, logging.INFO, "configuration", public_base_url=settings.public_base_url,
        development=settings.development, trusted_proxies=list(settings.trusted_proxies))
    if settings.development:
        log(logger, logging.WARNING, "development mode (SHIFT_DEV): not for a real deployment",
            public_base_url=settings.public_base_url)
    common = uvicorn_options(settings, args.host, args.port)
    if args.workers > 1:
        uvicorn.run("sync_server.app:create_worker_app", factory=True, workers=args.workers, **common)
    else:
        from sync_server.app import create_app
        uvicorn.run(create_app(settings), **common)
    return 0
