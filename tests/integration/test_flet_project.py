"""The `flet build` project of the device app (issue 12, part 3).

`flet build` itself cannot run here (it downloads Flutter, a JDK and the Android SDK), so
this tests what can be: the project tools/flet_project.py writes has the layout and the
entry module `flet build` looks for, its [tool.flet] keys are ones Flet 1.0.5 reads
(with the types it expects), its dependencies are the device's only and cover every
import of the app, and the entry module runs the app in web mode with its data folder
from FLET_APP_STORAGE_DATA (in Chromium too, where it is available).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.support.server import ROOT, free_port
from tools.flet_project import (
    DEVICE_DEPENDENCIES,
    MARKER,
    FletProjectError,
    locked_versions,
    normalise,
    write_project,
)

#: Every [tool.flet] key `flet build` 1.0.5 reads, from flet-cli 1.0.5
#: (flet_cli/commands/build_base.py: get_pyproject / get_platform_setting /
#: get_bool_setting calls) and its build template (android/app/build.gradle.kts,
#: AndroidManifest.xml, lib/flet_generated.dart). Platform-level keys may also stand
#: under [tool.flet.<platform>] (get_platform_setting looks there first).
FLET_GLOBAL_KEYS: dict[str, type | tuple[type, ...]] = {
    "org": str, "bundle_id": str, "product": str, "artifact": str, "company": str,
    "copyright": str, "build_number": int, "permissions": list, "icon_background": str,
    "app.path": str, "app.module": str, "app.exclude": list, "app.include": list,
    "app.default_excludes": bool, "app.hide_window_on_start": bool,
    "compile.app": bool, "compile.packages": bool, "cleanup.app": bool,
    "cleanup.packages": bool, "cleanup.app_files": list, "cleanup.package_files": list,
    "dev_packages": dict, "source_packages": list, "extract_packages": list,
    "target_arch": list, "flutter.build_args": list, "flutter.pubspec": dict,
    "template.url": str, "template.ref": str, "template.dir": str,
    "deep_linking.scheme": str, "deep_linking.host": str, "splash": dict,
    "boot_screen": dict,
}
FLET_PLATFORM_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "android": {
        "split_per_abi": bool, "legacy_packaging": bool, "min_sdk_version": int,
        "target_sdk_version": int, "adaptive_icon_background": str, "permission": dict,
        "feature": dict, "meta_data": dict, "provider": dict, "gradle_properties": dict,
        "proguard_rules": list, "proguard_default_rules": bool,
        "manifest_application": dict, "signing.key_store": str, "signing.key_alias": str,
        "dependencies": list, "deep_linking.scheme": str, "deep_linking.host": str,
    },
    "web": {"base_url": str, "cdn": bool, "renderer": str, "route_url_strategy": str,
            "pwa_background_color": str, "pwa_theme_color": str, "pwa_short_name": str,
            "wasm": bool, "dependencies": list},
    "windows": {"dependencies": list},
}
#: `flet build` 1.0.5 bundles one of these CPython lines (Flet's "Choosing a Python
#: version" table); the project's requires-python must select exactly one.
FLET_PYTHONS = ("3.12", "3.13", "3.14")
SERVER_ONLY = {"fastapi", "starlette", "uvicorn", "psycopg", "psycopg-binary", "jinja2",
               "segno", "fpdf2", "python-multipart", "flet-web", "flet-desktop"}


def leaves(table: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted keys of a TOML table; mapping-valued settings are leaves (their keys are
    the user's: permission names, manifest attributes, …)."""
    for key, value in table.items():
        path = f"{prefix}{key}"
        known = FLET_GLOBAL_KEYS.get(path) or next(
            (keys.get(path.split(".", 1)[1]) for plat, keys in FLET_PLATFORM_KEYS.items()
             if path.startswith(plat + ".")), None)
        if isinstance(value, dict) and known is not dict:
            yield from leaves(value, path + ".")
        else:
            yield path, value


def expected_type(path: str) -> type | tuple[type, ...] | None:
    if path in FLET_GLOBAL_KEYS:
        return FLET_GLOBAL_KEYS[path]
    platform, _, rest = path.partition(".")
    if platform in FLET_PLATFORM_KEYS:
        return FLET_PLATFORM_KEYS[platform].get(rest) or FLET_GLOBAL_KEYS.get(rest)
    return None


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("flet") / "flet-app")


