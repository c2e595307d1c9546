"""Live delivery without a task per socket: a socket that keeps up gets each event's frame written
as it is published, and only a backlog (a connection that stopped taking frames) starts a drain task,
which ends with the backlog. What must hold across the two paths, against a real uvicorn server and
raw TCP clients that stop and resume reading: every event once and in order, a ping after what was
queued before it, a socket that stalls mid-backlog cut by the sweeper, a burst larger than the queue
dropped with 1013, and no task left behind once the backlog is gone. And the heartbeats clients send, heard where
uvicorn parsed them rather than each going through ASGI."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect

from queue_server.cli import UVICORN_WS
from queue_server.embedded import free_port
from queue_server.realtime.config import RealtimeConfig
from queue_server.realtime.events import ZERO, LiveEvent, decode, text_frame
from queue_server.realtime.hub import Hub
from queue_server.realtime.endpoints import HEARTBEAT
from queue_server.realtime.sockets import SocketSubscriber, heard_in_place, limit_send_buffer

C = "jingansi"
PAD = "号" * 2_000    # ~6 KB a message: a few dozen fill the small buffers of these sockets


def event(n: int) -> LiveEvent:
    data = {"type": "ticket.issued", "at": n, "ticket": {"id": f"{C}-20260101-A{n:03d}"}, "pad": PAD}
    e = decode(C, f"{1000 + n}-0".encode(), {b"data": orjson.dumps(data)})
    assert e is not None
    return e


class Server:
    """One uvicorn server in this process, served as the app is (``UVICORN_WS``), whose websocket
    route subscribes each connection to ``hub`` with a queue of ``queue_max``."""

    def __init__(self, hub: Hub, queue_max: int) -> None:
        self.hub, self.queue_max = hub, queue_max
        self.subs: list[SocketSubscriber] = []
        self.clients: list[Client] = []   # closed before the server stops, which waits for them
        self.port = free_port()
        app = Starlette(routes=[WebSocketRoute("/live", self.live), WebSocketRoute("/heard", self.heard)])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="off",
                                                    log_level="warning", **UVICORN_WS))

    async def live(self, ws: WebSocket) -> None:
        await ws.accept()
        limit_send_buffer(ws, 4096)
        sub = SocketSubscriber(ws, C, None, self.queue_max)
        self.hub.add(sub)
        sub.start(ZERO)
        self.subs.append(sub)
        try:
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass
        finally:
            self.hub.remove(sub)
            await sub.stop()

    async def heard(self, ws: WebSocket) -> None:
        """Counts heartbeats heard in place and reports what reached ASGI, until "bye"; after the
        block ("done"), one more message, which must come through ASGI again."""
        await ws.accept()
        beats: list[int] = []
        read: list[str] = []
        with heard_in_place(ws, HEARTBEAT.encode(), lambda: beats.append(1)):
            while (text := (await ws.receive())["text"]) != "bye":
                read.append(text)
        await ws.send_text("done")
        read.append((await ws.receive())["text"])
        await ws.send_text(orjson.dumps({"beats": len(beats), "read": read}).decode())
        await ws.close()


@pytest.fixture
async def hub() -> Hub:
    return Hub(RealtimeConfig(stall_s=0.5, ping_s=15))


@contextlib.asynccontextmanager
async def serving(hub: Hub, queue_max: int) -> AsyncIterator[Server]:
    s = Server(hub, queue_max)
    task = asyncio.create_task(s.server.serve())
    try:
        while not s.server.started:
            await asyncio.sleep(0.01)
        yield s
    finally:
        for client in s.clients:
            client.close()
        s.server.should_exit = True
        await task


@pytest.fixture
async def served(hub: Hub) -> AsyncIterator[Server]:
    async with serving(hub, queue_max=1_000) as s:
        yield s


class Client:
    """A raw TCP websocket client with a tiny receive buffer that reads only when told to."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    @classmethod
    async def open(cls, port: int) -> Client:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(sock, (f"GET /live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                                       "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += await loop.sock_recv(sock, 1)   # byte by byte: leave the frames after it unread
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(sock)

    async def messages(self, n: int, timeout: float = 10) -> list[dict]:
        """The next ``n`` text messages, reading as fast as they come."""
        loop = asyncio.get_running_loop()
        out: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            while (frame := self._take()) is not None and len(out) < n:
                out.append(orjson.loads(frame))
            if len(out) < n:
                data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), deadline - time.monotonic())
                assert data, f"closed after {len(out)} of {n} messages"
                self.buf += data
        return out

    def _take(self) -> bytes | None:
        if len(self.buf) < 2:
            return None
        assert self.buf[0] == 0x81, self.buf[:2]    # final text frames only
        n, head = self.buf[1] & 0x7F, 2
        if n == 126:
            n, head = int.from_bytes(self.buf[2:4], "big"), 4
        if len(self.buf) < head + n:
            return None
        payload = bytes(self.buf[head:head + n])
        del self.buf[:head + n]
        return payload

    async def ended(self, timeout: float = 5) -> bool:
        """Read what is left; True once the server has ended the connection (FIN or reset)."""
        loop = asyncio.get_running_loop()
        try:
            while await asyncio.wait_for(loop.sock_recv(self.sock, 65536), timeout):
                pass
        except ConnectionResetError:
            return True
        except asyncio.TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.sock.close()


