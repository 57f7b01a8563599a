"""`make run` with a port another program already uses: tools/run_all.py must say which
port and how to choose others, exit non-zero, and start (or make) nothing — never print
the other program's URL as its own (issue 12, part 6)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.server import ROOT, free_port


class _Other(BaseHTTPRequestHandler):
    """Some other web program: answers 200 to everything."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"another program"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def other_program(host: str = "127.0.0.1") -> Iterator[int]:
    server = ThreadingHTTPServer((host, 0), _Other)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def run_all(tmp_path: Path, *args: str, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """The real `python -m tools.run_all`; expected to stop at once (the timeout only
    guards against a hang)."""
    return subprocess.run(
        [sys.executable, "-m", "tools.run_all", *args, "--device-dir", str(tmp_path / "device"),
         "--server-dir", str(tmp_path / "server"), "--packs-dir", str(tmp_path / "packs")],
        cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=120)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def assert_nothing_started(tmp_path: Path, done: subprocess.CompletedProcess[str],
                           *free_ports: int) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Nothing was started." in done.stderr
    assert "[run] app:" not in done.stdout and "[run] sync server:" not in done.stdout
    assert not any((tmp_path / d).exists() for d in ("device", "server", "packs"))
    assert not any(listening(p) for p in free_ports)


def test_busy_app_port_stops_the_run_before_anything_starts(tmp_path: Path) -> None:
    server_port = free_port()
    with other_program() as busy:
        done = run_all(tmp_path, "--app-port", str(busy), "--server-port", str(server_port))
        assert_nothing_started(tmp_path, done, server_port)
    message = done.stderr
    assert f"port {busy} (app) on 127.0.0.1 is already in use by another program" in message
    assert "make run APP_PORT=" in message and f"SERVER_PORT={server_port}" in message
    assert "SHIFT_APP_PORT=" in message and "--app-port" in message
    suggested = int(message.split("make run APP_PORT=")[1].split()[0])
    assert suggested != busy and suggested != server_port


def test_busy_server_port_is_named_too(tmp_path: Path) -> None:
    app_port = free_port()
    with other_program() as busy:
        done = run_all(tmp_path, env={"SHIFT_APP_PORT": str(app_port),
                                      "SHIFT_SERVER_PORT": str(busy)})
        assert_nothing_started(tmp_path, done, app_port)
    assert f"port {busy} (sync server) on 127.0.0.1 is already in use" in done.stderr
    assert f"make run APP_PORT={app_port} SERVER_PORT=" in done.stderr


def test_both_ports_busy_and_a_wildcard_listener_count(tmp_path: Path) -> None:
    with other_program() as one, other_program("0.0.0.0") as two:
        done = run_all(tmp_path, "--app-port", str(one), "--server-port", str(two))
        assert_nothing_started(tmp_path, done)
    assert (f"port {one} (app) and port {two} (sync server) on 127.0.0.1 are already in use"
            in done.stderr)


@pytest.mark.parametrize(("args", "why"), [
    (["--app-port", "8123", "--server-port", "8123"], "two different ports"),
    (["--app-port", "70000"], "not a port number"),
])
def test_impossible_ports_are_refused(tmp_path: Path, args: list[str], why: str) -> None:
    done = run_all(tmp_path, *args)
    assert done.returncode == 1 and why in done.stderr, done.stderr
    assert not any((tmp_path / d).exists() for d in ("device", "server", "packs"))


def test_make_run_passes_the_port_variables() -> None:
    """`make run APP_PORT=… SERVER_PORT=…` (dry run: the command make would run)."""
    out = subprocess.run(["make", "-n", "run", "APP_PORT=8551", "SERVER_PORT=8701"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if "tools.run_all" in x)
    assert line.split("tools.run_all", 1)[1].split() == ["--app-port", "8551",
                                                         "--server-port", "8701"]
