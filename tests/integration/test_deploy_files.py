"""The files in deploy/ are real: the systemd unit parses (systemd-analyze), names the
real `serve` command line and a sandbox the server runs under; the nginx example, run by
a real nginx in front of a real server, makes the server see the client's true address
and scheme whatever the client writes into X-Forwarded-For (docs/deployment.md §4).

systemd-analyze and nginx are Debian packages (`systemd`, `nginx`; .ci/run installs
them); without them those two tests are skipped with the reason.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sync_server.cli import build_parser
from sync_server.commands import serve
from sync_server.settings import Settings
from tests.integration.test_admin_certificates import upload_and_publish
from tests.integration.test_server_proxies_and_host import failures
from tests.support import mdwe
from tests.support.learner_work import server_manifest, study
from tests.support.server import (
    ROOT,
    ServerProcess,
    admin_token,
    bearer,
    enrol_device,
    free_port,
    make_profile,
    running_server,
    seed,
)
from tests.unit.test_env_table import documented_variables

UNIT = ROOT / "deploy" / "shift-server.service"
ENV_FILE = ROOT / "deploy" / "shift-server.env"
NGINX = ROOT / "deploy" / "nginx-shift.conf"
PUBLIC = "https://learning.example.org"

# ----------------------------------------------------------------------------- systemd unit


def unit_directives(text: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values in order]}} (systemd allows a key several times)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"line {number}: {raw!r}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service() -> dict[str, list[str]]:
    return unit_directives(UNIT.read_text(encoding="utf-8"))["Service"]


def one(key: str) -> str:
    values = service()[key]
    assert len(values) == 1, (key, values)
    return values[0]


def test_unit_names_the_real_serve_command() -> None:
    argv = shlex.split(one("ExecStart"))
    program = Path(argv[0])
    if program.name == "shift-server":  # the console script, when the package has it
        with (ROOT / "pyproject.toml").open("rb") as fh:
            scripts = tomllib.load(fh)["project"].get("scripts", {})
        assert scripts.get("shift-server") == "sync_server.cli:main", scripts
        rest = argv[1:]
    else:
        assert program.is_absolute() and program.name.startswith("python"), argv
        assert argv[1:3] == ["-m", "sync_server"], argv
        rest = argv[3:]
    args = build_parser().parse_args(rest)   # the real CLI accepts it …
    assert args.func is serve.run            # … as `serve`
    assert args.host == "127.0.0.1"          # behind the proxy, never on a public address
    upstream = re.search(r"upstream shift_server \{\s*server ([\d.]+):(\d+);",
                         NGINX.read_text(encoding="utf-8"))
    assert upstream is not None and (upstream[1], int(upstream[2])) == (args.host, args.port)


def test_unit_is_sandboxed_and_its_data_folder_is_the_only_writable_place() -> None:
    svc = service()
    required = {
        "User": "shift", "Group": "shift", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
        "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
        "CapabilityBoundingSet": "", "AmbientCapabilities": "", "RestrictSUIDSGID": "yes",
        "RestrictNamespaces": "yes", "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes",
        "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes", "SystemCallArchitectures": "native", "UMask": "0077",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }
    assert {k: svc.get(k) for k in required} == {k: [v] for k, v in required.items()}
    assert svc["SystemCallFilter"][0] == "@system-service"
    assert all(f.startswith("~") for f in svc["SystemCallFilter"][1:])   # only denials added
    data = "/var/lib/" + one("StateDirectory")
    assert one("ReadWritePaths") == data == one("WorkingDirectory")
    assert f"SHIFT_DATA_DIR={data}" in svc["Environment"]


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def test_environment_file_example_is_a_valid_production_configuration(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert one("EnvironmentFile") == "/etc/shift/shift-server.env"
    example = env_example()
    for name in [k for k in os.environ if k.startswith("SHIFT_")]:
        monkeypatch.delenv(name)
    for name, value in example.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    settings.require_public_base_url()      # starts without SHIFT_DEV
    assert not settings.development
    assert settings.public_base_url == PUBLIC and settings.trusted_proxies == ("127.0.0.1", "::1")
    named = set(example) | set(re.findall(r"SHIFT_[A-Z_]+", UNIT.read_text(encoding="utf-8")))
    assert named <= set(documented_variables())


def test_systemd_analyze_accepts_every_directive(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze (Debian package systemd) not installed")
    # verify checks that ExecStart's program exists: point it at this environment's copy
    text = UNIT.read_text(encoding="utf-8")
    program = Path(shlex.split(one("ExecStart"))[0])
    here = Path(sys.executable).parent / program.name
    assert here.is_file(), f"{program.name} is not installed in {here.parent}"
    unit = tmp_path / "shift-server.service"
    unit.write_text(text.replace(f"ExecStart={program} ", f"ExecStart={here} ", 1),
                    encoding="utf-8")
    done = subprocess.run([analyze, "verify", str(unit)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), \
        done.stdout + done.stderr   # an unknown key or a bad value is a warning line here
    rated = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(unit)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    level = re.search(r"Overall exposure level for shift-server\.service: ([\d.]+)",
                      rated.stdout + rated.stderr)
    assert level is not None, rated.stdout + rated.stderr
    assert float(level[1]) <= 2.0, rated.stdout    # 1.4 when written ("OK"; 10 = unprotected)


def test_server_runs_with_writable_executable_memory_refused(tmp_path: Path) -> None:
    """MemoryDenyWriteExecute=yes must not break the server: its main paths (password
    hashing, pack build + signing, push, certificate + PDF) run under PR_SET_MDWE."""
    if not mdwe.supported():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux >= 6.3)")
    probe = subprocess.run([sys.executable, mdwe.__file__, "-c",
                            "import mmap; mmap.mmap(-1, 4096, prot=7)"], capture_output=True,
                           text=True, timeout=60)
    assert probe.returncode != 0 and "PermissionError" in probe.stderr  # the launcher works
    data = tmp_path / "srv"
    seed(data, facilities={"f1": "Vilnius"})
    server = ServerProcess(data, env={"SHIFT_PUBLIC_BASE_URL": PUBLIC},
                           launcher=Path(mdwe.__file__))
    base = server.start()
    try:
        token = admin_token(base)
        pack = upload_and_publish(base, token, ["f1"])
        device = enrol_device(base, token, "f1", "tab-mdwe")
        learner = make_profile("LT-MDWE")
        manifest = server_manifest(base, device.headers, pack["id"], pack["version"])
        work = study(manifest, learner["id"], "boundaries", device="tab-mdwe")
        r = httpx.post(f"{base}/api/v1/sync/push", headers=device.headers,
                       json={"profiles": [learner], "events": work})
        assert r.status_code == 200 and r.json()["stored"] == [e["id"] for e in work], r.text
        listed = httpx.get(f"{base}/api/v1/admin/certificates", headers=bearer(token)).json()
        assert len(listed) == 1
        pdf = httpx.get(f"{base}/certificates/{listed[0]['id']}.pdf", timeout=60)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert httpx.get(f"{base}/verify/{listed[0]['id']}").status_code == 200
        assert httpx.post(f"{base}/api/v1/sync/pull", headers=device.headers,
                          json={"events_after": 0}).status_code == 200
    finally:
        server.stop()
    assert "Traceback" not in server.log_tail(400)


# ----------------------------------------------------------------------------- nginx

def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "learning.example.org")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("learning.example.org"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "fullchain.pem", folder / "privkey.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def nginx_site(folder: Path, upstream: int, http_port: int, https_port: int) -> str:
    """deploy/nginx-shift.conf with test ports, certificate and log paths; every
    replaced line must exist exactly once (the test follows the shipped file)."""
    cert, key = self_signed(folder)
    text = NGINX.read_text(encoding="utf-8")
    for old, new in [
        ("server 127.0.0.1:8700;", f"server 127.0.0.1:{upstream};"),
        ("    listen 80;\n", f"    listen 127.0.0.1:{http_port};\n"),
        ("    listen [::]:80;\n", ""),
        ("    listen 443 ssl;\n", f"    listen 127.0.0.1:{https_port} ssl;\n"),
        ("    listen [::]:443 ssl;\n", ""),
        ("/etc/letsencrypt/live/learning.example.org/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/learning.example.org/privkey.pem", str(key)),
        ("/var/log/nginx/shift.access.log", str(folder / "access.log")),
    ]:
        assert text.count(old) == 1, f"deploy/nginx-shift.conf changed: {old!r}"
        text = text.replace(old, new)
    return text


@contextmanager
def running_nginx(folder: Path, site: str, port: int) -> Iterator[None]:

    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir()
    (folder / "shift.conf").write_text(site, encoding="utf-8")
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi; uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/shift.conf;
}}
""", encoding="utf-8")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    cmd = [nginx, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf)]
    checked = subprocess.run([*cmd, "-t"], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([*cmd, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (folder / "error.log").read_text()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "nginx did not listen"
            time.sleep(0.05)
        yield
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful stop of master and workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_nginx_example_in_front_of_the_server(tmp_path: Path) -> None:
    """A client at 127.0.0.5 talks to the server through nginx (the shipped file) and
    writes its own X-Forwarded-For: the server counts 127.0.0.5, never the forged value,
    sees https (Secure cookie), and the http site redirects to the fixed name."""
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        pytest.skip("nginx (Debian package nginx) not installed")
    import ssl

    data, web = tmp_path / "srv", tmp_path / "nginx"
    web.mkdir()
    seed(data)
    env = {"SHIFT_PUBLIC_BASE_URL": PUBLIC, "SHIFT_TRUSTED_PROXIES": "127.0.0.1 ::1"}
    http_port, https_port = free_port(), free_port()
    with running_server(data, env=env) as base:
        site = nginx_site(web, int(base.rsplit(":", 1)[1]), http_port, https_port)
        with running_nginx(web, site, https_port):
            tls = ssl.create_default_context(cafile=str(web / "fullchain.pem"))
            client = httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=tls,
                                  transport=httpx.HTTPTransport(local_address="127.0.0.5",
                                                                verify=tls))
            with client:
                assert client.get("/api/v1/health").status_code == 200
                forged = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "http",
                          "Forwarded": "for=198.51.100.8"}
                for i in range(3):
                    r = client.post("/api/v1/admin/login", headers=forged,
                                    json={"name": f"guess-{i}", "password": "wrong"})
                    assert r.status_code == 401, r.text
                assert failures(data, "addr:127.0.0.5") == 3      # the client nginx saw
                assert failures(data, "addr:198.51.100.7") == 0   # not what it wrote
                assert failures(data, "addr:198.51.100.8") == 0
                assert failures(data, "addr:127.0.0.1") == 0      # nor nginx itself
                page = client.get("/admin/login", headers=forged)
                csrf = re.findall(r'name="csrf" value="([^"]+)"', page.text)[0]
                r = client.post("/admin/login", headers=forged, data={
                    "csrf": csrf, "name": "admin", "password": "correct horse battery"})
                assert r.status_code == 303, r.text
                cookie = r.headers["set-cookie"].lower()
                assert "shift_admin=" in cookie and "secure" in cookie  # nginx said https
            # the same forged header straight to the server (not through the proxy)
            with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.5")) as raw:
                r = raw.post(f"{base}/api/v1/admin/login", headers=forged,
                             json={"name": "guess-direct", "password": "wrong"})
                assert r.status_code == 401
            assert failures(data, "addr:127.0.0.5") == 4
            assert failures(data, "addr:198.51.100.7") == 0
            # plain http: a redirect to the fixed public name, whatever Host says
            r = httpx.get(f"http://127.0.0.1:{http_port}/admin/?x=1",
                          headers={"Host": "evil.example"})
            assert r.status_code == 301
            assert r.headers["location"] == f"{PUBLIC}/admin/?x=1"
    access = (web / "access.log").read_text()
    assert access.count("POST /api/v1/admin/login") == 3 and "127.0.0.5 - " in access
    assert "authorization" not in access.lower()
