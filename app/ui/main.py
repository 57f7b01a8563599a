"""`python -m app [--data-dir DIR] [--host H] [--port N]` — serve the Flet app (web mode),
and :func:`open_device`, the app's one composition root.

**Composition root.** ``open_device(data_dir)`` is the one place where the parts of the
device app are wired together: the application layer's Device (app/core/application) gets
the sync client (app.sync.DeviceSyncer) as its Syncer. Nothing else in app/ picks an
implementation of a seam, and nothing is looked up by name (no importlib): the web mode
below, the ``flet build`` runtime (app/ui/native.py) and the tests all open a tablet here.

The app is served by our own uvicorn process: Flet's FastAPI app (with ``no_cdn``, the
bundled fonts and our ``app/assets/index.html`` with the offline guard, found through
package resources so an installed wheel serves its own copies) mounted at ``/``,
plus one route of ours, ``/packmedia/<pack>/<path>``, that streams images of installed
packs from the device data folder. Nothing is fetched from outside 127.0.0.1.
"""

from __future__ import annotations

import argparse
import logging
import mimetypes
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.core.application import Device
from app.core.clock import MonotonicClock, awake_or_asleep
from app.core.resources import assets_dir
from app.core.store.keys import KeyProvider, key_file_for
from app.sync import DeviceSyncer

#: Relative to the current folder, like the server's ``var/server``: a checkout keeps its
#: demo data in ./var, an installed ``shift-app`` never writes into site-packages.
DEFAULT_DATA_DIR = Path("var") / "device"
DEFAULT_PORT = 8550
log = logging.getLogger("shift.ui")


def resolve_data_dir(cli_value: str | None, env: Mapping[str, str] | None = None) -> Path:
    """--data-dir, else SHIFT_DATA_DIR, else FLET_APP_STORAGE_DATA (flet build), else
    ./var/device (absolute, resolved against the current folder)."""
    env = os.environ if env is None else env
    for value in (cli_value, env.get("SHIFT_DATA_DIR"), env.get("FLET_APP_STORAGE_DATA")):
        if value:
            return Path(value).expanduser().resolve()
    return DEFAULT_DATA_DIR.resolve()


def build_arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m app", description="Shift Learning (web mode)")
    p.add_argument("--data-dir", help="device data folder (env SHIFT_DATA_DIR)")
    p.add_argument("--host", default=os.environ.get("FLET_SERVER_IP", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("FLET_SERVER_PORT",
                                                                   DEFAULT_PORT)))
    return p


def key_provider(data_dir: str | Path, env: Mapping[str, str] | None = None,
                 secure: KeyProvider | None = None) -> KeyProvider:
    """Where the store's data key lives: the platform's secure storage when the runtime
    has one (`secure`, app/ui/secure_keys.py), else a key file — SHIFT_KEY_FILE, or
    ``<data folder>.key`` beside the data folder (docs/security.md "Encryption at rest")."""
    return secure if secure is not None else key_file_for(data_dir, env)


def open_device(data_dir: str | Path, *, clock: MonotonicClock = awake_or_asleep,
                keys: KeyProvider | None = None) -> Device:
    """THE COMPOSITION ROOT: a tablet's data folder, opened with the sync client wired in
    as its Syncer and its data key (`key_provider`) (docs/architecture.md)."""
    return Device.open(data_dir, clock, syncer=DeviceSyncer,
                       keys=key_provider(data_dir, secure=keys))


def start_background_sync(device: Device) -> bool:
    """Start the sync client's probe-and-sync loop for ``device`` (docs/sync-client.md):
    a docked tablet that reaches its server syncs by itself. True when started."""
    if not device.start_background_sync():
        log.info("sync client not installed: syncing only on request")
        return False
    return True


def shutdown(device: Device) -> None:
    """Stop background sync (waits for a running sync), then close the store."""
    device.close()


def create_asgi_app(data_dir: Path, *, background_sync: bool = True) -> Any:
    """The ASGI app: pack media route + Flet app with no_cdn (used by run_ui and tests).

    ``background_sync`` starts the sync client's background loop (stopped on shutdown)."""
    import flet_web.fastapi as flet_fastapi
    from fastapi import HTTPException
    from fastapi.responses import FileResponse

    from app.ui.gone_client import DropSendsToGoneClient, drop_flet_messages_after_close
    from app.ui.shell import make_page_main

    device = open_device(data_dir)
    if background_sync:
        start_background_sync(device)
    outer = flet_fastapi.FastAPI(on_shutdown=[lambda: shutdown(device)])

    @outer.get("/packmedia/{pack_id}/{path:path}")
    def pack_media(pack_id: str, path: str) -> FileResponse:
        file = device.content.media_file(pack_id, path)
        if file is None:
            raise HTTPException(status_code=404, detail="no such pack file")
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return FileResponse(file, media_type=media_type, headers={
            "Cache-Control": "private, max-age=3600",
            "Cross-Origin-Resource-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
            # an SVG opened directly must not run scripts in the app's origin
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                       "sandbox"})

    @outer.middleware("http")
    async def not_cross_origin_isolated(request: Any, call_next: Any) -> Any:
        """Flet's pages come cross-origin isolated (COOP + COEP), which makes Chromium
        run Flutter's *multi-threaded* skwasm renderer: its main thread busy-waits for a
        render worker, and under rapid redraws (text size / contrast changes) the two
        deadlocked — the tab spun at 100 % CPU and never answered again (issue 17,
        defect 1; docs/app.md "Rapid taps and the frozen tab"). Without COEP the page is
        not isolated and skwasm renders single-threaded on the main thread: nothing to
        deadlock, and as fast (CanvasKit, the other cure, was 2× slower here)."""
        response = await call_next(request)
        if "cross-origin-embedder-policy" in response.headers:
            del response.headers["cross-origin-embedder-policy"]
        return response

    # A browser that goes away mid-update must not leave its Flet session connected
    # forever nor log a traceback (app/ui/gone_client.py).
    drop_flet_messages_after_close()
    outer.mount("/", DropSendsToGoneClient(flet_fastapi.app(
        make_page_main(device),
        assets_dir=str(assets_dir()),
        app_name="Shift Learning",
        app_short_name="Shift",
        app_description="Offline courses and self-assessment for prison staff",
        no_cdn=True,
    )))
    outer.state.device = device
    return outer


def run_ui(argv: list[str]) -> int:
    args = build_arg_parser().parse_args(argv)
    data_dir = resolve_data_dir(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    import uvicorn

    os.environ.setdefault("FLET_WEB_NO_CDN", "1")
    app = create_asgi_app(data_dir)
    print(f"Shift Learning app: http://{args.host}:{args.port}/  (data: {data_dir})",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws="websockets-sansio")
    return 0
