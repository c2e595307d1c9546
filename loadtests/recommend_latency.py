"""Latency of GET /api/v1/recommend on the city catalog (287 centers): a resident asking where to go
for a whole-city matter, every center a candidate, each center's walk-in line read by ``line_outlook``
(16 centers a script call), against GET /healthz of the same server in the same run as the baseline.
The city catalog's centers are given positions and all-day hours here (it has neither: the profiles
need neither), and ``--waiting`` tickets are issued at every center first, so each line's outlook
reads up to 30 waiting tickets as at a busy hour. For each request also the server process's CPU
(what it held its event loop for; the mean, as the process's CPU is read in 10-ms ticks) and Redis's
own time and script calls (``INFO commandstats``: run
it alone on its Redis).

    python -m loadtests.recommend_latency [--waiting 10] [--requests 50]

Prints one JSON summary."""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
import psutil

from loadtests.city import city_catalog
from loadtests.harness import ADMIN_TOKEN, command_stats, fresh_database, key_prefix, percentile, server, services, timed
from loadtests.profiles import CITY
from queue_server.engine.connection import redis_client

MATTER = "hrss-001"                   # whole-city, a walk-in line at every center
RESIDENT = {"lat": 31.23, "lng": 121.45}
ALL_DAY = {"weekdays": ["00:00", "24:00"], "weekends_holidays": ["00:00", "24:00"]}


def placed_catalog() -> dict[str, Any]:
    """The city catalog with every center at a position of its own around the district and open all
    day (a run at any hour recommends every center)."""
    catalog = city_catalog(CITY)
    for i, center in enumerate(catalog["centers"]):
        center.update(lat=round(31.0 + (i * 7919 % 5000) / 10_000, 5), lng=round(121.2 + (i * 104_729 % 6000) / 10_000, 5),
                      hours=ALL_DAY)
    return catalog


async def main(waiting: int, requests: int) -> None:
    with services() as (redis_url, dsn), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "city.json"
        catalog = placed_catalog()
        path.write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
        env = {"QUEUE_RECOMMEND_PER_MINUTE": "1000000"}
        async with fresh_database(dsn, path) as database_url:
            with key_prefix(redis_url, "recommend") as prefix, \
                    server(redis_url, database_url, prefix, extra_env=env) as (url, proc):
                redis = redis_client(redis_url)
                process = psutil.Process(proc.pid)
                admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                    for center in catalog["centers"]:
                        for _ in range(waiting):
                            issued = await client.post(f"/api/v1/centers/{center['code']}/tickets",
                                                       json={"matter": MATTER}, headers=admin)
                            assert issued.status_code == 201, issued.text
                    latency, cpu, redis_ms, calls, health = [], [], [], [], []
                    recommended = 0
                    query = {"matter": MATTER, **RESIDENT}
                    for _ in range(requests):
                        (calls_before, usec_before), times = await command_stats(redis, "evalsha"), process.cpu_times()
                        ms, r = await timed(client, "/api/v1/recommend", query)
                        (calls_after, usec_after), after = await command_stats(redis, "evalsha"), process.cpu_times()
                        assert r.status_code == 200, r.text
                        recommended = len(r.json()["centers"])
                        latency.append(ms)
                        cpu.append((after.user + after.system - times.user - times.system) * 1000)
                        redis_ms.append((usec_after - usec_before) / 1000)
                        calls.append(calls_after - calls_before)
                        health.append((await timed(client, "/healthz"))[0])
                await redis.aclose()
    summary = {
        "centers": CITY.centers, "recommended": recommended, "waiting_at_each": waiting,
        "recommend_ms": {"p50": round(percentile(latency, 50), 1), "p99": round(percentile(latency, 99), 1)},
        "server_cpu_ms_mean": round(sum(cpu) / len(cpu), 2),   # each read is in 10-ms ticks: their mean
        "redis_ms": {"p50": round(percentile(redis_ms, 50), 2), "max": round(max(redis_ms), 2)},
        "script_calls": {"p50": percentile(calls, 50), "max": max(calls)},
        "healthz_ms": {"p50": round(percentile(health, 50), 1), "p99": round(percentile(health, 99), 1)},
        "recommend_vs_healthz_p50": round(percentile(latency, 50) / percentile(health, 50), 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=10)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.waiting, args.requests))
