"""The device app under Flet's own runtime: ``flet build apk|windows|web`` bundles.

``flet build`` packages a project whose entry module calls ``run_device_app`` of
app/__main__.py, which lands here (tools/flet_project.py writes that project; see
docs/deployment.md). Differences from the web mode of app/ui/main.py:

* the data folder comes from ``FLET_APP_STORAGE_DATA``, the app's private storage that
  the Flet host sets on Android, Windows and in the browser (``SHIFT_DATA_DIR`` and
  ``./var/device`` as in web mode when it is not set);
* there is no ``/packmedia`` route: lesson images reach the client as bytes;
* the fonts are the ``assets/`` of the built project (Flutter bundles them);
* in a browser build (Pyodide) Python has no threads, so there is no background sync
  loop there (and no sockets either: such a build is a stand-alone, offline device).

With ``FLET_FORCE_WEB_SERVER=1`` (and ``FLET_SERVER_PORT``) Flet serves the same app
over HTTP instead of opening a window: that is how the tests run this entry point.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import flet as ft
from flet.utils import is_android, is_ios

from app.core.application import Device
from app.core.resources import assets_dir as package_assets_dir
from app.core.store.keys import KeyProvider
from app.ui.main import open_device, resolve_data_dir, shutdown, start_background_sync
from app.ui.secure_keys import secure_storage_keys
from app.ui.shell import make_page_main

log = logging.getLogger("shift.ui")


def threads_available() -> bool:
    """False in a Pyodide (``flet build web``) bundle: no threads for background sync."""
    return sys.platform != "emscripten"


def run_native(assets_dir: Path | None = None) -> None:
    """Open the device store and run the app until the Flet host closes it.

    On Android and iOS the store's data key is in the platform's secure storage, which
    only a page can reach (app/ui/secure_keys.py): the store is opened by the first page.
    Elsewhere (desktop, browser build, the tests' web mode) the key is a key file and the
    store is opened before the app starts serving.

    ``assets_dir``: the folder with ``fonts/`` that ``flet build`` bundled (next to the
    entry module); default: the package's own ``app/assets``."""
    data_dir = resolve_data_dir(None)
    data_dir.mkdir(parents=True, exist_ok=True)
    opened: list[Device] = []

    def start(keys: KeyProvider | None) -> Device:
        opened.append(open_device(data_dir, keys=keys))
        log.info("device data folder: %s (key: %s)", data_dir,
                 "secure storage" if keys is not None else "key file")
        if threads_available():
            start_background_sync(opened[0])
        return opened[0]

    async def main(page: ft.Page) -> None:
        device = opened[0] if opened else start(await secure_storage_keys(page))
        await make_page_main(device, media_route=False)(page)

    try:
        if not mobile_runtime():
            start(None)
        folder = assets_dir if assets_dir is not None and assets_dir.is_dir() \
            else package_assets_dir()
        ft.run(main, assets_dir=str(folder), no_cdn=True)
    finally:
        if opened:
            shutdown(opened[0])


def mobile_runtime() -> bool:
    """True inside a ``flet build apk|ipa`` app (Flet sets FLET_PLATFORM there)."""
    return bool(is_android() or is_ios())