def load(project: Path) -> dict[str, Any]:
    with (project / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def root_pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


# -- layout and config ------------------------------------------------------------------
def test_layout_has_the_entry_module_flet_build_looks_for(project: Path) -> None:
    flet = load(project)["tool"]["flet"]
    # flet-cli validate_entry_point: <path>/<module stem>.py must exist
    app_path = project / flet["app"]["path"]
    assert (app_path / f"{Path(flet['app']['module']).stem}.py").is_file()
    assert (project / "app" / "__main__.py").is_file() and (project / "app" / "core").is_dir()
    assert (project / "app" / "locales" / "lt" / "LC_MESSAGES" / "messages.mo").is_file()
    assert not (project / "app" / "assets").exists()          # fonts go to Flutter's assets
    assert (project / "assets" / "fonts" / "DejaVuSans.ttf").read_bytes() == \
        (ROOT / "app" / "assets" / "fonts" / "DejaVuSans.ttf").read_bytes()
    # flet build web copies assets/ over its output: our web-server page must not be there
    assert not (project / "assets" / "index.html").exists()
    assert not list(project.rglob("__pycache__")) and not list(project.rglob("*.pyc"))
    assert not (project / "sync_server").exists() and not (project / "tests").exists()


def test_flet_config_is_the_roots_and_every_key_is_one_flet_build_reads(project: Path) -> None:
    flet = load(project)["tool"]["flet"]
    assert flet == root_pyproject()["tool"]["flet"]
    for path, value in leaves(flet):
        kind = expected_type(path)
        assert kind is not None, f"[tool.flet] {path} is not a key flet build 1.0.5 reads"
        assert isinstance(value, kind), f"[tool.flet] {path}: {type(value).__name__}"
    # the Android package name: dot-separated Java identifiers, at least two parts
    parts = flet["bundle_id"].split(".")
    assert len(parts) >= 2 and all(p.isidentifier() and p.islower() for p in parts)
    for name, enabled in flet["android"]["permission"].items():
        assert name.startswith("android.permission.") and isinstance(enabled, bool)
    assert all(isinstance(v, str) for v in flet["android"]["manifest_application"].values())


def test_python_line_and_dependencies_are_the_devices(project: Path) -> None:
    meta = load(project)["project"]
    spec = SpecifierSet(meta["requires-python"])
    assert [v for v in FLET_PYTHONS if f"{v}.0" in spec] == ["3.12"]
    root_meta = root_pyproject()["project"]
    assert SpecifierSet(root_meta["requires-python"]).contains("3.12.0")
    reqs = [Requirement(r) for r in meta["dependencies"]]
    names = {normalise(r.name) for r in reqs}
    assert names == {normalise(n) for n in DEVICE_DEPENDENCIES}
    assert not names & SERVER_ONLY
    locked = locked_versions(ROOT / "uv.lock")
    for req in reqs:
        assert req.specifier.contains(locked[normalise(req.name)]), req  # the lock fits
    pinned = {normalise(r.name): str(r.specifier) for r in reqs}
    assert pinned["flet"] == f"=={locked['flet']}"  # the same Flet as flet build's template


def test_device_dependencies_cover_every_import_of_the_app(project: Path) -> None:
    """Import every module of the copied app package (and what app.ui.native pulls in) in
    a fresh interpreter where only the distributions the device dependencies bring in
    (what pip installs for the tablet) can be imported: any other import fails there as
    it would on the tablet (optional ones, like httpx's CLI extras, fall back)."""
    script = r'''
import importlib, importlib.abc, importlib.machinery, importlib.metadata as md, json, os
import pkgutil, sys, sysconfig
from packaging.requirements import Requirement

STDLIB = [sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]]
STDLIB.append(os.path.join(STDLIB[1], "lib-dynload"))

def norm(name):
    return name.lower().replace("_", "-").replace(".", "-")

allowed, todo = set(), [norm(n) for n in json.loads(sys.argv[2])]
while todo:
    name = todo.pop()
    if name in allowed:
        continue
    allowed.add(name)
    for text in md.requires(name) or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            todo.append(norm(req.name))
dists = md.packages_distributions()
for loaded in [m for m in sys.modules if m.split(".")[0] == "packaging"]:
    del sys.modules[loaded]       # the harness's, not the app's
blocked = []

class OnlyDeviceDistributions(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top == "app" \
                or {norm(d) for d in dists.get(top, [])} & allowed \
                or importlib.machinery.PathFinder.find_spec(top, STDLIB) is not None:
            return None
        blocked.append(name)
        raise ModuleNotFoundError(f"not a device dependency: {name}", name=name)

sys.meta_path.insert(0, OnlyDeviceDistributions())
sys.path.insert(0, sys.argv[1])
import app
for info in pkgutil.walk_packages(app.__path__, "app."):
    importlib.import_module(info.name)
import app.ui.native, app.sync
print(json.dumps({"app": app.__file__, "blocked": sorted(set(blocked)),
                  "server": [m for m in sys.modules if m.split(".")[0] == "sync_server"]}))
'''
    import json
    out = subprocess.run([sys.executable, "-c", script, str(project),
                          json.dumps(list(DEVICE_DEPENDENCIES))],
                         capture_output=True, text=True, timeout=120, cwd=project,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(result["app"]).is_relative_to(project)
    assert result["server"] == []
    # what was refused is only what the app must never need on a tablet
    assert not {normalise(b.split(".")[0]) for b in result["blocked"]} & \
        {normalise(n) for n in DEVICE_DEPENDENCIES}


def test_rewriting_keeps_flets_cache_and_never_touches_a_foreign_folder(tmp_path: Path) -> None:
    out = write_project(tmp_path / "fa")
    (out / "build" / "flutter").mkdir(parents=True)
    (out / "app" / "stale.py").write_text("raise SystemExit('stale')\n")
    write_project(out)
    assert (out / "build" / "flutter").is_dir() and not (out / "app" / "stale.py").exists()
    assert (out / MARKER).is_file()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("precious")
    with pytest.raises(FletProjectError, match="was not written by"):
        write_project(foreign)
    assert (foreign / "thesis.txt").read_text() == "precious"
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(FletProjectError):
        write_project(a_file)
    assert a_file.read_text() == "x"


def test_cli_writes_the_project_and_says_what_next(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "tools.flet_project", "--out",
                           str(tmp_path / "p")], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "flet build apk" in proc.stdout and (tmp_path / "p" / "main.py").is_file()
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "x").write_text("")
    proc = subprocess.run([sys.executable, "-m", "tools.flet_project", "--out",
                           str(tmp_path / "q")], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and \
        "was not written by" in proc.stderr


# -- the entry module runs ------------------------------------------------------------------
@contextmanager
def entry_in_web_mode(project: Path, data: Path, log: Path) -> Iterator[str]:
    """`python main.py` of the project, as Flet's web server (FLET_FORCE_WEB_SERVER),
    with the Flet host's data folder variable; yields the URL once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "SHIFT_DATA_DIR") and not k.startswith("FLET_")}
    env.update(FLET_FORCE_WEB_SERVER="1", FLET_SERVER_IP="127.0.0.1",
               FLET_SERVER_PORT=str(port), FLET_APP_STORAGE_DATA=str(data),
               PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    url = f"http://127.0.0.1:{port}/"
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "main.py"], cwd=project, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 45
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"main.py exited {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"main.py did not serve {url}:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(30) in (0, -signal.SIGTERM), log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_entry_module_runs_in_web_mode_with_the_flet_data_folder(project: Path,
                                                                 tmp_path: Path) -> None:
    data = tmp_path / "app storage"
    with entry_in_web_mode(project, data, tmp_path / "entry.log") as url:
        page = httpx.get(url)
        assert page.status_code == 200 and "flutter" in page.text.lower()
        font = httpx.get(url + "fonts/DejaVuSans.ttf")   # the project's assets/ folder
        assert font.content == (project / "assets" / "fonts" / "DejaVuSans.ttf").read_bytes()
        # the store was opened in FLET_APP_STORAGE_DATA before the app started serving
        assert (data / "store").is_dir()
    assert not (project / "var").exists()  # nothing written next to the code


@pytest.mark.browser
def test_entry_module_shows_the_app_and_lesson_images_as_bytes(project: Path,
                                                               tmp_path: Path) -> None:
    """The real app through the entry module in Chromium: a learner is created in the
    Flet data folder, and a lesson image arrives without the /packmedia route."""
    from app.core.application import Device
    from app.core.store.keys import KeyFile, default_key_file
    from tests.e2e.test_ui_e2e import create_profile
    from tests.e2e.ui_harness import chromium, install_fixture_packs

    data = tmp_path / "app storage"
    install_fixture_packs(data, tmp_path)
    with entry_in_web_mode(project, data, tmp_path / "entry.log") as url, chromium() as b:
        b.open(url)
        b.text("Who is learning?")
        create_profile(b, "Ona Petraitytė", "LT-0042", "2580")
        b.tap_card("Safety on the wing")
        b.tap("Start")
        b.tap("Next")
        b.text("Card 2 of 3")
        b.text("A ladder of steps from calm to crisis")   # the image's label
        assert not any("/packmedia/" in u for u in b.requests)
        # Every non-loopback request was blocked and the app worked. Flet's stock page
        # (this web-server path only; an APK has no page) asks a CDN for Rive's loader.
        assert all("@rive-app/" in u for u in b.blocked), b.blocked
    # the data folder is encrypted at rest; its key file is beside it (docs/security.md)
    device = Device.open(data, keys=KeyFile(default_key_file(data)))
    try:
        assert [t.name for t in device.profiles.tiles()] == ["Ona Petraitytė"]
    finally:
        device.close()
