""""Installed on devices" (issue 21 item 7) on a real server: a tablet is out of date only
against the newest version published to *its* facility; revoked tablets leave the grid
for a separate list; times are labelled UTC."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.integration.test_admin_certificates import console_login, page_csrf, zipped_source
from tests.integration.test_admin_console_flows import source_zip_with
from tests.support.server import admin_token, bearer, enrol_device, running_server, seed


def _publish(base: str, token: str, version: int, facilities: list[str]) -> None:
    r = httpx.post(f"{base}/api/v1/admin/packs/promote-sample/publish", headers=bearer(token),
                   json={"version": version, "facilities": facilities, "roles": []})
    assert r.status_code == 201, r.text


def test_out_of_date_is_judged_per_facility_and_revoked_tablets_are_apart(
        tmp_path: Path) -> None:
    data = tmp_path / "srv"
    seed(data, facilities={"vil": "Vilnius", "ias": "Iasi"})
    with running_server(data) as base, httpx.Client(base_url=base, timeout=60) as client:
        console_login(client)
        token = admin_token(base)
        for source in (zipped_source(), source_zip_with(tmp_path, {"pack.toml": (
                "version = 1", "version = 2")})):
            r = httpx.post(f"{base}/api/v1/admin/packs/upload/source", content=source,
                           headers={**bearer(token), "Content-Type": "application/octet-stream"},
                           timeout=60)
            assert r.status_code == 201, r.text
        _publish(base, token, 1, ["vil", "ias"])
        _publish(base, token, 2, ["vil"])               # Iasi keeps v1
        tabs = {name: enrol_device(base, token, facility, name)
                for name, facility in (("tab-vil-old", "vil"), ("tab-ias", "ias"),
                                       ("tab-vil-gone", "vil"))}
        for tab in tabs.values():
            httpx.post(f"{base}/api/v1/sync/pull", headers=tab.headers,
                       json={"installed_packs": {"promote-sample": 1}})
        r = client.post("/admin/devices/tab-vil-gone/revoke",
                        data={"csrf": page_csrf(client, "/admin/devices")})
        assert r.status_code == 303
        page = client.get("/admin/packs").text
        grid = page[page.index('id="installed"'):]
        grid_table = grid[:grid.index("</table>")]
        rows = {facility: cells for _, facility, cells in re.findall(
            r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>[0-9-]+ [0-9:]+</td>(.*?)</tr>",
            grid_table, re.S)}
        # Vilnius got v2: its v1 tablet is out of date; Iasi only ever got v1: up to date
        assert rows["Vilnius"].strip() == \
            '<td class="stale" title="v2 is published to this facility">1 → 2</td>'
        assert rows["Iasi"].strip() == '<td class="">1</td>'
        assert "Last report (UTC)" in grid
        # the revoked tablet is not in the grid but in its own list
        assert grid_table.count("<tr><td>") == 2
        assert re.search(r"Revoked devices \(1\)</summary>\s*<ul><li>[^<]+ · Vilnius · last report "
                         r"[0-9-]+ [0-9:]+ UTC</li>", grid)
        devices_page = client.get("/admin/devices").text
        assert "Enrolled (UTC)" in devices_page and "Last seen (UTC)" in devices_page
