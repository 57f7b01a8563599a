"""`make flet-app`: write the `flet build` project of the device app (default build/flet-app/).

    python -m tools.flet_project [--out DIR]

`flet build apk|aab|windows|web` packages a folder: its `pyproject.toml` ([project]
dependencies + [tool.flet]), an entry module and everything beside it. It cannot run at
the repository root: the root's [project] dependencies include the sync server
(FastAPI, uvicorn[standard], psycopg[binary], …), which have no Android wheels and do
not belong on a tablet, and the root holds tests, content sources and tools. So this
tool writes a self-contained project for it (docs/deployment.md has the build commands):

    DIR/pyproject.toml   [project]: the device's dependencies only (pure-Python ones pinned
                         to uv.lock, binary ones as ranges so the mobile wheel index can
                         serve its build); [tool.flet]: the root's table, unchanged
    DIR/main.py          entry module: app.__main__.run_device_app (app/ui/native.py)
    DIR/app/             the app package (without app/assets: Flutter bundles DIR/assets)
    DIR/assets/fonts/    the bundled fonts (page.fonts → Flutter assets)

Re-running replaces everything but DIR/build/ (flet's Flutter project cache). A folder
that this tool did not write is never touched.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "flet-app"
MARKER = ".shift-flet-project"
#: Distributions the device app imports (checked by tests/unit/test_flet_project.py
#: against what the app really imports). Everything else in the root's dependencies is
#: the sync server's or the web mode's (flet-web brings FastAPI and uvicorn).
DEVICE_DEPENDENCIES = ("flet", "flet-charts", "flet-secure-storage", "tinydb", "httpx",
                       "markdown-it-py", "babel", "cryptography", "argon2-cffi")
#: Compiled packages: their wheels for Android/iOS come from Flet's mobile index, which
#: carries its own builds, so they keep the root's version range instead of the lock pin.
BINARY_DEPENDENCIES = frozenset({"cryptography", "argon2-cffi"})
#: The bundled CPython of `flet build` (3.12, 3.13 or 3.14 in Flet 1.0.5): 3.12 is the
#: line Flet's mobile wheel index has carried longest. `--python-version` overrides it.
DEVICE_PYTHON = "3.12"
ENTRY_MODULE = '''"""Entry module of the `flet build` project of Shift Learning (written by
tools/flet_project.py in the repository: change that, not this copy)."""

from pathlib import Path

from app.__main__ import run_device_app

if __name__ == "__main__":
    run_device_app(Path(__file__).resolve().parent / "assets")
'''

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class FletProjectError(Exception):
    """The project cannot be written (unknown dependency, foreign output folder, …)."""


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock_file: Path) -> dict[str, str]:
    with lock_file.open("rb") as fh:
        lock = tomllib.load(fh)
    return {normalise(p["name"]): str(p["version"]) for p in lock.get("package", [])
            if "version" in p}


def device_dependencies(pyproject: dict[str, Any], locked: dict[str, str]) -> list[str]:
    """The device's requirement strings, from the root's [project] dependencies."""
    by_name: dict[str, tuple[str, str]] = {}
    for requirement in pyproject["project"]["dependencies"]:
        match = _REQ.match(requirement)
        if not match:
            raise FletProjectError(f"pyproject.toml: cannot read dependency {requirement!r}")
        by_name[normalise(match.group(1))] = (match.group(1), match.group(3))
    out = []
    for name in DEVICE_DEPENDENCIES:
        key = normalise(name)
        if key not in by_name:
            raise FletProjectError(f"pyproject.toml [project] dependencies lack {name!r}, "
                                   "which the device app needs (tools/flet_project.py)")
        spelled, spec = by_name[key]
        if key in BINARY_DEPENDENCIES:
            out.append(f"{spelled}{spec}")
        elif key in locked:
            out.append(f"{spelled}=={locked[key]}")
        else:
            raise FletProjectError(f"uv.lock has no version of {name!r}: run `make lock`")
    return out


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise FletProjectError(f"cannot write {type(value).__name__} values to TOML")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_value(key)


def toml_tables(table: dict[str, Any], prefix: str) -> list[str]:
    """``table`` as TOML text under ``[prefix]`` (nested dicts become sub-tables)."""
    lines = [f"[{prefix}]"]
    nested = []
    for key, value in table.items():
        if isinstance(value, dict):
            nested.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    lines.append("")
    for key, value in nested:
        lines += toml_tables(value, f"{prefix}.{_toml_key(key)}")
    return lines


def project_toml(root: Path = ROOT) -> str:
    """The generated pyproject.toml: device [project] + the root's [tool.flet]."""
    with (root / "pyproject.toml").open("rb") as fh:
        pyproject = tomllib.load(fh)
    flet = pyproject.get("tool", {}).get("flet")
    if not isinstance(flet, dict):
        raise FletProjectError("pyproject.toml has no [tool.flet] table")
    project = pyproject["project"]
    deps = device_dependencies(pyproject, locked_versions(root / "uv.lock"))
    lines = [
        "# Written by tools/flet_project.py from the repository's pyproject.toml and",
        "# uv.lock: change those and re-run `make flet-app`, not this copy.",
        "[project]",
        f"name = {_toml_value(project['name'])}",
        f"version = {_toml_value(project['version'])}",
        f"description = {_toml_value(project['description'])}",
        f"requires-python = {_toml_value(f'=={DEVICE_PYTHON}.*')}",
        "dependencies = [",
        *(f"    {_toml_value(d)}," for d in deps),
        "]",
        "",
        *toml_tables(flet, "tool.flet"),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _clear(out: Path) -> None:
    """Empty a folder this tool wrote before (keeping flet's build/ cache)."""
    if not out.exists():
        return
    if not out.is_dir() or not (out / MARKER).is_file():
        raise FletProjectError(f"{out} exists and was not written by tools/flet_project.py; "
                               "choose another --out or remove it yourself")
    for entry in out.iterdir():
        if entry.name == "build":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def write_project(out: Path = DEFAULT_OUT, root: Path = ROOT) -> Path:
    """Write (or refresh) the `flet build` project in ``out``; returns ``out``."""
    text = project_toml(root)           # fails before anything is touched
    _clear(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by tools/flet_project.py\n", encoding="utf-8")
    app_src = root / "app"

    def skip(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
        if Path(folder) == app_src:
            skipped.add("assets")  # the fonts go to out/assets (Flutter's asset bundle)
        return skipped

    shutil.copytree(app_src, out / "app", ignore=skip)
    shutil.copytree(app_src / "assets" / "fonts", out / "assets" / "fonts")
    (out / "main.py").write_text(ENTRY_MODULE, encoding="utf-8")
    (out / "pyproject.toml").write_text(text, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.flet_project",
                                     description="write the `flet build` project of the app")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"project folder (default: {DEFAULT_OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    try:
        out = write_project(args.out.resolve())
    except FletProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"flet build project: {out}")
    print(f"next: cd {out} && flet build apk   (docs/deployment.md, \"Android tablets\")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
