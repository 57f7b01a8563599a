"""Withdrawing a pack (issue 21 item 2): the pack leaves the device catalogue, the tablet
hides it at its next sync and keeps the learners' progress; republished, it is shown
again without a download. Real server, real tablet store and pack library."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.application.content import InstalledContent
from app.sync.client import TOKEN_SECRET
from tests.integration.test_sync_client_support import (
    SAMPLE,
    ServerEnv,
    build,
    new_learner,
    open_device,
    server_env,
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerEnv]:
    with server_env(tmp_path_factory.mktemp("withdraw")) as e:
        e.upload(build(e, SAMPLE, "out-v1"))
        e.publish("promote-sample", 1, ["f1"])
        yield e


def _headers(dev) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {dev.store.settings.get_secret(TOKEN_SECRET).reveal()}"}


def test_withdrawn_pack_is_hidden_progress_kept_and_shown_again(env: ServerEnv,
                                                                tmp_path: Path) -> None:
    dev = open_device(tmp_path / "tab", env)
    try:
        report = dev.client.sync()
        assert [(p.id, p.status) for p in report.packs] == [("promote-sample", "installed")]
        content = InstalledContent(dev.library)
        before = content.catalog()
        assert [m["id"] for m in content.manifests()] == ["promote-sample"]
        learner = new_learner(dev.store, "LT-9")
        dev.store.append({"learner": learner, "type": "card.viewed", "pack": "promote-sample",
                          "pack_version": 1,
                          "ref": {"course": "boundaries", "lesson": "01-why", "card": "0"},
                          "data": {"seconds": 4.0, "lang": "en"}})
        dev.client.sync()

        r = httpx.post(f"{env.url}/api/v1/admin/packs/promote-sample/withdraw", headers=env.admin)
        assert r.status_code == 200 and r.json() == {"pack_id": "promote-sample", "withdrawn": 1}
        again = httpx.post(f"{env.url}/api/v1/admin/packs/promote-sample/withdraw",
                           headers=env.admin)
        assert again.status_code == 400 and "nothing to withdraw" in again.text
        assert httpx.post(f"{env.url}/api/v1/admin/packs/no-such/withdraw",
                          headers=env.admin).status_code == 404
        cat = httpx.get(f"{env.url}/api/v1/packs", headers=_headers(dev)).json()
        assert cat == {"packs": [], "withdrawn": ["promote-sample"]}

        dev.client.sync()
        assert dev.library.hidden() == {"promote-sample"}
        assert content.manifests() == []                 # hidden from the learners
        assert content.catalog() is not before           # the screens reload their engines
        assert dev.library.current_version("promote-sample") == 1   # still on disk
        assert [e["type"] for e in dev.store.events(learner)] == ["card.viewed"]
        # the server kept the event too (progress is never deleted by a withdrawal)
        lines = httpx.get(f"{env.url}/api/v1/admin/exports/xapi.jsonl", headers=env.admin).text
        assert learner in lines

        env.publish("promote-sample", 1, ["f1"])           # republished: shown again
        report = dev.client.sync()
        assert [(p.id, p.status) for p in report.packs] == [("promote-sample", "up_to_date")]
        assert dev.library.hidden() == set()
        assert [m["id"] for m in content.manifests()] == ["promote-sample"]
    finally:
        dev.close()


def test_withdrawal_reaches_only_its_audience(env: ServerEnv, tmp_path: Path) -> None:
    """A facility the pack was never published to gets no `withdrawn` entry (a pack it
    side-loaded from USB stays)."""
    other = open_device(tmp_path / "other", env, enrol=False)
    try:
        other.client.enrol(env.code("f2"), env.url)
        cat = httpx.get(f"{env.url}/api/v1/packs", headers=_headers(other)).json()
        assert cat["withdrawn"] == []
    finally:
        other.close()
