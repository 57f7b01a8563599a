"""The app's HTTP side on a real uvicorn on 127.0.0.1: offline page, pack media route
(hostile paths refused), data-dir resolution."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.resources import assets_dir
from app.ui.main import DEFAULT_DATA_DIR, resolve_data_dir
from tests.e2e.ui_harness import AppServer, install_fixture_packs, start_app

CDN_HOSTS = ("jsdelivr", "gstatic", "googleapis", "unpkg", "cdnjs")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    work = tmp_path_factory.mktemp("ui-server")
    install_fixture_packs(work / "device", work)
    srv = start_app(work / "device", work / "app.log")
    yield srv
    srv.stop()


def test_index_is_ours_offline_and_names_no_cdn(server: AppServer) -> None:
    page = httpx.get(server.url).text
    assert "shift-offline-guard" in page and "<title>Shift Learning</title>" in page
    assert "flet.noCdn=true" in page
    assert not any(host in page for host in CDN_HOSTS)
    font = httpx.get(server.url + "fonts/DejaVuSans.ttf")
    assert font.status_code == 200 and len(font.content) > 500_000


def test_pages_are_not_cross_origin_isolated(server: AppServer) -> None:
    """No COEP header: an isolated page makes Chromium run Flutter's multi-threaded skwasm
    renderer, which deadlocked under rapid redraws (issue 17, defect 1; docs/app.md)."""
    for path in ("", "settings", "flutter_bootstrap.js", "fonts/DejaVuSans.ttf"):
        response = httpx.get(server.url + path)
        assert response.status_code == 200, path
        assert "cross-origin-embedder-policy" not in response.headers, path
        assert response.headers.get("cross-origin-opener-policy") == "same-origin", path


def test_pack_media_route(server: AppServer) -> None:
    ok = httpx.get(server.url + "packmedia/ui-demo/media/safety/ladder.png")
    assert ok.status_code == 200 and ok.content.startswith(b"\x89PNG")
    assert ok.headers["content-type"] == "image/png"
    for path in ("packmedia/ui-demo/media/../../store/settings.json",
                 "packmedia/ui-demo/media/%2e%2e/%2e%2e/store/settings.json",
                 "packmedia/ui-demo/lessons/safety/01-notice.en.json",
                 "packmedia/..%2f..%2fetc/passwd", "packmedia/nope/media/x.png",
                 "packmedia/ui-demo/media/safety/none.png", "packmedia/UI-DEMO/media/x.png"):
        r = httpx.get(server.url + path)
        assert r.status_code == 404 or b"\x89PNG" not in r.content, path
        assert b'"settings"' not in r.content and b"root:" not in r.content, path


def test_offline_guard_block_matches_flets_index() -> None:
    """app/assets/index.html is Flet's page plus our guard block; when Flet changes its page
    this test says so (docs/app.md explains how to re-create the file)."""
    import flet_web

    ours = (assets_dir() / "index.html").read_text(encoding="utf-8")
    flets = (Path(flet_web.__file__).parent / "web" / "index.html").read_text(encoding="utf-8")
    start = ours.index("<!-- shift-offline-guard:start -->")
    end = ours.index("<!-- shift-offline-guard:end -->") + len("<!-- shift-offline-guard:end -->")
    stripped = (ours[:start] + ours[end:]).replace("\n\n  <!-- fletAppConfig -->",
                                                   "<!-- fletAppConfig -->")
    stripped = stripped.replace("<title>Shift Learning</title>", "<title>Flet</title>")
    stripped = stripped.replace(
        'content="Shift Learning: offline courses and self-assessment for prison staff."',
        'content="Flet application."')
    assert stripped == flets


def test_data_dir_resolution(tmp_path: Path) -> None:
    # the default is ./var/device of the current folder (never inside site-packages)
    assert resolve_data_dir(None, {}) == (Path.cwd() / DEFAULT_DATA_DIR).resolve()
    assert resolve_data_dir(None, {"FLET_APP_STORAGE_DATA": str(tmp_path / "f")}) == \
        tmp_path / "f"
    assert resolve_data_dir(None, {"SHIFT_DATA_DIR": str(tmp_path / "s"),
                                   "FLET_APP_STORAGE_DATA": str(tmp_path / "f")}) == tmp_path / "s"
    assert resolve_data_dir(str(tmp_path / "c"), {"SHIFT_DATA_DIR": "x"}) == tmp_path / "c"
