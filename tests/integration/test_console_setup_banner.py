"""The console warns on every page while the server runs without SHIFT_PUBLIC_BASE_URL
(development mode: QR codes would hold the listening address) or without SHIFT_ORG_NAME
(certificates would name "Shift Learning" as issuer), and says nothing once both are set
(issue 21 item 10)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.integration.test_admin_certificates import console_login
from tests.support.server import running_server, seed


def _banners(base: str) -> list[str]:
    with httpx.Client(base_url=base, timeout=60) as client:
        console_login(client)
        pages = [client.get(path).text for path in ("/admin/", "/admin/packs", "/admin/devices")]
    return [page.count('class="banner"') and page for page in pages]  # type: ignore[misc]


def test_banner_while_public_url_or_organisation_unset(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    seed(data, facilities={"f1": "Vilnius"})
    with running_server(data, env={"SHIFT_DEV": "1", "SHIFT_PUBLIC_BASE_URL": "",
                                   "SHIFT_ORG_NAME": ""}) as base:
        for page in _banners(base):
            assert page and "SHIFT_PUBLIC_BASE_URL is not set" in page
            assert f"point to {base}" in page and "SHIFT_ORG_NAME is not set" in page
        login = httpx.get(f"{base}/admin/login").text
        assert 'class="banner"' not in login              # only for a logged-in admin
    with running_server(data, env={"SHIFT_ORG_NAME": "Lietuvos kalėjimų tarnyba",
                                   "SHIFT_ORG_URL": "https://www.kaleejimudepartamentas.lt"}
                        ) as base:
        assert _banners(base) == [0, 0, 0]