async def connected(served: Server, n: int = 1) -> list[tuple[Client, SocketSubscriber]]:
    clients = [await Client.open(served.port) for _ in range(n)]
    served.clients += clients
    while len(served.subs) < n:
        await asyncio.sleep(0.01)
    return list(zip(clients, served.subs))


def backlog(hub: Hub, sub: SocketSubscriber, first: int) -> int:
    """Publish events from ``first`` until the connection stops taking them and a few wait in the
    queue; returns the next event's number."""
    n = first
    while len(sub.pending) < 3:
        hub.publish(event(n))
        n += 1
        assert n < first + 500, "the connection never filled"
    assert sub.drain is not None
    return n


async def test_a_socket_that_keeps_up_costs_no_task(hub: Hub, served: Server) -> None:
    pairs = await connected(served, 20)
    tasks = len(asyncio.all_tasks())
    for n in range(1, 4):
        hub.publish(event(n))
    assert all(sub.drain is None and not sub.pending for _, sub in pairs)
    assert len(asyncio.all_tasks()) == tasks
    for client, _ in pairs:
        assert [m["id"] for m in await client.messages(3)] == ["1001-0", "1002-0", "1003-0"]
        client.close()


async def test_direct_writes_and_a_backlog_interleave_in_order(hub: Hub, served: Server) -> None:
    [(client, sub)] = await connected(served)
    hub.publish(event(1))                    # straight to the connection
    nxt = backlog(hub, sub, 2)               # the client does not read: a backlog, drained by a task
    hub.publish(event(1))                    # already sent: never again, whichever path it meets
    hub.publish(event(nxt))                  # queued behind the backlog, not written ahead of it
    got = await client.messages(nxt)
    assert [m["id"] for m in got] == [f"{1000 + n}-0" for n in range(1, nxt + 1)]
    for _ in range(100):
        if sub.drain is None:
            break
        await asyncio.sleep(0.01)
    assert sub.drain is None and not sub.pending   # the backlog gone, so is its task
    hub.publish(event(nxt + 1))
    assert sub.drain is None                 # written directly again
    assert [m["id"] for m in await client.messages(1)] == [f"{1000 + nxt + 1}-0"]


async def test_a_ping_while_backlogged_follows_the_backlog(hub: Hub, served: Server) -> None:
    [(client, sub)] = await connected(served)
    nxt = backlog(hub, sub, 1)
    sub.last_sent = sub.sending_since = 0.0   # as if silent and not sending, so the sweep pings it
    hub.sweep(now=time.monotonic(), now_ms=42)
    assert sub.ping_due is not None and sub.closed is None
    got = await client.messages(nxt)
    assert [m["id"] for m in got[:-1]] == [f"{1000 + n}-0" for n in range(1, nxt)]
    assert got[-1] == {"type": "ping", "now": 42}
    for _ in range(100):
        if sub.drain is None:
            break
        await asyncio.sleep(0.01)
    sub.ping("{\"type\":\"ping\",\"now\":43}", text_frame(b"{\"type\":\"ping\",\"now\":43}"))
    assert sub.drain is None and sub.ping_due is None    # idle: written at once, no task
    assert await client.messages(1) == [{"type": "ping", "now": 43}]


async def test_a_socket_that_stalls_mid_backlog_is_cut(hub: Hub, served: Server) -> None:
    [(frozen, sub), (reader, other)] = await connected(served, 2)
    n = 0
    got: list[dict] = []
    while len(sub.pending) < 3:              # events at a pace its neighbour keeps up with
        n += 1
        hub.publish(event(n))
        got += await reader.messages(1)
        assert n < 500, "the connection never filled"
    await asyncio.sleep(0.6)                 # stall_s is 0.5: the drain has waited that long
    assert sub.sending_since and other.drain is None and not other.sending_since
    hub.sweep(now=time.monotonic(), now_ms=1)
    assert sub.closed == (1013, "send stalled") and hub.dropped == 1
    assert sub.drain is not None and (sub.drain.cancelled() or sub.drain.cancelling())
    assert await frozen.ended()
    hub.publish(event(n + 1))
    got += await reader.messages(1)          # its neighbour got everything, in order
    assert [m["id"] for m in got] == [f"{1000 + i}-0" for i in range(1, n + 2)]
    assert hub.subscribers() == [other]


async def test_a_burst_larger_than_the_queue_drops_the_socket(hub: Hub) -> None:
    async with serving(hub, queue_max=5) as s:
        [(frozen, sub)] = await connected(s)
        for n in range(1, 200):
            hub.publish(event(n))
            if sub.closed:
                break
        assert sub.closed == (1013, "send queue overflow") and hub.dropped == 1
        assert not sub.pending and hub.subscribers() == []
        assert await frozen.ended()


async def test_heartbeats_are_heard_where_they_are_parsed(served: Server) -> None:
    """The pages' heartbeat is heard in the protocol and never reaches the handler's reads; any other
    message does, in order, and once the handler is done with heartbeats they take the ASGI way again."""
    async with connect(f"ws://127.0.0.1:{served.port}/heard") as ws:
        for text in (HEARTBEAT, HEARTBEAT, '{"type": "heartbeat"}', HEARTBEAT, "nonsense", HEARTBEAT, "bye"):
            await ws.send(text)
        assert await ws.recv() == "done"
        await ws.send(HEARTBEAT)
        assert orjson.loads(await ws.recv()) == {"beats": 4, "read": ['{"type": "heartbeat"}', "nonsense", HEARTBEAT]}
