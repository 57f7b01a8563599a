"""The organisation's logo on a real server (issue 21 item 10): `GET /issuer/logo` serves
it (ETag, 304), the issuer Profile names it as its image, the public verify page shows
it; a server with a bad SHIFT_ORG_LOGO does not start and says why."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, running_server
from tests.unit.test_org_logo import image_file


def test_the_logo_is_served_named_and_shown(tmp_path: Path) -> None:
    logo = image_file(tmp_path / "logo.png", (480, 160))
    with running_server(tmp_path / "srv", env={"SHIFT_ORG_LOGO": str(logo),
                                               "SHIFT_ORG_NAME": "Prison Service"}) as url:
        r = httpx.get(f"{url}/issuer/logo")
        assert r.status_code == 200 and r.content == logo.read_bytes()
        assert r.headers["content-type"] == "image/png"
        assert r.headers["x-content-type-options"] == "nosniff"
        again = httpx.get(f"{url}/issuer/logo", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        profile = httpx.get(f"{url}/issuer").json()
        assert profile["image"] == {"id": f"{url}/issuer/logo", "type": "Image"}
        page = httpx.get(f"{url}/verify/{uuid.uuid4()}", headers={"Accept": "text/html"})
        assert '<img src="/issuer/logo" alt="Prison Service">' in page.text


def test_without_a_logo_nothing_is_claimed(tmp_path: Path) -> None:
    with running_server(tmp_path / "srv") as url:
        assert httpx.get(f"{url}/issuer/logo").status_code == 404
        assert "image" not in httpx.get(f"{url}/issuer").json()
        page = httpx.get(f"{url}/verify/{uuid.uuid4()}", headers={"Accept": "text/html"})
        assert "/issuer/logo" not in page.text


def test_a_bad_logo_stops_the_server_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "logo.png"
    bad.write_text("<svg/>")
    server = ServerProcess(tmp_path / "srv", env={"SHIFT_ORG_LOGO": str(bad)})
    with pytest.raises(RuntimeError):
        server.start()
    server.stop()
    assert "SHIFT_ORG_LOGO=" in server.log_path.read_text() \
        and "not a PNG or JPEG" in server.log_path.read_text()
