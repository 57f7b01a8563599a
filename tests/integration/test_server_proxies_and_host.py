"""What a request's headers may decide, on a real uvicorn server (issue 13, rows 8 and 9).

Row 8: X-Forwarded-For / X-Forwarded-Proto are believed only from a peer listed in
SHIFT_TRUSTED_PROXIES (default: none), so the per-address admin login lock-out counts the
real peer and cannot be aimed at someone else's address.

Row 9: every absolute URL the server writes (certificate issuer / verify URL / QR, xAPI
IRIs, enrolment QR, page links) comes from SHIFT_PUBLIC_BASE_URL; `Host: evil.example`
changes nothing. Outside development mode the server refuses to start without it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import segno

from app.core.events import format_at
from sync_server.admin.pages_people import enrol_qr_payload
from sync_server.services.login_throttle import MAX_FAILURES
from tests.integration.test_admin_certificates import console_login, page_csrf, upload_and_publish
from tests.support.learner_work import server_manifest, study
from tests.support.server import (
    ROOT,
    admin_token,
    bearer,
    enrol_device,
    free_port,
    make_profile,
    open_repo,
    running_server,
    seed,
)

PUBLIC = "https://learning.example.org"
EVIL = {"Host": "evil.example"}
ADDRESS_LIMIT = 4 * MAX_FAILURES   # failed logins from one address before it waits


# ----------------------------------------------------------------------------- start-up

def serve_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFT_")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def run_serve(data: Path, port: int, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`serve` expected to refuse at once; the timeout only guards against a hang."""
    return subprocess.run([sys.executable, "-m", "sync_server", "serve", "--host", "127.0.0.1",
                           "--port", str(port), "--data-dir", str(data)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_serve_refuses_to_start_without_a_public_base_url(tmp_path: Path) -> None:
    data, port = tmp_path / "srv", free_port()
    done = run_serve(data, port, serve_env())
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr                       # one clear line, no traceback
    assert "SHIFT_PUBLIC_BASE_URL" in lines[0] and "SHIFT_DEV=1" in lines[0]
    assert not data.exists()                                  # nothing was created …
    assert port_is_free(port)                                 # … and nothing listens


@pytest.mark.parametrize(("name", "value", "why"), [
    ("SHIFT_PUBLIC_BASE_URL", "learning.example.org", "http(s)://"),
    ("SHIFT_PUBLIC_BASE_URL", "ftp://learning.example.org", "http(s)://"),
    ("SHIFT_PUBLIC_BASE_URL", "https://user:pw@learning.example.org", "plain base URL"),
    ("SHIFT_PUBLIC_BASE_URL", "https://learning.example.org/?next=x", "plain base URL"),
    ("SHIFT_PUBLIC_BASE_URL", "https://learning.example.org:99999", "not a URL"),
    ("SHIFT_TRUSTED_PROXIES", "proxy.internal", "'proxy.internal' is not an IP"),
    ("SHIFT_TRUSTED_PROXIES", "*", "'*' is not an IP"),
    ("SHIFT_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/33", "'10.0.0.0/33' is not an IP"),
    ("SHIFT_DEV", "maybe", "expected 1 or 0"),
])
def test_serve_refuses_a_malformed_setting(tmp_path: Path, name: str, value: str, why: str) -> None:
    data, port = tmp_path / "srv", free_port()
    env = serve_env(**{"SHIFT_PUBLIC_BASE_URL": PUBLIC, name: value})
    done = run_serve(data, port, env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"error: {name}: ") and why in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not data.exists() and port_is_free(port)


def test_development_mode_starts_with_its_listen_address_as_public_url(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    seed(data)
    with running_server(data, env={"SHIFT_PUBLIC_BASE_URL": "", "SHIFT_DEV": "1"}) as base:
        token = admin_token(base)
        r = httpx.post(f"{base}/api/v1/admin/enrol-codes", headers={**bearer(token), **EVIL},
                       json={"facility_id": "nowhere"})
        assert r.status_code in (404, 422)                    # the server runs; Host ignored
    log = (data / "server.log").read_text()
    assert '"development mode (SHIFT_DEV): not for a real deployment"' in log
    assert f'"public_base_url": "{base}"' in log


# ----------------------------------------------------------------------------- row 8

def failures(data: Path, key: str) -> int:
    repo = open_repo(data)
    try:
        return repo.count_login_failures(key, format_at(datetime.now(UTC) - timedelta(hours=1)))
    finally:
        repo.close()


def login(base: str, name: str, password: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/admin/login", json={"name": name, "password": password},
                      headers=headers)


def test_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    """No SHIFT_TRUSTED_PROXIES: a client cannot pick the address its failures count
    against, neither to escape the limit nor to lock somebody else out."""
    data = tmp_path / "srv"
    seed(data)
    with running_server(data) as base:
        for i in range(ADDRESS_LIMIT):  # spraying names, each try "from" another address
            r = login(base, f"guess-{i}", "wrong password",
                      **{"X-Forwarded-For": f"198.51.100.{i + 1}"})
            assert r.status_code == 401, r.text
        blocked = login(base, "guess-last", "wrong", **{"X-Forwarded-For": "203.0.113.200"})
        assert blocked.status_code == 429 and "address" in blocked.json()["detail"]
        assert failures(data, "addr:127.0.0.1") == ADDRESS_LIMIT  # the real peer
        assert all(failures(data, f"addr:198.51.100.{i + 1}") == 0 for i in range(ADDRESS_LIMIT))
        # nothing else changed: the admin's own name has no failures counted
        assert failures(data, "name:admin") == 0


def test_forwarded_proto_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    """The scheme is the real one too: `X-Forwarded-Proto: https` from a peer that is
    not a trusted proxy does not make the console's session cookie Secure-only."""
    data = tmp_path / "srv"
    seed(data)
    with running_server(data) as base, \
            httpx.Client(base_url=base, headers={"X-Forwarded-Proto": "https"}) as client:
        console_login(client)
        cookie = next(c for c in client.cookies.jar if c.name == "shift_admin")
        assert not cookie.secure


def test_forwarded_for_from_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    """SHIFT_TRUSTED_PROXIES=127.0.0.1 (nginx on the same host): the address is the one
    the proxy saw; what a client wrote into X-Forwarded-For itself (left of it) is not
    believed, so an attacker at 203.0.113.66 cannot lock out the admin at 198.51.100.7."""
    data = tmp_path / "srv"
    seed(data)
    env = {"SHIFT_TRUSTED_PROXIES": "127.0.0.1, ::1"}
    with running_server(data, env=env) as base:
        attacker, victim = "203.0.113.66", "198.51.100.7"
        for i in range(ADDRESS_LIMIT):
            # the proxy appends the peer it saw ($proxy_add_x_forwarded_for) or, as in
            # docs/deployment.md, overwrites with it ($remote_addr): both name the attacker
            xff = f"{victim}, {attacker}" if i % 2 else attacker
            assert login(base, f"guess-{i}", "wrong", **{"X-Forwarded-For": xff}).status_code == 401
        assert login(base, "x", "y", **{"X-Forwarded-For": attacker}).status_code == 429
        assert failures(data, f"addr:{attacker}") == ADDRESS_LIMIT
        assert failures(data, f"addr:{victim}") == failures(data, "addr:127.0.0.1") == 0
        ok = login(base, "admin", "correct horse battery", **{"X-Forwarded-For": victim})
        assert ok.status_code == 200                     # the real admin is not locked out
        with httpx.Client(base_url=base, headers={"X-Forwarded-For": victim,
                                                  "X-Forwarded-Proto": "https"}) as client:
            page = client.get("/admin/login")
            csrf = re.findall(r'name="csrf" value="([^"]+)"', page.text)[0]
            r = client.post("/admin/login", data={"csrf": csrf, "name": "admin",
                                                  "password": "correct horse battery"})
            assert r.status_code == 303
            assert "secure" in r.headers["set-cookie"].lower()  # the proxy said https


# ----------------------------------------------------------------------------- row 9

def earn_certificate(base: str, token: str) -> tuple[str, dict]:
    """A learner of facility f1 completes a course, as in test_admin_certificates; every
    request carries `Host: evil.example`. Returns (certificate id, device headers)."""
    pack = upload_and_publish(base, token, ["f1"])
    device = enrol_device(base, token, "f1", "tab-host")
    learner = make_profile("LT-HOST", name="Rasa Host")
    manifest = server_manifest(base, device.headers, pack["id"], pack["version"])
    work = study(manifest, learner["id"], "boundaries", device="tab-host")
    r = httpx.post(f"{base}/api/v1/sync/push", headers={**device.headers, **EVIL},
                   json={"profiles": [learner], "events": work})
    assert r.status_code == 200 and r.json()["stored"] == [e["id"] for e in work], r.text
    listed = httpx.get(f"{base}/api/v1/admin/certificates", headers={**bearer(token), **EVIL})
    assert len(listed.json()) == 1, listed.text
    return listed.json()[0]["id"], device.headers


def pdf_text(pdf: bytes, folder: Path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed: the PDF text is not checked")
    path = folder / "c.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_host_header_never_reaches_an_absolute_url(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    seed(data, facilities={"f1": "Vilnius"})
    with running_server(data, env={"SHIFT_PUBLIC_BASE_URL": PUBLIC + "/"}) as base:
        token = admin_token(base)
        cid, device_headers = earn_certificate(base, token)

        # the certificate: issuer, achievement and verify URLs, as stored and as pulled
        credential = httpx.get(f"{base}/certificates/{cid}.json", headers=EVIL).json()
        text = json.dumps(credential)
        assert "evil.example" not in text and "127.0.0.1" not in text
        assert credential["issuer"]["id"].startswith("did:key:")   # no URL to spoof
        assert credential["credentialStatus"]["statusListCredential"].startswith(
            f"{PUBLIC}/status/")
        assert credential["credentialSubject"]["achievement"]["id"].startswith(
            f"{PUBLIC}/achievements/")
        pulled = httpx.post(f"{base}/api/v1/sync/pull", headers={**device_headers, **EVIL},
                            json={"events_after": 0}).text
        assert "evil.example" not in pulled and f"{PUBLIC}/achievements/" in pulled

        # the public verify page and the PDF (its QR code and printed verify URL)
        plain, evil = (httpx.get(f"{base}/verify/{cid}", headers=h) for h in ({}, EVIL))
        assert evil.status_code == 200 and "evil.example" not in evil.text
        assert evil.text == plain.text                  # nothing else changed
        pdf = httpx.get(f"{base}/certificates/{cid}.pdf", headers=EVIL)
        assert pdf.status_code == 200
        printed = pdf_text(pdf.content, tmp_path)
        from sync_server.certificates import short_verify_url  # the printed link (issue 21)
        assert short_verify_url(PUBLIC, f"urn:uuid:{cid}") in printed.replace("\n", "").replace(" ", "")
        assert "evil" not in printed

        # xAPI export (JSON API and console): IRIs from the public URL only
        api = httpx.get(f"{base}/api/v1/admin/exports/xapi.jsonl",
                        headers={**bearer(token), **EVIL}).text
        assert api and "evil.example" not in api and PUBLIC in api
        assert api == httpx.get(f"{base}/api/v1/admin/exports/xapi.jsonl",
                                headers=bearer(token)).text

        # console: the enrolment QR holds the public URL; page links are not absolute
        with httpx.Client(base_url=base, headers=EVIL) as client:
            console_login(client)
            page = client.post("/admin/devices/enrol-code",
                               data={"csrf": page_csrf(client, "/admin/devices"), "facility": "f1"})
            assert page.status_code == 200 and "evil.example" not in page.text
            code = re.findall(r'id="enrol-code">([A-Z0-9-]+)<', page.text)[0]
            qr = segno.make(enrol_qr_payload(PUBLIC, code), error="m").svg_inline(
                scale=6, border=2, title=f"Enrolment code {code}")
            assert qr in page.text
            for path in ("/admin/", "/admin/devices", "/admin/exports", "/admin/learners"):
                assert "evil.example" not in client.get(path).text, path
            location = client.get("/admin", follow_redirects=False).headers["location"]
            assert not location.startswith("http")                  # relative redirects
