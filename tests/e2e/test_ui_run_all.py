"""`make run` (tools/run_all.py): first-run pack install, and the real thing started and
stopped — it must never break."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.packs import PackLibrary
from app.core.store import Store
from app.core.store.keys import key_file_for
from tests.e2e.ui_harness import FIXTURE_PACK, ROOT
from tests.support.server import free_port
from tools.dev_demo import ensure_admin, read_admin_file
from tools.run_all import DEV_KEY, install_sample_packs


def test_first_run_installs_packs_skips_broken_ones_and_trusts_the_key(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(FIXTURE_PACK, sources / "ui-demo")
    broken = sources / "broken"
    shutil.copytree(FIXTURE_PACK, broken)
    (broken / "pack.toml").write_text('format = 1\nid = "broken"\nversion = "one"\n',
                                      encoding="utf-8")
    (sources / "not-a-pack").mkdir()
    device = tmp_path / "device"
    packs = tmp_path / "built"
    assert install_sample_packs(device, sources, packs) == ["ui-demo"]
    assert install_sample_packs(device, sources, packs) == []  # later runs reuse what is there
    assert [p.name for p in packs.iterdir()] == ["ui-demo-1.pack"]
    assert PackLibrary(device).current_version("ui-demo") == 1
    store = Store.open(device, keys=key_file_for(device))   # encrypted, as the app opens it
    try:
        keys = store.settings.get("trusted_keys")
    finally:
        store.close()
    assert keys == [DEV_KEY.with_name("dev.key.pub").read_text(encoding="utf-8")]


@dataclass
class RunAll:
    proc: subprocess.Popen[bytes]
    lines: list[str]
    reader: threading.Thread
    stopping: threading.Event      # it printed "[run] stopping"


def start_run_all(tmp_path: Path, app_port: int, server_port: int) -> RunAll:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.run_all", "--app-port", str(app_port), "--server-port",
         str(server_port), "--device-dir", str(tmp_path / "device"), "--server-dir",
         str(tmp_path / "server"), "--packs-dir", str(tmp_path / "packs")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    ready, stopping = threading.Event(), threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.append(raw.decode(errors="replace"))
            if "Ctrl-C stops everything" in lines[-1]:
                ready.set()
            if lines[-1].startswith("[run] stopping"):
                stopping.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not ready.wait(timeout=120):
        proc.kill()
        raise AssertionError("".join(lines))
    return RunAll(proc, lines, reader, stopping)


def stop_run_all(run: RunAll, *, twice: bool = False) -> None:
    """Ctrl-C; with `twice`, a SIGTERM too once it says it is stopping (someone in a
    hurry, or a service manager's second signal)."""
    run.proc.send_signal(signal.SIGINT)
    if twice:
        assert run.stopping.wait(timeout=30), "".join(run.lines)
        run.proc.send_signal(signal.SIGTERM)
    run.proc.wait(timeout=30)
    run.reader.join(timeout=5)


def admin_get(server: str, token: str, path: str) -> Any:
    req = urllib.request.Request(f"{server}/api/v1/admin{path}",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def admin_token(server: str, name: str, password: str) -> str:
    req = urllib.request.Request(f"{server}/api/v1/admin/login", method="POST",
                                 data=json.dumps({"name": name, "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return str(json.loads(r.read())["token"])


def test_make_run_is_a_working_demo_and_reruns_reuse_everything(tmp_path: Path) -> None:
    """First run: admin + password file, facility, packs published, device enrolled and
    syncing by itself; both URLs and the login printed. Second run: nothing made again."""
    app_port, server_port = free_port(), free_port()
    server = f"http://127.0.0.1:{server_port}"
    run = start_run_all(tmp_path, app_port, server_port)
    proc, lines = run.proc, run.lines
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{app_port}/", timeout=5) as r:
            assert b"shift-offline-guard" in r.read()
        with urllib.request.urlopen(f"{server}/api/v1/health", timeout=5) as r:
            assert r.status == 200
        login = read_admin_file(tmp_path / "server" / "dev-admin.txt")
        assert login is not None and len(login.password) >= 16
        assert (tmp_path / "server" / "dev-admin.txt").stat().st_mode & 0o077 == 0
        token = admin_token(server, login.name, login.password)
        assert [f["id"] for f in admin_get(server, token, "/facilities")] == ["dev"]
        published = {(p["pack_id"], p["version"]): p["facilities"]
                     for p in admin_get(server, token, "/publications")}
        assert published and all(f == ["dev"] for f in published.values())
        assert {p["id"] for p in admin_get(server, token, "/packs")} == {
            pid for pid, _v in published}
        deadline = time.monotonic() + 20  # the app's background sync reaches the server
        devices: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            devices = admin_get(server, token, "/devices")
            if devices and devices[0]["last_seen_at"]:
                break
            time.sleep(0.5)
        assert len(devices) == 1 and devices[0]["facility_id"] == "dev", devices
        assert devices[0]["last_seen_at"], "the enrolled tablet never synced by itself"
    finally:
        stop_run_all(run)
    text = "".join(lines)
    assert f"[run] app: http://127.0.0.1:{app_port}/" in text, text
    assert f"[run] sync server: {server}/" in text, text
    assert f"[run] admin console: {server}/admin/" in text, text
    assert f"admin login (DEVELOPMENT ONLY): admin / {login.password}" in text, text
    assert "published pack" in text and "enrolled the device folder" in text, text
    assert proc.returncode == 0, text
    assert "Traceback" not in text, text
    assert_stopped(app_port, server_port)

    # a re-run reuses the admin, facility, packs and enrolment
    again_port = free_port()
    run = start_run_all(tmp_path, again_port, server_port)
    proc, lines = run.proc, run.lines
    try:
        token = admin_token(server, login.name, login.password)  # same password
        assert len(admin_get(server, token, "/devices")) == 1
        assert {(p["pack_id"], p["version"]) for p in
                admin_get(server, token, "/publications")} == set(published)
    finally:
        stop_run_all(run, twice=True)
    again = "".join(lines)
    for made in ("installed pack", "published pack", "enrolled the device", "made the"):
        assert made not in again, again
    assert proc.returncode == 0, again
    assert "Traceback" not in again, again       # a second signal while stopping
    assert_stopped(again_port, server_port)


def assert_stopped(*ports: int) -> None:
    for port in ports:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            raise AssertionError(f"port {port} still answers")
        except OSError as exc:
            assert not getattr(exc, "code", None)


def test_dev_admin_file_is_made_once_and_a_damaged_one_is_replaced(tmp_path: Path) -> None:
    server_dir = tmp_path / "server"
    first = ensure_admin(ROOT, server_dir)
    assert first.file.stat().st_mode & 0o777 == 0o600
    assert ensure_admin(ROOT, server_dir) == first  # reused, no second admin
    first.file.write_text("name: admin\npassword\n\x00junk", encoding="utf-8")
    second = ensure_admin(ROOT, server_dir)  # the admin exists: its password is reset
    assert second.name == "admin" and second.password != first.password
    assert read_admin_file(first.file) == second
    listed = subprocess.run([sys.executable, "-m", "sync_server", "admin", "list",
                             "--data-dir", str(server_dir)], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    assert listed.count("admin") == 1
