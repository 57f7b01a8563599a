"""`make run` (tools/run_all.py): first-run pack install, and the real thing started and
stopped — it must never break."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from app.core.packs import PackLibrary
from app.core.store import Store
from tests.e2e.ui_harness import FIXTURE_PACK, ROOT, free_port
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
    assert install_sample_packs(device, sources) == ["ui-demo"]
    assert install_sample_packs(device, sources) == []  # later runs reuse what is there
    assert PackLibrary(device).current_version("ui-demo") == 1
    store = Store.open(device)
    try:
        keys = store.settings.get("trusted_keys")
    finally:
        store.close()
    assert keys == [DEV_KEY.with_name("dev.key.pub").read_text(encoding="utf-8")]


def test_make_run_starts_server_and_app_and_stops_both(tmp_path: Path) -> None:
    app_port, server_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.run_all", "--app-port", str(app_port), "--server-port",
         str(server_port), "--device-dir", str(tmp_path / "device"), "--server-dir",
         str(tmp_path / "server")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.append(raw.decode(errors="replace"))
            if "Ctrl-C stops everything" in lines[-1]:
                ready.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(timeout=180), "".join(lines)
        with urllib.request.urlopen(f"http://127.0.0.1:{app_port}/", timeout=5) as r:
            assert b"shift-offline-guard" in r.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{server_port}/api/v1/health",
                                    timeout=5) as r:
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        reader.join(timeout=5)
    text = "".join(lines)
    assert f"[run] app: http://127.0.0.1:{app_port}/" in text, text
    assert f"[run] sync server: http://127.0.0.1:{server_port}/" in text, text
    assert proc.returncode == 0, text
    for port in (app_port, server_port):  # both stopped
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            raise AssertionError(f"port {port} still answers")
        except OSError as exc:
            assert not getattr(exc, "code", None)
