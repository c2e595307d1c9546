"""How long the server takes to relay a video session's signaling: a message from the point's page
answered by the clerk's page, round trip, with the clerk on one server instance and the point on
another (through the session's Redis channel) and, for comparison, both on one instance; the
baseline is GET /healthz of the same servers in the same run. WebRTC media never passes the server,
so this relay is the server's whole part in "call to connected" (a handful of messages each way).

    python -m loadtests.session_relay [--rounds 300]

Prints one JSON summary."""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import asyncpg
import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from loadtests.harness import ADMIN_TOKEN, fresh_database, key_prefix, percentile, run, server, services
from queue_server.record.people import create_token

C = "jingansi"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _join(base: str, ticket: str, token: str) -> ClientConnection:
    ws = await connect(base.replace("http://", "ws://") + f"/ws/sessions/{ticket}?token={token}", compression=None)
    while orjson.loads(await ws.recv())["type"] != "joined":
        pass
    return ws


async def _next(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while (msg := orjson.loads(await ws.recv()))["type"] != kind:
        pass
    return msg


async def _round_trips(point: ClientConnection, clerk: ClientConnection, rounds: int) -> list[float]:
    """Point says a line, the clerk's page answers it on receipt: milliseconds per round trip."""
    async def answer() -> None:
        for _ in range(rounds):
            await _next(clerk, "chat")
            await clerk.send('{"type": "chat", "text": "ok"}')

    answering = asyncio.create_task(answer())
    took = []
    for i in range(rounds):
        start = time.perf_counter()
        await point.send(orjson.dumps({"type": "chat", "text": f"line {i}"}).decode())
        await _next(point, "chat")
        took.append((time.perf_counter() - start) * 1000)
    await answering
    return took


def _figures(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 2), "p99": round(percentile(values, 99), 2)}


async def main(rounds: int) -> None:
    with services() as (redis_url, dsn):
        async with fresh_database(dsn) as database_url:
            pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
            try:
                clerk_token = await create_token(pool, "staff", C, window="r1", staff_id=f"{C}-s02", label="bench")
                point_token = await create_token(pool, "device", C, device_kind="screen", label="bench", point="sp1")
            finally:
                await pool.close()
            env = {"QUEUE_RTC_PER_MINUTE": "100000", "QUEUE_RTC_BURST": "10000"}
            with key_prefix(redis_url, "rtc") as prefix, \
                    server(redis_url, database_url, prefix, extra_env=env) as (url_a, _), \
                    server(redis_url, database_url, prefix, extra_env=env) as (url_b, _):
                async with httpx.AsyncClient(base_url=url_a, headers=AUTH, timeout=30) as http:
                    await http.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": f"{C}-s02"})
                    r = await http.post(f"/api/v1/centers/{C}/tickets",
                                        json={"matter": "hrss-001", "channel": "service_point", "service_point": "sp1"})
                    ticket = r.json()["id"]
                    assert (await http.post(f"/api/v1/centers/{C}/windows/r1/call-next")).status_code == 200
                    figures = {}
                    for name, point_url in (("across_instances", url_b), ("one_instance", url_a)):
                        clerk = await _join(url_a, ticket, clerk_token)
                        point = await _join(point_url, ticket, point_token)
                        await _round_trips(point, clerk, 20)     # warm-up
                        figures[name] = await _round_trips(point, clerk, rounds)
                        await clerk.close()
                        await point.close()
                    health = []
                    for _ in range(rounds):
                        start = time.perf_counter()
                        await http.get("/healthz")
                        health.append((time.perf_counter() - start) * 1000)
    base = percentile(health, 50)
    print(json.dumps({
        "rounds": rounds,
        "relay_round_trip_ms": {k: _figures(v) for k, v in figures.items()},
        "healthz_ms": _figures(health),
        "across_vs_healthz_p50": round(percentile(figures["across_instances"], 50) / base, 2),
        "one_vs_healthz_p50": round(percentile(figures["one_instance"], 50) / base, 2),
    }))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    run(main(parser.parse_args().rounds))
