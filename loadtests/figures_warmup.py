"""How long the first dashboard waits on a sockets process of the whole city. A sockets process keeps
the ops figures from the first dashboard or read of ``/api/v1/ops/figures`` it is asked for
(``Ops.keep``), and that first ask waits for the warm-up: each center's day read — its stream back
to local midnight and, for what the stream no longer holds, PostgreSQL's ``events`` —, its live
state, packages and door cases, all applied to the figures.

A city-sized catalog (``--centers``, 287 by default) and one day of generated tickets and their
events (``year_data``, ``--per-day`` tickets a center, issued 08:30–16:30) go into a fresh
database; the streams are empty, as the trimmer leaves them once every reader has what they held,
so the day is read from the record. An app of the sockets tier in this process, its clock set to
17:30 of that day, is then asked for the figures as a center's dashboard asks (the center last in the
catalog's order) and then as the district's, ``--runs`` times (a new app each); how long each
waited, this process's CPU and what the figures counted are printed; ``--out`` writes them as JSON. ``--profile`` adds a run under cProfile and prints its hottest functions.

    python -m loadtests.figures_warmup [--centers 287] [--per-day 600] [--runs 3] [--profile]"""
from __future__ import annotations

import argparse
import cProfile
import json
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from loadtests.city import CitySize, city_catalog
from loadtests.harness import ADMIN_TOKEN, fresh_database, hottest, key_prefix, run, services
from loadtests.year_data import load_year
from queue_server.app import create_app
from queue_server.config import Settings

TZ = ZoneInfo("Asia/Shanghai")


def clock_offset_ms(at: datetime) -> int:
    """The offset that puts the app's clock at ``at``."""
    return int(at.timestamp() * 1000 - time.time() * 1000)


async def warm_once(settings: Settings, profiler: cProfile.Profile | None = None) -> dict[str, Any]:
    """A fresh sockets process's first asks for the figures: a center's dashboard (the center last in
    the catalog), then the district's; how long each waited, the CPU, what the figures counted."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ops = app.state.ops
        last = list(ops.figures.centers)[-1]    # the one warmed last, had it waited its turn
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        await ops.keep(last)
        center = time.perf_counter() - wall
        await ops.keep()
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        now = app.state.clock.now_ms()
        issued = served = 0
        for live in ops.figures.centers.values():
            tot = live.current(now)
            issued, served = issued + tot.issued, served + tot.served
    return {"center_s": round(center, 3), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "issued": issued,
            "served": served}


async def main(centers: int, per_day: int, runs: int, profile: bool, out: Path | None) -> dict[str, Any]:
    today = datetime.now(TZ).date()
    evening = datetime(today.year, today.month, today.day, 17, 30, tzinfo=TZ)
    with services() as (redis_url, dsn), tempfile.TemporaryDirectory(prefix="qs-warmup-") as tmp:
        catalog = Path(tmp) / "catalog.json"
        spec = city_catalog(CitySize(centers, 0))
        catalog.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        codes = [c["code"] for c in spec["centers"]]
        async with fresh_database(dsn, catalog) as db:
            conn = await asyncpg.connect(db)
            try:
                loaded = time.perf_counter()
                tickets, events = await load_year(conn, codes, today, 1, per_day)
                print(f"{len(codes)} centers, {tickets:,} tickets and {events:,} events of {today} in the record"
                      f" ({time.perf_counter() - loaded:.0f} s)", flush=True)
            finally:
                await conn.close()
            with key_prefix(redis_url, "warmup") as prefix:
                settings = replace(Settings.from_env(), redis_url=redis_url, database_url=db, key_prefix=prefix,
                                   admin_token=ADMIN_TOKEN, tier="sockets", clock_offset_ms=clock_offset_ms(evening))
                results = []
                for i in range(runs):
                    results.append(await warm_once(settings))
                    print(f"run {i + 1}: {results[-1]}", flush=True)
                if profile:
                    profiler = cProfile.Profile()
                    print(f"profiled: {await warm_once(settings, profiler)}")
                    for name, pct in hottest(profiler, 25):
                        print(f"  {pct:5.1f} %  {name}")
    summary = {"centers": len(codes), "per_day": per_day, "tickets": tickets, "events": events, "runs": results,
               "wall_s_median": statistics.median(r["wall_s"] for r in results),
               "cpu_s_median": statistics.median(r["cpu_s"] for r in results),
               "center_s_median": statistics.median(r["center_s"] for r in results),
               "events_per_s": round(events / statistics.median(r["wall_s"] for r in results))}
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}))
    if out is not None:
        out.write_text(json.dumps(summary, indent=1))
    return summary


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centers", type=int, default=287)
    parser.add_argument("--per-day", type=int, default=600, help="tickets a center issues in the day")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="one more run under cProfile: its hottest functions")
    parser.add_argument("--out", type=Path)
    a = parser.parse_args()
    run(main(a.centers, a.per_day, a.runs, a.profile, a.out))


if __name__ == "__main__":
    cli()
