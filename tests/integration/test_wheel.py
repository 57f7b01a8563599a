"""The wheel is a real package: built from the sources alone, installed into a fresh venv
in a temp folder outside the checkout, its console scripts `shift-server` and `shift-app`
run there and serve everything from the installed package (issue 12, part 2).

Offline: the build backend (setuptools, pinned in pyproject.toml) and the locked
dependencies come from uv's cache, which `make venv` fills; nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.server import ROOT, free_port

GUARD = "shift-offline-guard"
#: Written into the *installed* copy of app/assets/index.html before shift-app starts:
#: seeing it in the served page proves the page comes from the wheel, not the checkout.
MARKER = "<!-- served-from-the-installed-wheel -->"
WHEEL_DATA = (
    "app/assets/index.html",
    "app/assets/fonts/DejaVuSans.ttf",
    "app/assets/fonts/DejaVuSans-Bold.ttf",
    "app/assets/fonts/LICENSE-DejaVu.txt",
    "app/locales/lt/LC_MESSAGES/messages.mo",
    "app/locales/lt/LC_MESSAGES/messages.po",
    "sync_server/admin/templates/login.html",
    "sync_server/admin/static/admin.css",
)


def find_uv() -> str | None:
    local = ROOT / ".uv" / "bin" / "uv"
    return str(local) if local.is_file() else shutil.which("uv")


UV = find_uv()
pytestmark = pytest.mark.skipif(UV is None, reason="uv is not installed (run `make venv`, which "
                                                    "installs the pinned uv into .uv/)")


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{' '.join(cmd)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc  # type: ignore[no-any-return]


def uv_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")}
    return {**env, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}


def subcommands(help_text: str) -> set[str]:
    """The `{a,b,c}` choices of an argparse usage line."""
    match = re.search(r"\{([a-z0-9,-]+)\}", help_text)
    assert match, help_text
    return set(match.group(1).split(","))


@contextmanager
def serving(cmd: list[str], url: str, *, cwd: Path, env: dict[str, str],
            log: Path) -> Iterator[None]:
    """Start `cmd`, wait until `url` answers 200 (polling: the event itself, no fixed
    sleep), stop the process group afterwards."""
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 45
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"{cmd[0]} exited {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{cmd[0]} did not answer {url}:\n{log.read_text()}")
            time.sleep(0.1)
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (outside the checkout) with the locked dependencies and the wheel."""
    assert UV is not None
    work = tmp_path_factory.mktemp("wheel")
    assert ROOT not in work.parents
    # Build from a copy of exactly what the wheel is made of: a file the build needs but
    # the copy lacks fails here, and stale build/ folders of the checkout cannot leak in.
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for package in ("app", "sync_server"):
        shutil.copytree(ROOT / package, src / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run([UV, "build", "--wheel", "--offline", "-q", "-p", sys.executable,
         "--out-dir", str(work / "dist"), str(src)], env=uv_env())
    (wheel,) = (work / "dist").glob("shift_learning-*-py3-none-any.whl")

    venv = work / "venv"
    run([UV, "sync", "--offline", "--frozen", "--no-dev", "--no-install-project", "-q",
         "-p", sys.executable, "--project", str(ROOT)],
        env={**uv_env(), "UV_PROJECT_ENVIRONMENT": str(venv)})
    run([UV, "pip", "install", "--offline", "--no-deps", "-q", "-p", str(venv / "bin" / "python"),
         str(wheel)], env=uv_env())
    # the wheel's declared dependencies are exactly satisfied by the locked set
    run([UV, "pip", "check", "-q", "-p", str(venv / "bin" / "python")], env=uv_env())
    (work / "wheel-path").write_text(str(wheel))
    return work


def venv_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("SHIFT_")}
    return {**env, "PATH": f"{work / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def test_wheel_carries_the_run_time_files_and_console_scripts(installed: Path) -> None:
    wheel = Path((installed / "wheel-path").read_text())
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
        metadata = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    missing = [n for n in WHEEL_DATA if n not in names]
    assert not missing, missing
    assert not any(n.startswith(("tests/", "tools/", "content_packs/", "assets/")) for n in names)
    assert "shift-server = sync_server.cli:main" in entry_points
    assert "shift-app = app.__main__:main" in entry_points
    assert "License-Expression: EUPL-1.2" in metadata and "Project-URL: " in metadata


def test_installed_package_is_used_not_the_checkout(installed: Path) -> None:
    python = installed / "venv" / "bin" / "python"
    out = run([str(python), "-c", "import app, sync_server\n"
               "from app.core.resources import assets_dir, locales_dir\n"
               "print(app.__file__, sync_server.__file__, assets_dir(), locales_dir(), sep='\\n')"],
              cwd=installed, env=venv_env(installed)).stdout.split()
    site = installed / "venv" / "lib"
    for path in out:
        assert Path(path).is_relative_to(site), f"{path} is not from the installed wheel"


def test_console_scripts_have_every_subcommand(installed: Path) -> None:
    from app.__main__ import build_parser as app_parser
    from sync_server.cli import build_parser as server_parser

    env = venv_env(installed)
    server_help = run(["shift-server", "--help"], cwd=installed, env=env).stdout
    assert subcommands(server_help) == subcommands(server_parser().format_help())
    app_help = run(["shift-app", "--help"], cwd=installed, env=env).stdout
    assert subcommands(app_help) == subcommands(app_parser().format_help())
    ui_help = run(["shift-app", "--data-dir", "x", "--help"], cwd=installed, env=env).stdout
    assert all(flag in ui_help for flag in ("--data-dir", "--host", "--port"))
    # a sub-command that does real work, from the installed script
    run(["shift-server", "keygen", str(installed / "k" / "dev.key")], cwd=installed, env=env)
    assert (installed / "k" / "dev.key.pub").is_file()


def test_shift_server_serves_health_and_admin_pages(installed: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**venv_env(installed), "SHIFT_PUBLIC_BASE_URL": base}
    with serving(["shift-server", "serve", "--host", "127.0.0.1", "--port", str(port),
                  "--data-dir", str(installed / "server")],
                 f"{base}/api/v1/health", cwd=installed, env=env, log=installed / "server.log"):
        assert httpx.get(f"{base}/api/v1/health").json()
        login = httpx.get(f"{base}/admin/login")     # a Jinja template from the wheel
        assert login.status_code == 200 and "<form" in login.text
        css = httpx.get(f"{base}/admin/static/admin.css")  # a static file from the wheel
        installed_css = next((installed / "venv" / "lib").glob(
            "python*/site-packages/sync_server/admin/static/admin.css")).read_bytes()
        assert css.status_code == 200 and css.content == installed_css
    assert (installed / "server" / "server.sqlite3").is_file()


def test_shift_app_serves_the_page_and_font_of_the_wheel(installed: Path) -> None:
    (site_app,) = (installed / "venv" / "lib").glob("python*/site-packages/app")
    index = site_app / "assets" / "index.html"
    index.write_text(index.read_text(encoding="utf-8").replace(
        "</head>", f"{MARKER}\n</head>", 1), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    data = installed / "device data"
    with serving(["shift-app", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)],
                 url, cwd=installed, env=venv_env(installed), log=installed / "app.log"):
        page = httpx.get(url).text
        assert MARKER in page and GUARD in page and "flet.noCdn=true" in page
        font = httpx.get(url + "fonts/DejaVuSans.ttf")
        assert font.status_code == 200
        assert font.content == (site_app / "assets" / "fonts" / "DejaVuSans.ttf").read_bytes()
    assert any(data.iterdir()), "the device store was not created in --data-dir"
