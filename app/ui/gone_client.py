"""The app's WebSocket when a browser goes away mid-update: no traceback, no leaked session.

Why: when a tab closes (or a tablet's browser is killed) while the app is still sending a
screen update, uvicorn's ``send`` raises ``ClientDisconnected``; Starlette turns that into
``WebSocketDisconnect``, and Flet 1.0.5's send loop re-raises it out of its connection
handler (flet_web/fastapi/flet_app.py, ``__send_loop`` → ``handle``). Two things then go
wrong:

* uvicorn logs "Exception in ASGI application" with a traceback for an ordinary event;
* ``handle`` never reaches its ``disconnect_session`` call, so the Flet session is never
  marked disconnected, never expires, and its page — with the learner's controller and
  its idle ticker — stays in memory for as long as the app runs; ``page.on_close`` (which
  locks the learner's session) never runs.

Dropping a frame meant for a client that is gone is the right answer: nobody can receive
it, and the receive side reports the disconnect to Flet as usual (``websocket.disconnect``
from uvicorn), which ends the send loop the normal way and disconnects the session.
That is :class:`DropSendsToGoneClient`. It also ends the handler of a client that leaves
before sending a single frame (a tab closed while the app was loading): Flet then has no
session, so its receive loop does not stop its send loop, and its handler would wait on an
empty queue for as long as the app runs.

A second window of the same race is inside Flet: once the receive side has seen the
disconnect, the send loop ends and sets the connection's queue to ``None``, but the page's
main task (still drawing the first screen) may send again before ``handle`` detaches the
connection from the session — ``AttributeError: 'NoneType' object has no attribute
'put_nowait'``, logged as "Unhandled error processing page session". Flet's own
data-channel send already drops frames in that state; :func:`drop_flet_messages_after_close`
makes its message send do the same.

Tests: tests/integration/test_app_gone_client.py (the races on a real uvicorn, against the
pinned Flet of uv.lock) and tests/unit/test_gone_client.py (the rules, the fail-safe).
When Flet is upgraded, see docs/app.md "A browser that goes away mid-update".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

#: Messages it is harmless to drop once the client is gone: a frame, or our own close.
DROPPABLE = frozenset({"websocket.send", "websocket.close"})

log = logging.getLogger("shift.ui")

#: Set on FletApp once patched: create_asgi_app may run more than once in a process.
_PATCHED = "_shift_drops_messages_after_close"


def drop_flet_messages_after_close() -> None:
    """Make Flet's ``FletApp.send_message`` drop a message once its connection's send
    queue is gone (the connection is closing), as its ``send_data_channel_frame`` does."""
    from flet_web.fastapi.flet_app import FletApp

    if getattr(FletApp, _PATCHED, False):
        return
    send_message = FletApp.send_message

    def send_unless_closed(self: Any, message: Any) -> None:
        # only a queue that exists and is None means "closing": were the private name
        # ever renamed, every message would still be sent (unpatched), never dropped
        if getattr(self, "_FletApp__send_queue", send_message) is None:
            return  # the client is gone; handle() is about to disconnect the session
        send_message(self, message)

    FletApp.send_message = send_unless_closed
    setattr(FletApp, _PATCHED, True)


class DropSendsToGoneClient:
    """Wrap an ASGI app: on a WebSocket, a frame sent after the client went away is
    dropped instead of raising, and a client that leaves before sending its first frame
    ends the handler (see the module docstring). HTTP passes through as is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive,
                       send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        me = asyncio.current_task()
        frames = dropped = 0
        left_early = finished = False

        def stop_waiting_handler() -> None:
            if not finished and me is not None:
                me.cancel()

        async def receive_watching() -> Message:
            nonlocal frames, left_early
            message = await receive()
            if message["type"] == "websocket.receive":
                frames += 1
            elif message["type"] == "websocket.disconnect" and frames == 0:
                # no frame, so no registration, so no Flet session: Flet's handler would
                # wait on its send queue for good once this reaches its receive loop
                left_early = True
                asyncio.get_running_loop().call_soon(stop_waiting_handler)
            return message

        async def send_unless_gone(message: Message) -> None:
            nonlocal dropped
            try:
                await send(message)
            except OSError:  # uvicorn's ClientDisconnected is an OSError
                if message["type"] not in DROPPABLE:
                    raise
                dropped += 1

        try:
            await self.app(scope, receive_watching, send_unless_gone)
        except asyncio.CancelledError:
            # ours (left_early) is swallowed; one from outside (server shutdown) is not
            if not left_early or me is None or me.uncancel() > 0:
                raise
        finally:
            finished = True
            log.debug("WebSocket handler ended: %d frame(s) in, %d dropped, %s",
                      frames, dropped, "left before registering" if left_early else "closed")
