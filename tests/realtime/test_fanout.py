"""1,000 display sockets on one server process: a call reaches every one of them, and a socket that
never reads neither delays them nor stays: it is dropped when its queue overflows or its send stalls."""
from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import ClientConnection

from queue_server.clock import SystemClock
from queue_server.config import Settings
from tests.realtime.live import C, Api, open_live, receive, ws_url
from tests.realtime.slow import drained_to_end, frozen_client
from tests.support import ADMIN_TOKEN, engine_for, server_process

DISPLAY = f"/ws/centers/{C}/display"
SOCKETS = 1_000


async def history(settings: Settings, tickets: int) -> str:
    """Issue and cancel ``tickets`` tickets straight through the engine: a long stream and a small
    snapshot. Returns the id of the stream's first entry."""
    async with engine_for(settings, SystemClock()) as engine:
        for _ in range(tickets):
            pos = await engine.issue(C, "hrss-001", "kiosk")
            await engine.act(pos.ticket["id"], "cancel")
        first = await engine.redis.xrange(engine.keys.events(C), "-", "+", count=1)
    return first[0][0].decode()


async def connect_many(url: str, n: int) -> list[ClientConnection]:
    async def one() -> ClientConnection:
        ws = await open_live(url, DISPLAY)
        assert (await receive(ws, 30))["type"] == "snapshot"
        return ws

    sockets: list[ClientConnection] = []
    for start in range(0, n, 100):
        sockets += await asyncio.gather(*(one() for _ in range(min(100, n - start))))
    return sockets


async def next_of(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while (msg := await receive(ws, 30))["type"] != kind:
        pass
    return msg


async def wait_status(api: Api, done: Any) -> dict[str, Any]:
    for _ in range(200):
        status = await api.status()
        if done(status):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"status never reached: {status}")


async def test_a_call_reaches_1000_displays_and_a_frozen_one_is_dropped(settings: Settings) -> None:
    first = await history(settings, 300)
    # small buffers keep the test short; only the queue overflowing may drop the frozen socket here
    env = {"QUEUE_WS_QUEUE_MAX": "20", "QUEUE_WS_STALL_S": "600", "QUEUE_WS_SEND_BUFFER": "32768"}
    with server_process(settings, extra_env=env) as (url, _):
        async with Api(url) as api:
            displays = await connect_many(url, SOCKETS)
            # resuming from the very start: 600 missed events, far more than its buffers hold
            frozen = frozen_client(ws_url(url, DISPLAY, token=ADMIN_TOKEN, cursor=first))
            try:
                await wait_status(api, lambda s: s["sockets"].get(C) == SOCKETS + 1)
                await api.open_window("w1")
                issued = await api.issue()
                await api.call_next("w1")
                calls = await asyncio.gather(*(next_of(ws, "ticket.called") for ws in displays))
                assert {c["ticket"]["id"] for c in calls} == {issued["id"]} and len(calls) == SOCKETS
                assert len({c["id"] for c in calls}) == 1

                # 25 more events: the frozen socket's queue (20) overflows, everyone else gets all
                more = [(await api.issue())["id"] for _ in range(25)]

                async def got_all(ws: ClientConnection) -> list[str]:
                    return [(await next_of(ws, "ticket.issued"))["ticket"]["id"] for _ in more]

                assert all(seen == more for seen in await asyncio.gather(*(got_all(ws) for ws in displays)))
                status = await wait_status(api, lambda s: s["dropped"] == 1)
                assert status["sockets"][C] == SOCKETS
                assert drained_to_end(frozen)
            finally:
                frozen.close()
            for ws in displays:
                await ws.close()


async def test_a_stalled_send_drops_the_socket(settings: Settings) -> None:
    first = await history(settings, 300)
    env = {"QUEUE_WS_STALL_S": "1", "QUEUE_WS_SEND_BUFFER": "32768"}
    with server_process(settings, extra_env=env) as (url, _):
        async with Api(url) as api:
            watcher = await open_live(url, DISPLAY)
            await receive(watcher)
            frozen = frozen_client(ws_url(url, DISPLAY, token=ADMIN_TOKEN, cursor=first))
            try:
                await wait_status(api, lambda s: s["dropped"] == 1 and s["sockets"][C] == 1)
                assert drained_to_end(frozen)
            finally:
                frozen.close()
            await api.issue()
            assert (await receive(watcher))["type"] == "ticket.issued"
            await watcher.close()

