"""What a scrape of ``/metrics`` costs a process of the whole city: how long it holds the event loop,
which every request and socket of that process waits behind. Prometheus scrapes each process every
15 s or so, so a scrape's hold is in every process's tail.

A city-sized catalog (``--centers``, 287 by default) goes into a fresh database; an app of one
process (``--tier``: ``all``, or ``sockets`` as the city's sockets processes, its figures kept as
once a dashboard asks, so every center's queue gauges are in the text) runs in this process,
``--waiting`` tickets are issued at each center, and ``/metrics`` is scraped ``--scrapes`` times
through the app. Beside each scrape a ticker sleeps 1 ms at a time and keeps the longest gap
between its turns: the longest the loop was held. Printed, and with ``--out`` written as JSON: the
series in the text, each scrape's wall time, its longest hold and this process's CPU (p50 and max).
No socket is open, so the sockets gauge (a series a center at the city) is not in the text.

    python -m loadtests.metrics_scrape [--centers 287] [--waiting 3] [--scrapes 40] [--tier all|sockets]"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from loadtests.city import CitySize, city_catalog
from loadtests.harness import ADMIN_TOKEN, fresh_database, key_prefix, percentile, run, services
from queue_server.app import create_app
from queue_server.config import Settings


async def longest_gap(stop: asyncio.Event) -> float:
    """The longest time between two turns of a task asking for one every millisecond, in ms."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    longest = 0.0
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = loop.time()
        longest, last = max(longest, now - last), now
    return longest * 1000


async def scrape_once(client: httpx.AsyncClient) -> dict[str, Any]:
    """One scrape with the ticker beside it."""
    stop = asyncio.Event()
    ticker = asyncio.create_task(longest_gap(stop))
    await asyncio.sleep(0.005)
    wall, cpu = time.perf_counter(), time.process_time()
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    response.raise_for_status()
    stop.set()
    held = await ticker
    series = sum(1 for line in response.text.splitlines() if line and not line.startswith("#"))
    return {"wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "held_ms": held, "series": series}


async def measure(redis_url: str, dsn: str, centers: int, waiting: int, scrapes: int, tier: str) -> dict[str, Any]:
    """The scrapes of one app on Redis at ``redis_url`` and a database made on the server of ``dsn``."""
    with key_prefix(redis_url, "scrape") as prefix, tempfile.TemporaryDirectory(prefix="qs-scrape-") as tmp:
        catalog = Path(tmp) / "catalog.json"
        spec = city_catalog(CitySize(centers, 0))
        catalog.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        matter = spec["matters"][0]["code"]
        async with fresh_database(dsn, catalog) as db:
            settings = replace(Settings.from_env(), redis_url=redis_url, database_url=db, key_prefix=prefix,
                               admin_token=ADMIN_TOKEN, tier=tier)
            app = create_app(settings)
            async with app.router.lifespan_context(app), httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://city") as client:
                for c in spec["centers"]:
                    for _ in range(waiting):
                        await app.state.engine.issue(c["code"], matter, "kiosk")
                await app.state.ops.keep()
                await scrape_once(client)   # the first: imports, the registry's children made
                results = [await scrape_once(client) for _ in range(scrapes)]
    summary: dict[str, Any] = {"tier": tier, "centers": centers, "waiting_per_center": waiting, "scrapes": scrapes,
                               "series": results[-1]["series"]}
    for key in ("wall_ms", "cpu_ms", "held_ms"):
        values = [r[key] for r in results]
        summary[key] = {"p50": round(statistics.median(values), 2), "p90": round(percentile(values, 90), 2),
                        "max": round(max(values), 2)}
    return {**summary, "runs": results}


async def main(centers: int, waiting: int, scrapes: int, tier: str, out: Path | None) -> None:
    with services() as (redis_url, dsn):
        result = await measure(redis_url, dsn, centers, waiting, scrapes, tier)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}))
    if out is not None:
        out.write_text(json.dumps(result, indent=1))


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centers", type=int, default=287)
    parser.add_argument("--waiting", type=int, default=3, help="tickets waiting at each center")
    parser.add_argument("--scrapes", type=int, default=40)
    parser.add_argument("--tier", choices=("all", "sockets"), default="all")
    parser.add_argument("--out", type=Path)
    a = parser.parse_args()
    run(main(a.centers, a.waiting, a.scrapes, a.tier, a.out))


if __name__ == "__main__":
    cli()
