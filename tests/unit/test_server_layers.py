"""The sync server's layers, checked on its import graph (read with `ast`, every import
counted, also those inside functions):

    foundation   errors, settings, logs, security, keyring, uploads, certificates(_pdf)
    db/          the repository (all SQL)
    services/    what the server does (and backup/)
    api/ admin/  HTTP: the JSON API, the console, the public certificate pages
    app          the composition root (create_app)
    cli          commands/, cli.py, cli_support.py, __main__.py

Imports point down or sideways within a layer, never up, and never in a circle; no
module is looked up by name at run time (importlib); routes and console pages reach the
repository only through services/.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sync_server.db.repository import Repository
from tests.support.graphs import circles

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sync_server"
LAYERS = (  # (module prefix, rank); the longest matching prefix wins
    ("sync_server", 0), ("sync_server.db", 1), ("sync_server.services", 2),
    ("sync_server.backup", 2), ("sync_server.api", 3), ("sync_server.admin", 3),
    ("sync_server.middleware", 3), ("sync_server.app", 4), ("sync_server.cli", 5),
    ("sync_server.cli_support", 5), ("sync_server.commands", 5), ("sync_server.__main__", 5),
)


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import names (a name inside a module: that module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from package import x` runs the package's __init__ too
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            target = _resolve(name) if name.startswith("sync_server") else None
            if target and target != module:
                found.add(target)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _layer(module: str) -> int:
    best = ("", 0)
    for prefix, rank in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best[0]):
            best = (prefix, rank)
    return best[1]


def test_no_relative_imports_hide_an_edge() -> None:
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree)), module


def test_imports_never_point_up() -> None:
    upward = sorted(f"{m} ({_layer(m)}) imports {t} ({_layer(t)})"
                    for m, targets in GRAPH.items() for t in targets if _layer(t) > _layer(m))
    assert not upward, "\n".join(upward)


def test_no_import_circles() -> None:
    assert circles(GRAPH) == []


def test_no_module_is_looked_up_by_name() -> None:
    """Only importlib.metadata / importlib.resources (package data, the version)."""
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert all(a.name not in ("importlib", "pkgutil") for a in node.names), module
            if isinstance(node, ast.ImportFrom) and node.module in ("importlib", "pkgutil"):
                raise AssertionError(f"{module} imports from {node.module}")
            if isinstance(node, ast.Name):
                assert node.id not in ("__import__", "import_module"), module


def test_routes_and_pages_reach_the_repository_only_through_services() -> None:
    methods = {name for name in dir(Repository) if not name.startswith("_")} - {"dialect"}
    direct = []
    for module, path in MODULES.items():
        if _layer(module) != 3:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in methods
                    and "repo" in ast.unparse(node.value).lower()):
                direct.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    assert not direct, "\n".join(direct)


def test_the_layer_table_covers_every_module() -> None:
    assert set(MODULES) >= {"sync_server.app", "sync_server.db.repository",
                            "sync_server.services.sync", "sync_server.api.deps",
                            "sync_server.admin.console", "sync_server.cli"}
    assert {_layer(m) for m in MODULES} == {0, 1, 2, 3, 4, 5}
