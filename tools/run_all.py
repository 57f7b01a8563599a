"""`make run`: the sync server and the app together on 127.0.0.1 — a working demo, no config.

    python -m tools.run_all [--app-port 8550] [--server-port 8700] [--no-server]
    make run APP_PORT=8551 SERVER_PORT=8701          # same, other ports
    SHIFT_APP_PORT=8551 SHIFT_SERVER_PORT=8701 make run

Before anything is made or started, both ports are checked on 127.0.0.1: a busy port
stops the run with a message naming it and how to pick another (exit code 1).

First run (DEVELOPMENT ONLY — nothing here is for a real deployment), each step printed
as it starts:

1. makes the development signing key (var/dev-keys/dev.key), builds every pack source in
   content_packs/ that builds (kept in var/dev-packs/) and installs them into the device
   folder (var/device), trusting the key there;
2. makes the server's admin ``admin`` with a random password, saved to
   var/server/dev-admin.txt (tools/dev_demo.py, through the server's CLI);
3. starts the sync server in development mode (SHIFT_DEV=1: its public URL is the address
   it listens on; trusting the dev key for uploads), then through its HTTP admin API: a
   facility ``dev``, the sample packs uploaded and published to it (so the admin console
   shows them), and the device enrolled with a fresh enrolment code (so "Sync now" works
   at once, and the background sync runs);
4. starts the app and prints both URLs and the admin login.

Later runs reuse all of that. Ctrl-C stops both processes (exit code 0); a process that
fails to start or stops by itself stops the other one too (exit code 1).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
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
HOST = "127.0.0.1"


def log(message: str) -> None:
    print(f"[run] {message}", flush=True)


def shown(path: Path) -> str:
    """A path as the user reads it: relative to the checkout when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


