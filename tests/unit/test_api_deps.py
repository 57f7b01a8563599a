"""The API's trivial dependencies (RepoDep, StateDep, SettingsDep) run on the event loop.

FastAPI runs a plain `def` dependency in the thread pool: a hop there and back for an
attribute lookup, and under a burst of pulls it waits in the pool's queue behind the
other requests' real work (a sequential pull took 1.56–1.72 ms with them as `def`,
1.32–1.35 ms as `async def`). The device and admin look-ups read the database, so they
stay `def` (they must not block the event loop).
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Annotated, Any, get_args

import pytest
from fastapi import Depends, FastAPI
from fastapi.dependencies import utils as dependency_utils
from fastapi.testclient import TestClient

from sync_server.api.deps import RepoDep, SettingsDep, StateDep


def _dependency(alias: Any) -> Any:
    return get_args(alias)[1].dependency


@pytest.mark.parametrize("alias", [RepoDep, StateDep, SettingsDep], ids=["repo", "state", "settings"])
def test_trivial_dependencies_are_coroutines(alias: Any) -> None:
    assert inspect.iscoroutinefunction(_dependency(alias))


def plain() -> int:
    """The control: a `def` dependency, which FastAPI does send to the thread pool."""
    return 1


def _record_hops(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The callables FastAPI sends to the thread pool from now on (they still run)."""
    hops: list[Any] = []
    real = dependency_utils.run_in_threadpool

    async def recording(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(dependency_utils, "run_in_threadpool", recording)
    return hops


def test_trivial_dependencies_take_no_thread_pool_hop(monkeypatch: pytest.MonkeyPatch) -> None:
    repo, settings = object(), object()
    app = FastAPI()
    app.state.shift = SimpleNamespace(repo=repo, settings=settings)

    @app.get("/probe")
    async def probe(r: RepoDep, s: SettingsDep, st: StateDep,
                    one: Annotated[int, Depends(plain)]) -> dict[str, bool]:
        return {"repo": r is repo, "settings": s is settings,
                "state": st is app.state.shift, "plain": one == 1}

    hops = _record_hops(monkeypatch)
    with TestClient(app) as client:
        answer = client.get("/probe")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"repo": True, "settings": True, "state": True, "plain": True}
    assert hops == [plain]
