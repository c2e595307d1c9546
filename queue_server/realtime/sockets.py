"""One live socket on the server side: its bounded queue of events and the writer task that drains
it, so a socket that reads slowly only ever waits on itself. While the socket keeps up (nothing
queued, the connection writable) an event's ready-made frame is written straight to the connection:
no task wakes up and nothing is encoded again for each of thousands of screens."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.protocol import State

from .events import ZERO, LiveEvent, StreamKey

log = logging.getLogger("queue_server.realtime")
_OPEN = State.OPEN


def _protocol(ws: WebSocket) -> Any:
    """The server's protocol object under an ASGI websocket, reached through the bound ``receive``."""
    return getattr(getattr(ws, "_receive", None), "__self__", None)


def _transport(ws: WebSocket) -> Any:
    """The server's transport under an ASGI websocket (uvicorn's protocols keep it as ``.transport``);
    None when the server offers no such handle."""
    return getattr(_protocol(ws), "transport", None)


def _frame_writer(ws: WebSocket) -> Any:
    """uvicorn's websockets (sans-I/O) protocol when it is the one serving ``ws``: its ``send`` of a
    text message is only "encode a frame, write it, unless paused or closing", which a ready-made
    frame can do without it. None for any other server, which then always goes through ASGI."""
    proto = _protocol(ws)
    conn = getattr(proto, "conn", None)
    if all(hasattr(proto, a) for a in ("transport", "writable", "close_sent")) and hasattr(conn, "state"):
        return proto
    return None


def abort_transport(ws: WebSocket) -> bool:
    """Cut the TCP connection at once. ASGI has no "abort", and a polite close waits for the very
    buffer a stalled client never drains."""
    transport = _transport(ws)
    if transport is None or not hasattr(transport, "abort"):
        return False
    transport.abort()
    return True


def limit_send_buffer(ws: WebSocket, size: int) -> None:
    """Cap the kernel's send buffer of this connection. Left to autotuning it grows to megabytes, so a
    frozen client would swallow a day of events before its send stalled, each one costing memory."""
    transport = _transport(ws)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError, ValueError):  # ValueError: the client already went (uvloop, fd -1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


class SocketSubscriber:
    """Events of one center (or of one window of it) on their way to one websocket."""

    __slots__ = ("center", "window", "ws", "queue_max", "pending", "wake", "floor", "sending_since", "last_sent",
                 "ping_text", "writer", "closed", "closing", "_send", "_direct")

    def __init__(self, ws: WebSocket, center: str, window: str | None, queue_max: int) -> None:
        self.ws = ws
        self.center = center
        self.window = window
        self.queue_max = queue_max
        self.pending: deque[LiveEvent] = deque()
        self.wake = asyncio.Event()
        self.floor: StreamKey = ZERO
        self.sending_since = 0.0
        self.last_sent = time.monotonic()
        self.ping_text: str | None = None
        self.writer: asyncio.Task | None = None
        self.closed: tuple[int, str] | None = None
        self.closing: asyncio.Task | None = None
        # The ASGI send under Starlette's wrapper: its per-message state checks cost more than the
        # frame itself on a fan-out, and this socket never sends after its close.
        self._send: Callable[[Message], Awaitable[None]] = ws._send
        self._direct: Any = None    # the protocol to write frames to, once live delivery began

    def offer(self, event: LiveEvent) -> bool:
        if self._direct is not None and not self.pending and not self.sending_since and self._write_frame(event):
            return True
        if len(self.pending) >= self.queue_max:
            return False
        self.pending.append(event)
        self.wake.set()
        return True

    def _write_frame(self, event: LiveEvent) -> bool:
        """Write the event's frame now if the connection takes it without waiting; False to queue it."""
        proto = self._direct
        if (proto.close_sent or not proto.writable.is_set() or proto.conn.state is not _OPEN
                or proto.transport.is_closing()):
            return False
        if event.key > self.floor:
            self.floor = event.key
            proto.transport.write(event.frame)
            self.last_sent = time.monotonic()
        return True

    def ping(self, text: str) -> None:
        self.ping_text = text
        self.wake.set()

    async def send(self, text: str) -> None:
        """Every send goes through here so the sweeper can see one that stalls."""
        self.sending_since = time.monotonic()
        try:
            await self._send({"type": "websocket.send", "text": text})
        finally:
            self.sending_since = 0.0
            self.last_sent = time.monotonic()

    def start(self, floor: StreamKey) -> None:
        """Begin live delivery; queued events at or below ``floor`` were already sent by the opening."""
        self.floor = floor
        self.writer = asyncio.create_task(self._write())
        self.writer.add_done_callback(self._writer_done)
        self._direct = _frame_writer(self.ws)

    def _writer_done(self, task: asyncio.Task) -> None:
        """A writer that died of anything but the connection ending takes its socket with it."""
        if task.cancelled() or self.closed is not None:
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, (WebSocketDisconnect, OSError, RuntimeError)):
            log.error("live socket writer failed", exc_info=exc)
            self.kill(1011, "internal error", hard=False)

    async def _write(self) -> None:
        pending, wake = self.pending, self.wake
        while True:
            while pending:
                event = pending.popleft()
                if event.key > self.floor:
                    self.floor = event.key
                    await self.send(event.text)
            if self.ping_text is not None:
                text, self.ping_text = self.ping_text, None
                await self.send(text)
                continue
            wake.clear()
            await wake.wait()

    def kill(self, code: int, reason: str, hard: bool = True) -> None:
        """Stop delivering and end the connection without ever waiting on the client: ``hard`` cuts it
        (a slow or stalled reader), otherwise a close frame gets two seconds before the cut."""
        if self.closed is not None:
            return
        self.closed = (code, reason)
        self._direct = None
        self.pending.clear()
        if self.writer is not None:
            self.writer.cancel()
        if not (hard and abort_transport(self.ws)):
            self.closing = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.ws.close(code, reason), 2.0)
        except Exception:  # noqa: BLE001 - gone or stalled: cut it
            abort_transport(self.ws)

    async def stop(self) -> None:
        """The connection is over: end the writer and let a close frame under way go out."""
        if self.writer is not None:
            self.writer.cancel()
        tasks = [t for t in (self.writer, self.closing) if t is not None]
        if tasks:
            await asyncio.wait(tasks)
