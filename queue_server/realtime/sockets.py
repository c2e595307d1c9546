"""One live socket on the server side: its bounded queue of events, drained by a task of its own only
while it has a backlog, so a socket that reads slowly only ever waits on itself. While the socket
keeps up (nothing queued, the connection writable) an event's ready-made frame is written straight to
the connection: no task wakes up and nothing is encoded again for each of thousands of screens."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
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


@contextlib.contextmanager
def heard_in_place(ws: WebSocket, text: bytes, heard: Callable[[], None]) -> Iterator[None]:
    """While the block runs, a client frame of exactly ``text`` (a heartbeat) calls ``heard`` where
    uvicorn's websockets protocol parsed it, instead of going through ASGI: no message queued, no
    pause and resume of the connection's reading (two syscalls), no task woken, for what is nearly
    every frame the screens send. Anything else, and every frame under any other server, takes the
    ASGI way as before. Undone when the block ends, so nothing is heard once the handler is done."""
    proto = _protocol(ws)
    parsed = getattr(proto, "handle_text", None)
    if parsed is None or _frame_writer(ws) is None:
        yield
        return

    def handle_text(frame: Any) -> None:
        if frame.fin and frame.data == text and not proto.close_sent:
            heard()
        else:
            parsed(frame)

    proto.handle_text = handle_text
    try:
        yield
    finally:
        del proto.handle_text


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
    """Events of one center (or of one window of it) on their way to one websocket. A socket that keeps
    up costs no task: each event's frame is written to its connection as the event is published. Only
    while it has a backlog (events queued behind a full connection, or a ping) does a drain task exist,
    and it ends with the backlog; at 25,000 screens the idle ones are plain objects, not 25,000 tasks."""

    __slots__ = ("center", "window", "ws", "queue_max", "pending", "floor", "sending_since", "last_sent",
                 "ping_due", "live", "drain", "closed", "closing", "_send", "_direct")

    def __init__(self, ws: WebSocket, center: str, window: str | None, queue_max: int) -> None:
        self.ws = ws
        self.center = center
        self.window = window
        self.queue_max = queue_max
        self.pending: deque[LiveEvent] = deque()
        self.floor: StreamKey = ZERO
        self.sending_since = 0.0
        self.last_sent = time.monotonic()
        self.ping_due: tuple[str, bytes] | None = None   # a ping's text and frame, sent after the backlog
        self.live = False                        # the opening is done: live delivery may write
        self.drain: asyncio.Task | None = None   # only while there is a backlog
        self.closed: tuple[int, str] | None = None
        self.closing: asyncio.Task | None = None
        # The ASGI send under Starlette's wrapper: its per-message state checks cost more than the
        # frame itself on a fan-out, and this socket never sends after its close.
        self._send: Callable[[Message], Awaitable[None]] = ws._send
        self._direct: Any = None    # the protocol to write frames to, once live delivery began

    def offer(self, event: LiveEvent) -> bool:
        if self.drain is None and not self.pending and self._takes_now():
            if event.key > self.floor:
                self.floor = event.key
                self._direct.transport.write(event.frame)
                self.last_sent = time.monotonic()
            return True
        if len(self.pending) >= self.queue_max:
            return False
        self.pending.append(event)
        self._backlog()
        return True

    def ping(self, text: str, frame: bytes) -> None:
        """``frame`` is ``text`` as a websocket frame, made once per sweep for every socket it pings."""
        if self.drain is None and not self.pending and self._takes_now():
            self._direct.transport.write(frame)
            self.last_sent = time.monotonic()
            return
        self.ping_due = (text, frame)
        self._backlog()

    def _takes_now(self) -> bool:
        """Live, and the connection takes a frame without waiting (open, not paused by a full buffer)."""
        proto = self._direct
        return (proto is not None and not proto.close_sent and proto.writable.is_set()
                and proto.conn.state is _OPEN and not proto.transport.is_closing())

    def _backlog(self) -> None:
        """Something waits to be sent: make sure a drain is on it (none before the opening is done)."""
        if self.drain is None and self.live and self.closed is None:
            self.drain = asyncio.get_running_loop().create_task(self._drain())
            self.drain.add_done_callback(self._drain_done)

    async def send(self, text: str) -> None:
        """Every send of the opening goes through here so the sweeper can see one that stalls."""
        self.sending_since = time.monotonic()
        try:
            await self._send({"type": "websocket.send", "text": text})
        finally:
            self.sending_since = 0.0
            self.last_sent = time.monotonic()

    async def _send_frame(self, text: str, frame: bytes) -> None:
        """Send one message of the backlog: its ready-made frame once the connection is writable again
        (through ASGI when the server offers no protocol to write to). The sweeper sees a wait that
        lasts (``sending_since``) and cuts the socket."""
        proto = self._direct
        if proto is None:
            await self.send(text)
            return
        self.sending_since = time.monotonic()
        try:
            await proto.writable.wait()
            if proto.close_sent or proto.conn.state is not _OPEN or proto.transport.is_closing():
                raise ConnectionResetError("the connection is closing")
            proto.transport.write(frame)
        finally:
            self.sending_since = 0.0
            self.last_sent = time.monotonic()

    async def _drain(self) -> None:
        """Send the backlog in order, then the ping if one is due, and end: the next event that finds
        nothing queued and the connection writable goes straight out again."""
        pending = self.pending
        while True:
            if pending:
                event = pending.popleft()
                if event.key > self.floor:
                    self.floor = event.key
                    await self._send_frame(event.text, event.frame)
            elif self.ping_due is not None:
                (text, frame), self.ping_due = self.ping_due, None
                await self._send_frame(text, frame)
            else:
                self.drain = None   # here, not in a callback: an offer between the two would wait for nothing
                return

    def _drain_done(self, task: asyncio.Task) -> None:
        """A drain that died of anything but the connection ending takes its socket with it. One that
        ended with the connection stays as ``drain``: nothing more is sent, the queue fills and the
        socket is dropped, unless its handler, seeing the end, removes it first."""
        if task.cancelled() or self.closed is not None:
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, (WebSocketDisconnect, OSError, RuntimeError)):
            log.error("live socket drain failed", exc_info=exc)
            self.kill(1011, "internal error", hard=False)

    def start(self, floor: StreamKey) -> None:
        """Begin live delivery; queued events at or below ``floor`` were already sent by the opening."""
        self.floor = floor
        self._direct = _frame_writer(self.ws)
        self.live = True
        if self._waiting():
            self._backlog()

    def _waiting(self) -> bool:
        """Something came for the socket before live delivery began."""
        return bool(self.pending) or self.ping_due is not None

    def kill(self, code: int, reason: str, hard: bool = True) -> None:
        """Stop delivering and end the connection without ever waiting on the client: ``hard`` cuts it
        (a slow or stalled reader), otherwise a close frame gets two seconds before the cut."""
        if self.closed is not None:
            return
        self.closed = (code, reason)
        self._direct = None
        self.pending.clear()
        if self.drain is not None:
            self.drain.cancel()
        if not (hard and abort_transport(self.ws)):
            self.closing = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.ws.close(code, reason), 2.0)
        except Exception:  # noqa: BLE001 - gone or stalled: cut it
            abort_transport(self.ws)

    async def stop(self) -> None:
        """The connection is over: end the drain and let a close frame under way go out."""
        if self.drain is not None:
            self.drain.cancel()
        tasks = [t for t in (self.drain, self.closing) if t is not None]
        if tasks:
            await asyncio.wait(tasks)
