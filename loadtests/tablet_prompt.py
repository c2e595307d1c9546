"""Time from a window finishing a ticket to its rating prompt on that window's review tablet: the
``ticket.finished`` event arriving over the tablet websocket of a real server process, measured from
just before the finish request is sent. Other windows keep the server busy meanwhile if asked.

    python -m loadtests.tablet_prompt [--tickets 200] [--background 0]

Prints p50 / p95 / p99 / max in milliseconds as JSON."""
from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp
import orjson

from loadtests.harness import ADMIN_TOKEN, fresh_database, key_prefix, percentile, server, services

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
C = "jingansi"


async def serve_one(http: aiohttp.ClientSession, url: str, window: str) -> str:
    async with http.post(f"{url}/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=AUTH) as r:
        tid = (await r.json())["id"]
    async with http.post(f"{url}/api/v1/centers/{C}/windows/{window}/call-next", json={"ticket": tid, "reason": "load"},
                         headers=AUTH) as r:
        assert r.status == 200, await r.text()
    async with http.post(f"{url}/api/v1/tickets/{tid}/start", headers=AUTH) as r:
        assert r.status == 200
    return tid


async def background(http: aiohttp.ClientSession, url: str, window: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        tid = await serve_one(http, url, window)
        async with http.post(f"{url}/api/v1/tickets/{tid}/finish", headers=AUTH) as r:
            assert r.status == 200


async def main(tickets: int, busy_windows: int) -> None:
    with services() as (redis_url, dsn):
        async with fresh_database(dsn) as database_url:
            with key_prefix(redis_url, "load") as prefix, server(redis_url, database_url, prefix) as (url, _):
                async with aiohttp.ClientSession() as http:
                    windows = ["w1"] + [f"w{i}" for i in range(2, 2 + busy_windows)]
                    for i, w in enumerate(windows):
                        async with http.post(f"{url}/api/v1/centers/{C}/windows/{w}/open",
                                             json={"staff_id": f"{C}-s{i + 1:02d}"}, headers=AUTH) as r:
                            assert r.status == 200, await r.text()
                    async with http.post(f"{url}/api/v1/tokens", json={"role": "device", "center": C, "window": "w1",
                                                                       "device_kind": "tablet"}, headers=AUTH) as r:
                        token = (await r.json())["token"]
                    ws_url = url.replace("http", "ws") + f"/ws/centers/{C}/windows/w1/tablet?token={token}"
                    stop = asyncio.Event()
                    noise = [asyncio.create_task(background(http, url, w, stop)) for w in windows[1:]]
                    took: list[float] = []
                    async with http.ws_connect(ws_url, autoping=True) as ws:
                        first = orjson.loads((await ws.receive()).data)
                        assert first["type"] == "snapshot", first
                        for _ in range(tickets):
                            tid = await serve_one(http, url, "w1")
                            started = time.perf_counter()
                            async with http.post(f"{url}/api/v1/tickets/{tid}/finish", headers=AUTH) as r:
                                assert r.status == 200
                            while True:
                                msg = orjson.loads((await asyncio.wait_for(ws.receive(), 10)).data)
                                if msg.get("type") == "ticket.finished" and msg["ticket"]["id"] == tid:
                                    took.append((time.perf_counter() - started) * 1000)
                                    break
                    stop.set()
                    await asyncio.gather(*noise)
                    print(json.dumps({"tickets": tickets, "busy_windows": busy_windows,
                                      "finish_to_tablet_prompt_ms": {p: round(percentile(took, v), 2) for p, v in
                                                                     (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))}}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--background", type=int, default=0, help="other windows serving tickets as fast as they can")
    args = parser.parse_args()
    asyncio.run(main(args.tickets, args.background))
