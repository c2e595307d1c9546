"""Run inside a network namespace of its own (``unshare -rn``, by ``test_ws_protocol.py``): two
websocket servers, the app's protocol and uvicorn's stock one, both with the app's rare protocol
pings, each sending its client a message every half second. Each client connects from an address of
its own on the loopback; once both have heard from their server, both addresses are deleted, so
nothing the servers send is acknowledged again — a peer gone without a word. Prints, as JSON, how
long after that each server's handler saw its connection end (null: not within ``WAIT_S``)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect

from queue_server.api.ws_protocol import WebSocketProtocol
from queue_server.cli import UVICORN_WS

DEAD_PEER_S = 2.0
WAIT_S = 8.0
SERVER = "10.0.0.100"
CLIENTS = {"watched": "10.0.0.1", "stock": "10.0.0.2"}


class Watched(WebSocketProtocol):
    dead_peer_s = DEAD_PEER_S


async def main() -> None:
    subprocess.run(f"ip link set lo up && ip addr add {SERVER}/32 dev lo"
                   + "".join(f" && ip addr add {a}/32 dev lo" for a in CLIENTS.values()), shell=True, check=True)
    ended: dict[str, float] = {}

    def handler(kind: str) -> Any:
        async def serve(ws: WebSocket) -> None:
            await ws.accept()

            async def talk() -> None:
                with contextlib.suppress(Exception):
                    while True:
                        await ws.send_text("still here")
                        await asyncio.sleep(0.5)
            talking = asyncio.create_task(talk())
            await ws.receive()   # only the disconnect: the client sends nothing
            ended[kind] = time.monotonic()
            talking.cancel()
        return serve

    servers, ports = [], {}
    for kind, protocol in (("watched", Watched), ("stock", WebSocketsSansIOProtocol)):
        app = Starlette(routes=[WebSocketRoute("/", handler(kind))])
        ports[kind] = port = 20000 + len(servers)
        config = {**UVICORN_WS, "ws": protocol}
        server = uvicorn.Server(uvicorn.Config(app, host=SERVER, port=port, lifespan="off", log_level="warning",
                                               timeout_graceful_shutdown=1, **config))
        servers.append(server)
        asyncio.create_task(server.serve())
    while not all(s.started for s in servers):
        await asyncio.sleep(0.01)
    clients = []
    for kind, address in CLIENTS.items():
        client = await connect(f"ws://{SERVER}:{ports[kind]}/", local_addr=(address, 0), ping_interval=None)
        await client.recv()
        clients.append(client)
    subprocess.run("".join(f"ip addr del {a}/32 dev lo && " for a in CLIENTS.values()) + "true",
                   shell=True, check=True)
    cut = time.monotonic()
    while len(ended) < len(CLIENTS) and time.monotonic() - cut < WAIT_S:
        await asyncio.sleep(0.05)
    print(json.dumps({kind: round(ended[kind] - cut, 2) if kind in ended else None for kind in CLIENTS}), flush=True)
    os._exit(0)   # now: the stock server still holds its half-dead connection, not to be waited for


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(), WAIT_S + 20))
