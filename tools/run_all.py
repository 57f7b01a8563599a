"""`make run`: the sync server and the app together on 127.0.0.1, sample packs installed.

    python -m tools.run_all [--app-port 8550] [--server-port 8700] [--no-server]

First run: makes the development signing key (var/dev-keys/dev.key, never for
production), builds every pack source in content_packs/ that builds, installs the packs
into the device folder (var/device) and trusts the key there, and points the device at
the local sync server. Later runs reuse all of that. Ctrl-C stops both processes.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEV_KEY = ROOT / "var" / "dev-keys" / "dev.key"
DEVICE_DIR = ROOT / "var" / "device"
SERVER_DIR = ROOT / "var" / "server"
PACK_SOURCES = ROOT / "content_packs"


def log(message: str) -> None:
    print(f"[run] {message}", flush=True)


def ensure_dev_key() -> Path:
    from app.core.packs import write_keypair

    if not DEV_KEY.exists():
        write_keypair(DEV_KEY)
        log(f"made the development signing key {DEV_KEY.relative_to(ROOT)}")
    return DEV_KEY.with_name(DEV_KEY.name + ".pub")


def install_sample_packs(device_dir: Path, sources: Path = PACK_SOURCES) -> list[str]:
    """Build and install every pack source not installed yet; returns installed ids.

    A source that does not build (content being written) is skipped with its error, so
    `make run` keeps working.
    """
    from app.core.errors import ShiftError
    from app.core.packs import (
        PackLibrary,
        TrustedKeys,
        build_pack,
        install_pack,
        load_private_key,
        load_public_key,
    )
    from app.core.store import Store

    pub = ensure_dev_key()
    private = load_private_key(DEV_KEY)
    trusted = TrustedKeys([load_public_key(pub)])
    library = PackLibrary(device_dir)
    done: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in sorted(p for p in sources.iterdir() if (p / "pack.toml").is_file()):
            if library.current_version(src.name) is not None:
                continue
            try:
                pack = build_pack(src, private, Path(tmp))
                installed = install_pack(pack, device_dir, trusted)
            except ShiftError as exc:
                log(f"skipped pack {src.name}: {exc}")
                continue
            done.append(installed.id)
            log(f"installed pack {installed.id} v{installed.version}")
    store = Store.open(device_dir)
    try:
        keys = list(store.settings.get("trusted_keys") or [])
        text = pub.read_text(encoding="utf-8")
        if text not in keys:
            store.settings.set("trusted_keys", [*keys, text])
    finally:
        store.close()
    return done


def point_device_at(device_dir: Path, url: str) -> None:
    from app.core.store import Store

    store = Store.open(device_dir)
    try:
        if not store.settings.get("server_url"):
            store.settings.set("server_url", url)
    finally:
        store.close()


def wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error answer: the server is up
                return True
            time.sleep(0.3)
    return False


def server_available() -> bool:
    return importlib.util.find_spec("sync_server.commands.serve") is not None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.run_all")
    p.add_argument("--app-port", type=int, default=int(os.environ.get("SHIFT_APP_PORT", 8550)))
    p.add_argument("--server-port", type=int,
                   default=int(os.environ.get("SHIFT_SERVER_PORT", 8700)))
    p.add_argument("--no-server", action="store_true", help="only the app")
    p.add_argument("--device-dir", type=Path, default=DEVICE_DIR)
    p.add_argument("--server-dir", type=Path, default=SERVER_DIR)
    args = p.parse_args(argv)

    DEVICE_DIR.parent.mkdir(parents=True, exist_ok=True)
    install_sample_packs(args.device_dir)
    procs: list[tuple[str, subprocess.Popen[bytes], str]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not args.no_server and server_available():
        server_url = f"http://127.0.0.1:{args.server_port}"
        point_device_at(args.device_dir, server_url)
        srv = subprocess.Popen([sys.executable, "-m", "sync_server", "serve", "--host",
                                "127.0.0.1", "--port", str(args.server_port), "--data-dir",
                                str(args.server_dir)], cwd=ROOT, env=env)
        procs.append(("sync server", srv, server_url + "/"))
    elif not args.no_server:
        log("sync server not installed yet: starting the app alone")
    app_url = f"http://127.0.0.1:{args.app_port}/"
    app = subprocess.Popen([sys.executable, "-m", "app", "--data-dir", str(args.device_dir),
                            "--host", "127.0.0.1", "--port", str(args.app_port)],
                           cwd=ROOT, env=env)
    procs.append(("app", app, app_url))

    def stop(*_: object) -> None:
        for _name, proc, _url in procs:
            if proc.poll() is None:
                proc.terminate()
        for _name, proc, _url in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt  # same clean stop as Ctrl-C

    signal.signal(signal.SIGTERM, on_term)
    try:
        for name, proc, url in procs:
            if wait_http(url, proc):
                log(f"{name}: {url}")
            else:
                log(f"{name} did not start (exit code {proc.poll()})")
        log("open the app URL in a browser; Ctrl-C stops everything")
        while all(proc.poll() is None for _n, proc, _u in procs):
            time.sleep(0.5)
        for name, proc, _url in procs:
            if proc.poll() is not None:
                log(f"{name} stopped (exit code {proc.returncode}); stopping the rest")
    except KeyboardInterrupt:
        log("stopping")
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
