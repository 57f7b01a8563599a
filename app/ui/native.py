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

from app.core.resources import assets_dir as package_assets_dir
from app.ui.main import open_device, resolve_data_dir, shutdown, start_background_sync
from app.ui.shell import make_page_main

log = logging.getLogger("shift.ui")


def threads_available() -> bool:
    """False in a Pyodide (``flet build web``) bundle: no threads for background sync."""
    return sys.platform != "emscripten"


def run_native(assets_dir: Path | None = None) -> None:
    """Open the device store and run the app until the Flet host closes it.

    ``assets_dir``: the folder with ``fonts/`` that ``flet build`` bundled (next to the
    entry module); default: the package's own ``app/assets``."""
    data_dir = resolve_data_dir(None)
    data_dir.mkdir(parents=True, exist_ok=True)
    device = open_device(data_dir)
    log.info("device data folder: %s", data_dir)
    try:
        if threads_available():
            start_background_sync(device)
        folder = assets_dir if assets_dir is not None and assets_dir.is_dir() \
            else package_assets_dir()
        ft.run(make_page_main(device, media_route=False), assets_dir=str(folder), no_cdn=True)
    finally:
        shutdown(device)
