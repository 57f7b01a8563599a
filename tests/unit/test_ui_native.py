"""The device app under Flet's own runtime (`flet build` bundles, app/ui/native.py):
lesson images travel as bytes because there is no /packmedia route there."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import flet as ft
import pytest

from app.core.application import Device
from app.ui import routes, screens
from app.ui.ctx import ViewContext
from app.ui.native import threads_available
from app.ui.shell import PageController
from tests.e2e.ui_fixtures import ManualClock, make_device, signed_in, walk


@pytest.fixture
def device(tmp_path: Path) -> Device:
    return make_device(tmp_path, ManualClock())


def lesson_images(device: Device, media_route: bool) -> list[ft.Image]:
    controller = PageController(SimpleNamespace(route="/"), device,  # type: ignore[arg-type]
                                media_route=media_route)
    session = signed_in(device)
    ctx = ViewContext(session, go=lambda _p: None, refresh=lambda: None, media=controller.media)
    view = screens.build(ctx, routes.resolve("/lesson/ui-demo/safety/01-notice/1", True))
    return [c for c in walk(view) if isinstance(c, ft.Image)]


def test_native_runtime_sends_the_image_file_bytes(device: Device) -> None:
    (image,) = lesson_images(device, media_route=False)
    file = device.content.media_file("ui-demo", "media/safety/ladder.png")
    assert file is not None
    assert isinstance(image.src, bytes) and image.src == file.read_bytes()
    assert image.src.startswith(b"\x89PNG")
    assert image.semantics_label == "A ladder of steps from calm to crisis"


def test_web_server_keeps_the_packmedia_url(device: Device) -> None:
    (image,) = lesson_images(device, media_route=True)
    assert image.src == "/packmedia/ui-demo/media/safety/ladder.png"


@pytest.mark.parametrize("pack, path", [
    ("ui-demo", "media/../store/settings.json"),
    ("ui-demo", "lessons/safety/01-notice.en.json"),
    ("../ui-demo", "media/safety/ladder.png"),
    ("ui-demo", "media/safety/none.png"),
    ("nope", "media/x.png"),
])
def test_native_media_refuses_what_the_route_refuses(device: Device, pack: str, path: str) -> None:
    controller = PageController(SimpleNamespace(route="/"), device,  # type: ignore[arg-type]
                                media_route=False)
    assert controller.media_bytes(pack, path) == ""


def test_background_sync_needs_threads() -> None:
    assert threads_available()   # CPython here; False only under Pyodide (flet build web)
