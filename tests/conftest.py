"""Suite-wide fixtures and the skip/require policy of optional test groups.

`browser` and `postgres` tests run when the machine has what they need; otherwise they
are skipped with the reason and how to enable them. CI sets SHIFT_REQUIRE_BROWSER=1 and
SHIFT_REQUIRE_POSTGRES=1, which turns such a skip into a failure.

Property tests (hypothesis) explore new random inputs on a developer's machine; under CI
(`CI` set, as .ci/run does) they are derandomized, so a clean checkout always runs the
same examples and a red CI is reproducible — a new input found locally becomes a named
regression test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hypothesis import settings  # noqa: E402

from tests.support.optional import browser_status, postgres_status  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


_REQUIRED = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = {
        "browser": (browser_status(), "SHIFT_REQUIRE_BROWSER"),
        "postgres": (postgres_status(), "SHIFT_REQUIRE_POSTGRES"),
    }
    run_slow = bool(os.environ.get("SHIFT_SOAK"))
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="soak test: run `make soak`"))
        for marker, ((ok, why), require_env) in groups.items():
            if marker in item.keywords and not ok:
                if os.environ.get(require_env):
                    required = (f"{marker} tests are required ({require_env}) but cannot run: "
                                f"{why}")
                    if not hasattr(config, "workerinput"):
                        pytest.exit(required, returncode=3)
                    # a test process of pytest-xdist cannot stop the run with its reason
                    # (the main process reports an internal error without it): the test
                    # fails with it instead (pytest_runtest_setup)
                    item.stash[_REQUIRED] = required
                else:
                    item.add_marker(pytest.mark.skip(reason=f"{marker} tests skipped: {why}"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if required := item.stash.get(_REQUIRED, ""):
        pytest.fail(required, pytrace=False)


BROWSER_TESTS = "tests/e2e/"
#: files outside tests/e2e with browser tests (tests/unit/test_parallel_suite.py checks it)
OTHER_BROWSER_FILES = ("tests/integration/test_flet_project.py",)


def work_unit(nodeid: str) -> str:
    """The unit `make test` hands to one test process: the test's file, or all files with
    browser tests together."""
    path = nodeid.split("::", 1)[0]
    return BROWSER_TESTS if path.startswith(BROWSER_TESTS) or path in OTHER_BROWSER_FILES \
        else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`make test` runs the suite on several processes (pytest-xdist, `--dist loadfile`):
    all of a file's tests on one process, so a module's server or browser starts once —
    and all browser tests (tests/e2e and OTHER_BROWSER_FILES) on the same one, so two
    Chromiums never draw at once and each browser test keeps a core beside the rest of
    the suite. With `--no-loadscope-reorder` the files go out in collection order:
    tests/e2e, the longest part, first."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class BrowserTestsTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return BrowserTestsTogether(config, log)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _sealed_store_everywhere(monkeypatch: pytest.MonkeyPatch,
                             request: pytest.FixtureRequest) -> None:
    """With SHIFT_TEST_SEALED_STORE=1 every Store opened without a key gets one (a fixed
    test key), so the store's whole test suite runs on encrypted folders too
    (docs/security.md "Encryption at rest"; tests that read store files as text fail
    there by design)."""
    if not os.environ.get("SHIFT_TEST_SEALED_STORE") or \
            getattr(request.module, "OWN_KEYS", False):   # tests that choose keys themselves
        return
    from app.core.store import Store
    from app.core.store.keys import FixedKey

    original = Store.open.__func__  # type: ignore[attr-defined]

    def open_sealed(cls: type, data_dir: object, **kwargs: object) -> object:
        if kwargs.get("keys") is None:
            kwargs["keys"] = FixedKey(b"k" * 32, created=True)
        return original(cls, data_dir, **kwargs)

    monkeypatch.setattr(Store, "open", classmethod(open_sealed))
