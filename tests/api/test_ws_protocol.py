"""The websockets served with rare protocol pings (``api/ws_protocol.py``): every connection carries
the kernel's dead-peer watch, as the app is served (``cli.UVICORN_WS``), and protocol pings come
only every 5 minutes; and, in a network namespace of its own where a client's address can vanish
mid-connection, the watch is what cuts a peer gone without a word — uvicorn's stock protocol, its
pings as rare, keeps that connection for as long as the test waits."""
from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect

from queue_server.api.ws_protocol import DEAD_PEER_S
from queue_server.cli import UVICORN_WS
from queue_server.embedded import free_port
from queue_server.realtime.sockets import _protocol, _transport

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = {"SO_KEEPALIVE": (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
           "TCP_USER_TIMEOUT": (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
           "TCP_KEEPIDLE": (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
           "TCP_KEEPINTVL": (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
           "TCP_KEEPCNT": (socket.IPPROTO_TCP, socket.TCP_KEEPCNT)}


async def options(ws: WebSocket) -> None:
    """Tells the client the options of the server's side of its connection and the interval of its
    protocol pings, then waits for it to go."""
    await ws.accept()
    sock = _transport(ws).get_extra_info("socket")
    found = {name: sock.getsockopt(*opt) for name, opt in OPTIONS.items()}
    await ws.send_text(json.dumps({**found, "ping_interval": _protocol(ws).ping_interval}))
    await ws.receive()


async def test_every_connection_is_watched_by_the_kernel_and_rarely_pinged() -> None:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[WebSocketRoute("/", options)]), host="127.0.0.1",
                                           port=port, lifespan="off", log_level="warning", **UVICORN_WS))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with connect(f"ws://127.0.0.1:{port}/", ping_interval=None) as client:
            found = json.loads(await client.recv())
        assert found == {"SO_KEEPALIVE": 1, "TCP_USER_TIMEOUT": int(DEAD_PEER_S * 1000), "TCP_KEEPIDLE": 30,
                         "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 3, "ping_interval": 300.0}
    finally:
        server.should_exit = True
        await task


def _namespaces() -> bool:
    """Whether this machine lets an unprivileged process have a network namespace of its own."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _namespaces(), reason="no user and network namespaces here (unshare -rn)")
def test_a_peer_gone_without_a_word_is_cut_within_the_dead_peer_time() -> None:
    done = subprocess.run(["unshare", "-rn", sys.executable, "-m", "tests.api.dead_peer_probe"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    ended = json.loads(done.stdout.strip().splitlines()[-1])
    assert ended["watched"] is not None and ended["watched"] < 2.0 + 3.0, ended   # its 2 s, and the next send
    assert ended["stock"] is None, ended
