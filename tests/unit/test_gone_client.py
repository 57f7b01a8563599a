"""app/ui/gone_client.py without a server: the ASGI wrapper's three rules and the Flet
patch's fail-safe. The real race is reproduced in tests/integration/test_app_gone_client.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from flet.messaging.protocol import Message, MessageAction
from flet_web.fastapi.flet_app import FletApp
from uvicorn.protocols.utils import ClientDisconnected

from app.ui.gone_client import DropSendsToGoneClient, drop_flet_messages_after_close

Msg = dict[str, Any]


def inbox(*messages: Msg) -> Any:
    """An ASGI receive that hands out `messages`, then waits for ever."""
    queue: asyncio.Queue[Msg] = asyncio.Queue()
    for m in messages:
        queue.put_nowait(m)
    return queue.get


def refusing_send(sent: list[Msg]) -> Any:
    """An ASGI send whose client is gone after the accept (as uvicorn's)."""
    async def send(message: Msg) -> None:
        if message["type"] != "websocket.accept":
            raise ClientDisconnected()
        sent.append(message)
    return send


WS = {"type": "websocket"}


def test_frames_and_the_close_for_a_gone_client_are_dropped() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "bytes": b"\x00screen"})
        await send({"type": "websocket.close", "code": 1000})

    sent: list[Msg] = []
    asyncio.run(DropSendsToGoneClient(app)(WS, inbox({"type": "websocket.connect"}),
                                           refusing_send(sent)))
    assert [m["type"] for m in sent] == ["websocket.accept"]


def test_a_refused_accept_still_raises() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.send", "bytes": b"x"})  # fine: dropped
        await send({"type": "websocket.http.response.start", "status": 403})

    async def send(message: Msg) -> None:
        raise ClientDisconnected()

    with pytest.raises(ClientDisconnected):
        asyncio.run(DropSendsToGoneClient(app)(WS, inbox(), send))


def test_a_client_that_leaves_before_its_first_frame_ends_a_handler_stuck_for_good() -> None:
    async def stuck_app(scope: Any, receive: Any, send: Any) -> None:
        await receive()                                    # websocket.connect
        assert (await receive())["type"] == "websocket.disconnect"
        await asyncio.Event().wait()                       # Flet's send loop, no session

    asyncio.run(DropSendsToGoneClient(stuck_app)(
        WS, inbox({"type": "websocket.connect"}, {"type": "websocket.disconnect"}),
        refusing_send([])))


def test_after_a_frame_a_disconnect_is_flets_to_handle_and_shutdown_still_cancels() -> None:
    reached = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await receive()                                    # a frame: a session exists
        assert (await receive())["type"] == "websocket.disconnect"
        reached.set()
        await asyncio.Event().wait()

    async def main() -> None:
        task = asyncio.create_task(DropSendsToGoneClient(app)(
            WS, inbox({"type": "websocket.connect"},
                      {"type": "websocket.receive", "bytes": b"\x00hello"},
                      {"type": "websocket.disconnect"}), refusing_send([])))
        await reached.wait()
        await asyncio.sleep(0)      # let a (wrongly) scheduled cancel run, were there one
        assert not task.done()
        task.cancel()               # the server shutting down: not swallowed
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_http_passes_through_untouched() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((receive, send))

    async def receive() -> Msg:
        return {}

    async def send(message: Msg) -> None:
        pass

    asyncio.run(DropSendsToGoneClient(app)({"type": "http"}, receive, send))
    assert seen == [(receive, send)]


def test_flets_send_after_close_is_dropped_and_otherwise_unchanged() -> None:
    drop_flet_messages_after_close()
    drop_flet_messages_after_close()            # twice: patched once
    message = Message(MessageAction.REGISTER_CLIENT, {"ok": True})
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    FletApp.send_message(SimpleNamespace(_FletApp__send_queue=queue), message)  # type: ignore[arg-type]
    assert queue.qsize() == 1 and queue.get_nowait().startswith(b"\x00")
    FletApp.send_message(SimpleNamespace(_FletApp__send_queue=None), message)  # type: ignore[arg-type]
    # fail-safe: without the private attribute (a renamed one), Flet's own send runs
    with pytest.raises(AttributeError):
        FletApp.send_message(SimpleNamespace(), message)  # type: ignore[arg-type]
