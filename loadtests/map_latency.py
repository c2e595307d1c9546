"""Latency of GET /api/v1/map.geojson on the city catalog (287 centers, 6,077 service points): a
refreshing request (the live figures read from Redis, the document built and hashed) and a cached
one, against GET /healthz of the same server in the same run as the baseline. For each refreshing
request also the server process's CPU (what it held its event loop for) and Redis's own time and
script calls (``INFO commandstats``: run it alone on its Redis). Before each refreshing request a
ticket is issued at the next center, as some center's figures change between two reads of the day.

    python -m loadtests.map_latency [--cold 5] [--warm 300]

Prints one JSON summary."""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

import httpx
import psutil

from loadtests.city import city_catalog
from loadtests.harness import ADMIN_TOKEN, command_stats, fresh_database, key_prefix, percentile, server, services, timed
from queue_server.engine.connection import redis_client
from loadtests.profiles import CITY
from network.map import FRESH_S


async def main(cold: int, warm: int) -> None:
    with services() as (redis_url, dsn), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "city.json"
        path.write_text(json.dumps(city_catalog(CITY), ensure_ascii=False), encoding="utf-8")
        async with fresh_database(dsn, path) as database_url:
            with key_prefix(redis_url, "map") as prefix, server(redis_url, database_url, prefix) as (url, proc):
                redis = redis_client(redis_url)
                process = psutil.Process(proc.pid)
                async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                    refreshing, cached, health, cpu, redis_ms, calls = [], [], [], [], [], []
                    size = features = 0
                    centers = [c["code"] for c in json.loads(path.read_text(encoding="utf-8"))["centers"]]
                    for i in range(cold):
                        await asyncio.sleep(FRESH_S + 0.2)
                        issued = await client.post(f"/api/v1/centers/{centers[i % len(centers)]}/tickets",
                                                   json={"matter": "hrss-001"},
                                                   headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
                        assert issued.status_code == 201, issued.text
                        (calls_before, usec_before), times = await command_stats(redis, "evalsha"), process.cpu_times()
                        ms, r = await timed(client, "/api/v1/map.geojson")
                        (calls_after, usec_after), after = await command_stats(redis, "evalsha"), process.cpu_times()
                        refreshing.append(ms)
                        cpu.append((after.user + after.system - times.user - times.system) * 1000)
                        redis_ms.append((usec_after - usec_before) / 1000)
                        calls.append(calls_after - calls_before)
                        size, features = len(r.content), len(r.json()["features"])
                    for _ in range(warm):
                        cached.append((await timed(client, "/api/v1/map.geojson"))[0])
                        health.append((await timed(client, "/healthz"))[0])
                await redis.aclose()
    summary = {
        "points": CITY.points, "centers": CITY.centers, "features": features, "bytes": size,
        "refreshing_ms": {"p50": round(percentile(refreshing, 50), 1), "max": round(max(refreshing), 1)},
        "refreshing_server_cpu_ms": {"p50": round(percentile(cpu, 50), 1), "max": round(max(cpu), 1)},
        "refreshing_redis_ms": {"p50": round(percentile(redis_ms, 50), 2), "max": round(max(redis_ms), 2)},
        "refreshing_script_calls": {"p50": percentile(calls, 50), "max": max(calls)},
        "cached_ms": {"p50": round(percentile(cached, 50), 1), "p99": round(percentile(cached, 99), 1)},
        "healthz_ms": {"p50": round(percentile(health, 50), 1), "p99": round(percentile(health, 99), 1)},
        "cached_vs_healthz_p50": round(percentile(cached, 50) / percentile(health, 50), 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--warm", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.cold, args.warm))
