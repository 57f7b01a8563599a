"""docs/deployment.md §3 lists every environment variable of the project, and only those.

"Reads" is taken broadly: any `SHIFT_…` name written in the code, the tools, the tests,
the benchmarks, the Makefile, CI or the deploy/ files (a docstring that names a variable
counts: it tells a reader the variable exists). A new variable without a row fails here,
and so does a row for a variable nothing mentions any more.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployment.md"
NAME = re.compile(r"\bSHIFT_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
CODE_DIRS = ("app", "sync_server", "tools", "tests", "benchmarks")
OTHER_FILES = ("Makefile", ".ci/run", "deploy/shift-server.service", "deploy/shift-server.env")
HERE = Path(__file__).resolve()


def variables_in_code() -> dict[str, set[str]]:
    """{variable: {files that name it}} over the code and configuration files."""
    files = [f for d in CODE_DIRS for f in (ROOT / d).rglob("*.py") if f.resolve() != HERE]
    files += [ROOT / f for f in OTHER_FILES if (ROOT / f).is_file()]
    found: dict[str, set[str]] = {}
    for file in files:
        for name in NAME.findall(file.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, set()).add(str(file.relative_to(ROOT)))
    return found


def documented_variables() -> dict[str, list[str]]:
    """{variable: its table cells} from the table of docs/deployment.md §3."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## 3. Configuration (environment)", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if line.startswith("| `SHIFT_"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            name = cells[0].strip("`")
            assert name not in rows, f"{name} has two rows"
            rows[name] = cells
    return rows


def test_every_variable_the_code_reads_has_a_row() -> None:
    documented = documented_variables()
    missing = {name: sorted(files) for name, files in variables_in_code().items()
               if name not in documented}
    assert not missing, ("add these to the table in docs/deployment.md §3 (name, read by, "
                         f"default, meaning, example): {missing}")


def test_every_row_is_a_variable_something_reads() -> None:
    stale = sorted(set(documented_variables()) - set(variables_in_code()))
    assert not stale, f"docs/deployment.md §3 lists variables nothing reads: {stale}"


def test_every_row_is_complete() -> None:
    for name, cells in documented_variables().items():
        assert len(cells) == 5, f"{name}: expected 5 cells, got {cells}"
        assert all(cells[1:]), f"{name}: an empty cell (write – for none): {cells}"
        assert set(cells[1].replace(",", " ").split()) <= {"server", "app", "run", "tests"}, cells
        assert NAME.fullmatch(name), name


def test_the_scan_finds_variables_in_every_kind_of_file() -> None:
    """The scan itself works (it would pass vacuously on an empty result)."""
    found = variables_in_code()
    assert "sync_server/settings.py" in found["SHIFT_PUBLIC_BASE_URL"]
    assert "app/core/application/idle.py" in found["SHIFT_IDLE_LOCK_SECONDS"]
    assert "tools/run_all.py" in found["SHIFT_APP_PORT"]
    assert "Makefile" in found["SHIFT_SOAK"]
    assert len(found) >= 25