class Steps:
    """Progress lines: what is being done now, and how long the set-up took."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        log(f"{message} ...")

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.1f} s"


# ----------------------------------------------------------------------------- ports

def port_in_use(port: int, host: str = HOST) -> bool:
    """True when something listens on host:port (binding it the way uvicorn does fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def next_free_port(after: int, taken: set[int]) -> int:
    port = after + 1
    while port in taken or port_in_use(port):
        port += 1
    return port


def port_problem(ports: dict[str, int]) -> str | None:
    """Why the run cannot start on these ports ({"app": 8550, "sync server": 8700}), with
    how to choose others; None when every port is free."""
    bad = [p for p in ports.values() if not 1 <= p <= 65535]
    if bad:
        return f"port {bad[0]} is not a port number (1-65535)."
    if len(set(ports.values())) < len(ports):
        return ("the app and the sync server need two different ports, got "
                + " and ".join(f"{p} ({name})" for name, p in ports.items()) + ".")
    busy = {name: port for name, port in ports.items() if port_in_use(port)}
    if not busy:
        return None
    taken = set(ports.values())
    free = {}
    for name, port in ports.items():
        free[name] = next_free_port(port, taken) if name in busy else port
        taken.add(free[name])
    named = " and ".join(f"port {port} ({name})" for name, port in busy.items())
    app, server = free.get("app", 8550), free.get("sync server", 8700)
    return "\n".join([
        f"{named} on {HOST} {'is' if len(busy) == 1 else 'are'} already in use by another "
        "program (an earlier `make run` still running?).",
        "Stop that program, or choose free ports, for example:",
        f"    make run APP_PORT={app} SERVER_PORT={server}",
        f"    SHIFT_APP_PORT={app} SHIFT_SERVER_PORT={server} make run",
        f"    python -m tools.run_all --app-port {app} --server-port {server}",
        "Nothing was started."])


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
                log(f"building pack {key[0]} v{key[1]} from {shown(src)} ...")
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
    from app.core.store.keys import key_file_for

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
    store = Store.open(device_dir, keys=key_file_for(device_dir))
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
    from app.core.store.keys import key_file_for

    store = Store.open(device_dir, keys=key_file_for(device_dir))
    try:
        if not store.settings.get("server_url"):
            store.settings.set("server_url", url)
    finally:
        store.close()


def wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 90,
              name: str | None = None, every: float = 5.0) -> bool:
    """Wait until ``url`` answers while ``proc`` runs (False if it exits or time is up);
    with a ``name``, a line every ``every`` seconds says it is still starting."""
    started = time.monotonic()
    deadline, notice = started + seconds, started + every
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1):
                return proc.poll() is None  # our process answers, not another program
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error answer: the server is up
                return proc.poll() is None
            time.sleep(0.3)
        if name and time.monotonic() >= notice:
            log(f"... {name} still starting ({time.monotonic() - started:.0f} s)")
            notice += every
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    def port_default(name: str, default: int) -> int:
        raw = os.environ.get(name, "").strip()
        try:
            return int(raw) if raw else default
        except ValueError:
            p.error(f"{name}={raw!r} is not a port number")

    p = argparse.ArgumentParser(prog="python -m tools.run_all")
    p.add_argument("--app-port", type=int, default=port_default("SHIFT_APP_PORT", 8550),
                   help="port of the app (env SHIFT_APP_PORT, make run APP_PORT=…; default 8550)")
    p.add_argument("--server-port", type=int, default=port_default("SHIFT_SERVER_PORT", 8700),
                   help="port of the sync server (env SHIFT_SERVER_PORT, make run "
                        "SERVER_PORT=…; default 8700)")
    p.add_argument("--no-server", action="store_true", help="only the app")
    p.add_argument("--device-dir", type=Path, default=DEVICE_DIR)
    p.add_argument("--server-dir", type=Path, default=SERVER_DIR)
    p.add_argument("--packs-dir", type=Path, default=PACKS_DIR,
                   help="where the built sample packs are kept")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with_server = not args.no_server and server_available()
    ports = {"app": args.app_port, **({"sync server": args.server_port} if with_server else {})}
    problem = port_problem(ports)
    if problem:  # before anything is made or started
        for line in problem.splitlines():
            print(f"[run] {line}", file=sys.stderr, flush=True)
        return 1

    step = Steps()
    log("setting up the demo (the first run takes a while; later runs reuse var/) ...")
    step(f"sample packs: building {shown(PACK_SOURCES)} into {shown(args.packs_dir)}, "
         f"installing into the device folder {shown(args.device_dir)}")
    DEVICE_DIR.parent.mkdir(parents=True, exist_ok=True)
    install_sample_packs(args.device_dir, packs_dir=args.packs_dir)
    procs: list[tuple[str, subprocess.Popen[bytes], str]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("SHIFT_LOG_LEVEL", "WARNING")  # keep the URLs and the login readable

    hurried: list[bool] = []

    def stop(*_: object) -> None:
        """Ask each process to stop and give it 10 s, then kill it. A second Ctrl-C or
        SIGTERM meanwhile kills at once (on_again), without a traceback."""
        signal.signal(signal.SIGINT, on_again)
        signal.signal(signal.SIGTERM, on_again)
        for _name, proc, _url in procs:
            if proc.poll() is None:
                proc.terminate()
        for _name, proc, _url in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def on_term(*_: object) -> None:
        """The first Ctrl-C or SIGTERM: the clean stop below. Any later one is on_again's
        from this moment, so a second signal cannot raise on the way to `stop`."""
        signal.signal(signal.SIGINT, on_again)
        signal.signal(signal.SIGTERM, on_again)
        raise KeyboardInterrupt

    def on_again(*_: object) -> None:
        """Raises nothing, so it cannot interrupt `stop` half-way: it kills what still
        runs, and `stop`'s waits then return at once."""
        if not hurried:
            hurried.append(True)
            log("asked again: killing what is still running")
        for _name, proc, _url in procs:
            proc.kill()         # nothing if it has already exited (Popen.send_signal)

    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGTERM, on_term)
    summary: list[str] = []
    status = 0
    try:
        if with_server:
            from tools.dev_demo import ensure_admin

            server_url = f"http://{HOST}:{args.server_port}"
            point_device_at(args.device_dir, server_url)
            step(f"development admin: {shown(args.server_dir / 'dev-admin.txt')}")
            admin = ensure_admin(ROOT, args.server_dir)
            dev_pub = str(DEV_KEY.with_name(DEV_KEY.name + ".pub"))
            extra = env.get("SHIFT_TRUSTED_KEYS")
            srv_env = {**env, "SHIFT_DEV": "1",  # development mode: public URL = server_url
                       "SHIFT_TRUSTED_KEYS": f"{extra}:{dev_pub}" if extra else dev_pub}
            step(f"starting the sync server on {server_url}/ (data {shown(args.server_dir)})")
            srv = subprocess.Popen([sys.executable, "-m", "sync_server", "serve", "--host",
                                    HOST, "--port", str(args.server_port),
                                    "--data-dir", str(args.server_dir)], cwd=ROOT, env=srv_env)
            procs.append(("sync server", srv, server_url + "/"))
            if not wait_http(server_url + "/api/v1/health", srv, name="sync server"):
                log(f"the sync server did not start (exit code {srv.poll()}); see the lines "
                    "above. Stopping.")
                return 1
            log(f"sync server: {server_url}/")
            step("server demo: facility 'dev', sample packs published to it, this device "
                 "enrolled (only what is missing)")
            demo_setup(server_url, args.device_dir, args.server_dir, args.packs_dir, admin)
            summary = [f"admin console: {server_url}/admin/",
                       f"admin login (DEVELOPMENT ONLY): {admin.name} / {admin.password}"
                       f"   (saved in {admin.file})"]
        elif not args.no_server:
            log("sync server not installed yet: starting the app alone")
        app_url = f"http://{HOST}:{args.app_port}/"
        step(f"starting the app on {app_url}")
        app = subprocess.Popen([sys.executable, "-m", "app", "--data-dir",
                                str(args.device_dir), "--host", HOST, "--port",
                                str(args.app_port)], cwd=ROOT, env=env)
        procs.append(("app", app, app_url))
        if not wait_http(app_url, app, name="app"):
            log(f"the app did not start (exit code {app.poll()}); see the lines above. "
                "Stopping.")
            return 1
        log(f"app: {app_url}")
        for line in summary:
            log(line)
        log(f"ready in {step.elapsed()}. Open the app URL in a browser (pick a profile or "
            "create one; Settings → Sync now); Ctrl-C stops everything")
        while all(proc.poll() is None for _n, proc, _u in procs):
            time.sleep(0.5)
        for name, proc, _url in procs:
            if proc.poll() is not None:
                log(f"{name} stopped (exit code {proc.returncode}); stopping the rest")
        status = 1
    except KeyboardInterrupt:
        log("stopping")
    finally:
        stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
