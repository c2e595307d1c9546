"""Latency of GET /api/v1/map.geojson on the city catalog (287 centers, 6,077 service points): a
refreshing request (the live figures read from Redis in one pipeline, the document built and hashed)
and a cached one, against GET /healthz of the same server in the same run as the baseline.

    python -m loadtests.map_latency [--cold 5] [--warm 300]

Prints one JSON summary."""
from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx

from loadtests.city import city_catalog
from loadtests.harness import fresh_database, key_prefix, percentile, server, services
from loadtests.profiles import CITY
from network.map import FRESH_S


async def timed(client: httpx.AsyncClient, path: str) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    r = await client.get(path)
    return (time.perf_counter() - start) * 1000, r


async def main(cold: int, warm: int) -> None:
    with services() as (redis_url, dsn), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "city.json"
        path.write_text(json.dumps(city_catalog(CITY), ensure_ascii=False), encoding="utf-8")
        async with fresh_database(dsn, path) as database_url:
            with key_prefix(redis_url, "map") as prefix, server(redis_url, database_url, prefix) as (url, _):
                async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                    refreshing, cached, health = [], [], []
                    size = features = 0
                    for _ in range(cold):
                        await asyncio.sleep(FRESH_S + 0.2)
                        ms, r = await timed(client, "/api/v1/map.geojson")
                        refreshing.append(ms)
                        size, features = len(r.content), len(r.json()["features"])
                    for _ in range(warm):
                        cached.append((await timed(client, "/api/v1/map.geojson"))[0])
                        health.append((await timed(client, "/healthz"))[0])
    summary = {
        "points": CITY.points, "centers": CITY.centers, "features": features, "bytes": size,
        "refreshing_ms": {"p50": round(percentile(refreshing, 50), 1), "max": round(max(refreshing), 1)},
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
