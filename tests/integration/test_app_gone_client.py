"""A browser that goes away while the app is drawing: the Flet session is disconnected and
nothing is logged as an error (app/ui/gone_client.py).

The app runs on a real uvicorn on 127.0.0.1 in this process, so the test can hear Flet's
own "New session created" / "Session disconnected" lines and wait for them — the event
itself, not a sleep. Before the fix, a client that left mid-update made uvicorn log
"Exception in ASGI application" (the session then never disconnected: this test waited in
vain), or Flet log "Unhandled error processing page session" (AttributeError on the closed
send queue); a client that left before registering left its handler waiting for good."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import uvicorn
from websockets.asyncio.client import connect

from app.ui.main import create_asgi_app
from tests.support.server import free_port

REGISTER_CLIENT = 1


class Heard(logging.Handler):
    """Every log record of the app's process, with a condition to wait on."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    def count(self, start: str) -> int:
        return sum(r.getMessage().startswith(start) for r in self.records)

    def wait_for(self, start: str, times: int, timeout: float = 20.0) -> None:
        """Until ``times`` records starting with ``start`` have been heard."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.count(start) >= times, timeout):
                raise AssertionError(f"{start!r} ×{times} not heard in {timeout} s; heard: "
                                     + "; ".join(r.getMessage()[:80] for r in self.records))

    def problems(self) -> list[str]:
        return [f"{r.name} {r.levelname}: {r.getMessage()[:200]}"
                for r in self.records if r.levelno >= logging.WARNING]


@pytest.fixture
def heard() -> Iterator[Heard]:
    handler = Heard()
    root = logging.getLogger()
    levels = {"flet_web.fastapi": logging.INFO, "shift.ui": logging.DEBUG}
    old = {name: logging.getLogger(name).level for name in levels}
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    for name, level in old.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def app_url(tmp_path: Path, heard: Heard) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(create_asgi_app(tmp_path / "device", background_sync=False),
                            host="127.0.0.1", port=port, ws="websockets-sansio",
                            log_level="warning", log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="app-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "app did not start"
        time.sleep(0.05)
    yield f"ws://127.0.0.1:{port}/ws"
    server.should_exit = True
    thread.join(timeout=30)


def register(session_id: str = "") -> bytes:
    page = {"route": "/", "width": 800, "height": 600}
    return b"\x00" + msgpack.packb(
        [REGISTER_CLIENT, {"session_id": session_id, "page_name": "", "page": page}])


async def visit(url: str, leave: str) -> None:
    """Open the app's WebSocket as a browser would, register, and leave in one of three
    ways while the app is still sending the first screen — or leave before registering
    (the tab closed while the app was loading)."""
    async with connect(url) as ws:
        if leave == "before-registering":
            return
        await ws.send(register())
        if leave == "after-first-reply":
            await ws.recv()
        elif leave == "hang-up":
            ws.transport.abort()  # no close handshake: the tab was killed
        # "close-at-once": the context manager closes before any reply is read


LEAVES = ("close-at-once", "after-first-reply", "hang-up", "before-registering")
HANDLER_ENDED = "WebSocket handler ended"


def test_a_browser_leaving_mid_update_disconnects_its_session_quietly(
        app_url: str, heard: Heard) -> None:
    visits = sessions = 0
    for _ in range(4):
        for leave in LEAVES:
            asyncio.run(visit(app_url, leave))
            visits += 1
            sessions += leave != "before-registering"
            heard.wait_for(HANDLER_ENDED, visits)
            heard.wait_for("Session disconnected", sessions)
    assert heard.count("New session created") == sessions
    assert heard.count(HANDLER_ENDED) == visits
    assert heard.count(HANDLER_ENDED + ": 0 frame(s) in, 0 dropped, left before "
                       "registering") == 4
    assert heard.problems() == []


async def come_back(url: str, session_id: str) -> None:
    async with connect(url) as ws:
        await ws.send(register(session_id))
        action, body = msgpack.unpackb((await ws.recv())[1:], strict_map_key=False)
        assert action == REGISTER_CLIENT and body["session_id"] == session_id
        assert not body.get("error")


def test_a_browser_that_comes_back_gets_its_session_again(app_url: str, heard: Heard) -> None:
    """What the disconnect is for: Flet's web client reconnects with its session id, and
    Flet hands back only a session marked disconnected — one the race left "connected"
    made the returning tab start again in a new session, its screen lost. (The tab left
    before reading the reply here, so the id comes from Flet's "Start session" line.)"""
    for visits in (1, 2, 3):
        asyncio.run(visit(app_url, "close-at-once"))
        heard.wait_for("Session disconnected", 2 * visits - 1)
        started = [r.getMessage() for r in heard.records
                   if r.getMessage().startswith("Start session: ")]
        asyncio.run(come_back(app_url, started[-1].removeprefix("Start session: ")))
        heard.wait_for("Session disconnected", 2 * visits)
        assert heard.count("Session reconnected") == visits
        assert heard.count("New session created") == visits
    assert heard.problems() == []
