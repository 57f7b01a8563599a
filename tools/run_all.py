"""`make run`: the sync server and the app together on 127.0.0.1 — a working demo, no config.

    python -m tools.run_all [--app-port 8550] [--server-port 8700] [--no-server]

First run (DEVELOPMENT ONLY — nothing here is for a real deployment):

1. makes the development signing key (var/dev-keys/dev.key), builds every pack source in
   content_packs/ that builds (kept in var/dev-packs/) and installs them into the device
   folder (var/device), trusting the key there;
2. makes the server's admin ``admin`` with a random password, saved to
   var/server/dev-admin.txt (tools/dev_demo.py, through the server's CLI);
3. starts the sync server (trusting the dev key for uploads), then through its HTTP admin
   API: a facility ``dev``, the sample packs uploaded and published to it (so the admin
   console shows them), and the device enrolled with a fresh enrolment code (so "Sync
   now" works at once, and the background sync runs);
4. starts the app and prints both URLs and the admin login.

Later runs reuse all of that. Ctrl-C stops both processes.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEV_KEY = ROOT / "var" / "dev-keys" / "dev.key"
DEVICE_DIR = ROOT / "var" / "device"
SERVER_DIR = ROOT / "var" / "server"
PACKS_DIR = ROOT / "var" / "dev-packs"
PACK_SOURCES = ROOT / "content_packs"


def log(message: str) -> None:
    print(f"[run] {message}", flush=True)


def ensure_dev_key() -> Path:
    from app.core.packs import write_keypair

    if not DEV_KEY.exists():
        write_keypair(DEV_KEY)
        log(f"made the development signing key {DEV_KEY.relative_to(ROOT)}")
    return DEV_KEY.with_name(DEV_KEY.name + ".pub")


def build_sample_packs(sources: Path = PACK_SOURCES,
                       out_dir: Path = PACKS_DIR) -> dict[tuple[str, int], Path]:
    """Build each pack source (dev key) unless ``<id>-<version>.pack`` is already in
    ``out_dir``; returns {(id, version): file}. A source that does not build (content
    being written) is skipped with its error, so `make run` keeps working."""
    from app.core.errors import ShiftError
    from app.core.packs import build_pack, load_private_key

    ensure_dev_key()
    private = load_private_key(DEV_KEY)
    out_dir.mkdir(parents=True, exist_ok=True)
    built: dict[tuple[str, int], Path] = {}
    for src in sorted(p for p in sources.iterdir() if (p / "pack.toml").is_file()):
        try:
            with (src / "pack.toml").open("rb") as fh:
                meta = tomllib.load(fh)
            key = (str(meta["id"]), int(meta["version"]))
            file = out_dir / f"{key[0]}-{key[1]}.pack"
            if not file.is_file():
                file = build_pack(src, private, out_dir)
        except (ShiftError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
            log(f"skipped pack {src.name}: {exc}")
            continue
        built[key] = file
    return built


def install_sample_packs(device_dir: Path, sources: Path = PACK_SOURCES,
                         packs_dir: Path = PACKS_DIR) -> list[str]:
    """Build and install every pack source not installed yet; returns installed ids."""
    from app.core.errors import ShiftError
    from app.core.packs import PackLibrary, TrustedKeys, install_pack, load_public_key
    from app.core.store import Store

    pub = ensure_dev_key()
    trusted = TrustedKeys([load_public_key(pub)])
    library = PackLibrary(device_dir)
    done: list[str] = []
    for (pack_id, version), file in build_sample_packs(sources, packs_dir).items():
        current = library.current_version(pack_id)
        if current is not None and current >= version:
            continue
        try:
            installed = install_pack(file, device_dir, trusted)
        except ShiftError as exc:
            log(f"skipped pack {pack_id}: {exc}")
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


def demo_setup(server_url: str, device_dir: Path, server_dir: Path, packs_dir: Path,
               admin: Any) -> None:
    """Facility, packs published, device enrolled (tools/dev_demo.py); a failure is
    logged and the app still starts (it works offline)."""
    from app.core.errors import ShiftError
    from tools.dev_demo import FACILITY_ID, AdminApi, DemoSetupError, enrol_device

    try:
        api = AdminApi(server_url, admin)
        try:
            api.ensure_facility()
            for name in api.publish_packs(build_sample_packs(PACK_SOURCES, packs_dir)):
                log(f"published pack {name} to facility '{FACILITY_ID}'")
            if enrol_device(api, device_dir, server_url,
                            server_dir / "keys" / "server.key.pub"):
                log(f"enrolled the device folder {device_dir} in facility '{FACILITY_ID}'")
        finally:
            api.close()
    except (DemoSetupError, ShiftError, OSError) as exc:
        log(f"demo set-up on the server failed: {exc} (the app still works offline)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.run_all")
    p.add_argument("--app-port", type=int, default=int(os.environ.get("SHIFT_APP_PORT", 8550)))
    p.add_argument("--server-port", type=int,
                   default=int(os.environ.get("SHIFT_SERVER_PORT", 8700)))
    p.add_argument("--no-server", action="store_true", help="only the app")
    p.add_argument("--device-dir", type=Path, default=DEVICE_DIR)
    p.add_argument("--server-dir", type=Path, default=SERVER_DIR)
    p.add_argument("--packs-dir", type=Path, default=PACKS_DIR,
                   help="where the built sample packs are kept")
    args = p.parse_args(argv)

    DEVICE_DIR.parent.mkdir(parents=True, exist_ok=True)
    install_sample_packs(args.device_dir, packs_dir=args.packs_dir)
    procs: list[tuple[str, subprocess.Popen[bytes], str]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("SHIFT_LOG_LEVEL", "WARNING")  # keep the URLs and the login readable

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
    summary: list[str] = []
    try:
        if not args.no_server and server_available():
            from tools.dev_demo import ensure_admin

            server_url = f"http://127.0.0.1:{args.server_port}"
            point_device_at(args.device_dir, server_url)
            admin = ensure_admin(ROOT, args.server_dir)
            dev_pub = str(DEV_KEY.with_name(DEV_KEY.name + ".pub"))
            extra = env.get("SHIFT_TRUSTED_KEYS")
            srv_env = {**env, "SHIFT_TRUSTED_KEYS": f"{extra}:{dev_pub}" if extra else dev_pub}
            srv = subprocess.Popen([sys.executable, "-m", "sync_server", "serve", "--host",
                                    "127.0.0.1", "--port", str(args.server_port),
                                    "--data-dir", str(args.server_dir)], cwd=ROOT, env=srv_env)
            procs.append(("sync server", srv, server_url + "/"))
            if wait_http(server_url + "/api/v1/health", srv):
                log(f"sync server: {server_url}/")
                demo_setup(server_url, args.device_dir, args.server_dir, args.packs_dir, admin)
                summary = [f"admin console: {server_url}/admin/",
                           f"admin login (DEVELOPMENT ONLY): {admin.name} / {admin.password}"
                           f"   (saved in {admin.file})"]
            else:
                log(f"sync server did not start (exit code {srv.poll()})")
        elif not args.no_server:
            log("sync server not installed yet: starting the app alone")
        app_url = f"http://127.0.0.1:{args.app_port}/"
        app = subprocess.Popen([sys.executable, "-m", "app", "--data-dir",
                                str(args.device_dir), "--host", "127.0.0.1", "--port",
                                str(args.app_port)], cwd=ROOT, env=env)
        procs.append(("app", app, app_url))
        if wait_http(app_url, app):
            log(f"app: {app_url}")
        else:
            log(f"app did not start (exit code {app.poll()})")
        for line in summary:
            log(line)
        log("open the app URL in a browser (pick a profile or create one; Settings → Sync "
            "now); Ctrl-C stops everything")
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
