"""`make test` runs the suite on several processes (pytest-xdist; tests/conftest.py). What
keeps that safe: each file's tests, and all browser tests, stay on one process; each
process takes ports from its own share; and a test group CI requires still cannot be
skipped quietly — under xdist its tests fail with the reason instead of stopping the run."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BROWSER_TESTS, work_unit
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_PACK_UI = "tests/e2e/test_ui_hostile_pack.py"     # a browser test
A_UNIT_TEST = ("tests/unit/test_parallel_suite.py::"
               "test_browser_tests_share_one_unit_and_other_files_keep_their_own")


def test_browser_tests_share_one_unit_and_other_files_keep_their_own() -> None:
    assert work_unit(f"{HOSTILE_PACK_UI}::test_x") == BROWSER_TESTS
    assert work_unit("tests/e2e/test_ui_layout.py::test_y[360x800]") == BROWSER_TESTS
    assert work_unit("tests/unit/test_a.py::test_b[tests/e2e/x]") == "tests/unit/test_a.py"
    assert work_unit("tests/integration/test_c.py::Klass::test_d") == \
        "tests/integration/test_c.py"


def test_every_file_with_browser_tests_is_in_the_browser_unit() -> None:
    marked = sorted(str(f.relative_to(ROOT)) for f in (ROOT / "tests").rglob("test_*.py")
                    if f.name != Path(__file__).name
                    and "mark.browser" in f.read_text(encoding="utf-8"))
    assert HOSTILE_PACK_UI in marked and "tests/integration/test_flet_project.py" in marked
    assert {f: work_unit(f"{f}::test") for f in marked} == {f: BROWSER_TESTS for f in marked}


@pytest.mark.parametrize("index", [0, 1, 2])
def test_each_test_process_takes_ports_from_its_own_share(
        monkeypatch: pytest.MonkeyPatch, index: int) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
    ports = {free_port() for _ in range(12)}
    assert all((port // 2) % 3 == index for port in ports), ports
    with socket.socket() as s:          # and it is free
        s.bind(("127.0.0.1", ports.pop()))


def _run_without_chromium(tmp_path: Path, *xdist: str) -> subprocess.CompletedProcess[str]:
    """The suite's policy on a machine without a browser while CI requires one."""
    (tmp_path / "no_chromium.py").write_text(
        "import tests.support.optional as o\n"
        "o.browser_status = lambda: (False, 'no chromium (this test hides it)')\n",
        encoding="utf-8")
    env = {**os.environ, "SHIFT_REQUIRE_BROWSER": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no_chromium", "-p", "no:cacheprovider", "-q",
         "--basetemp", str(tmp_path / "t"), *xdist, HOSTILE_PACK_UI, A_UNIT_TEST],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("xdist", [[], ["-n", "2", "--dist", "loadfile"]],
                         ids=["one process", "two processes"])
def test_a_required_group_that_cannot_run_turns_the_run_red_with_the_reason(
        tmp_path: Path, xdist: list[str]) -> None:
    done = _run_without_chromium(tmp_path, *xdist)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-3000:]
    assert "browser tests are required (SHIFT_REQUIRE_BROWSER) but cannot run: " \
           "no chromium (this test hides it)" in out, out[-3000:]
    assert "INTERNALERROR" not in out, out[-3000:]
    if xdist:   # the other tests still ran and passed; the browser test failed, not skipped
        summary = out.strip().splitlines()[-1]
        assert re.search(r"\d+ passed, \d+ errors? in ", summary), summary
        assert "skipped" not in summary, summary
