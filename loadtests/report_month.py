"""A month's district report from a database holding a year, and the dashboard's update latency.

    python -m loadtests.report_month [--days 365] [--per-day 100] [--month 2025-11] [--repeat 5]
                                     [--calls 60] [--busy-rate 40]

1. Loads a year of generated tickets and their events (``loadtests/year_data.py``: per center and
   day about ``--per-day`` tickets — 100 is about what a Jing'an center serves — at all 14 centers)
   into a fresh database with COPY, and prints its size.
2. Times ``GET /api/v1/ops/reports`` for the month, district-wide: by center and day, by center for
   the month, by staff for the month, by matter for the month, and the streamed CSV by window and
   day; each ``--repeat`` times against one server process; prints min/median/max.
3. Measures the dashboard's update latency: a /ws/ops socket (district scope) and calls made through
   the API one at a time; for each, the time from sending the call-next request to the arrival of
   the update that shows the called number at its window. Idle (calls 1.5-2 s apart, nothing else
   happening) and busy (``--busy-rate`` tickets a second issued at other centers meanwhile, so the
   broadcaster's 2-updates-a-second throttle is always engaged).
Uses REDIS_URL / DATABASE_URL when set, else embedded services."""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import date, timedelta

import asyncpg
import httpx
import orjson
from websockets.asyncio.client import connect

from loadtests.harness import ADMIN_TOKEN, fresh_database, key_prefix, percentile, run, server, services
from loadtests.year_data import load_year
from queue_server.record.demo_data import CENTERS

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
C = "jingansi"


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


async def load(url: str, first: date, days: int, per_day: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        tickets, events = await load_year(conn, [c["code"] for c in CENTERS], first, days, per_day)
        took = time.perf_counter() - started
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        t_size = await conn.fetchval("SELECT pg_total_relation_size('tickets')")
        e_size = await conn.fetchval("SELECT pg_total_relation_size('events')")
    finally:
        await conn.close()
    print(f"data: {days} days x {len(CENTERS)} centers: {tickets:,} tickets, {events:,} events, loaded in {took:.0f} s")
    print(f"      database {mib(size)} (tickets {mib(t_size)}, events {mib(e_size)}, with indexes)")


async def time_reports(base: str, month: date, repeat: int) -> None:
    last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    span = {"since": month.isoformat(), "until": last.isoformat()}
    cases = [("by center and day", "/api/v1/ops/reports", {"by": "center", "period": "day"}),
             ("by center, month", "/api/v1/ops/reports", {"by": "center", "period": "month"}),
             ("district, month", "/api/v1/ops/reports", {"by": "", "period": "month"}),
             ("by staff, month", "/api/v1/ops/reports", {"by": "staff", "period": "month"}),
             ("by matter, month", "/api/v1/ops/reports", {"by": "matter", "period": "month"}),
             ("CSV by window and day", "/api/v1/ops/reports.csv", {"by": "window", "period": "day"})]
    print(f"month report {span['since']}..{span['until']} (district-wide), {repeat} runs each:")
    async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=300) as client:
        for label, path, params in cases:
            times, rows = [], 0
            for _ in range(repeat):
                started = time.perf_counter()
                r = await client.get(path, params={**span, **params})
                times.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
                rows = len(r.json()["rows"]) if path.endswith("reports") else r.text.count("\n") - 1
            print(f"  {label:<24} {rows:>6} rows   min {min(times) * 1000:7.0f} ms   median "
                  f"{statistics.median(times) * 1000:7.0f} ms   max {max(times) * 1000:7.0f} ms")


async def busy_traffic(base: str, rate: float, stop: asyncio.Event) -> int:
    """Tickets issued at the other centers, ``rate`` a second, until ``stop``."""
    others = [c["code"] for c in CENTERS if c["code"] != C]
    n = 0
    async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            await client.post(f"/api/v1/centers/{others[n % len(others)]}/tickets", json={"matter": "hrss-001"})
            n += 1
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
    return n


async def update_latency(base: str, calls: int, gap_s: float, busy_rate: float) -> list[float]:
    """Seconds from sending call-next to the /ws/ops update showing the called number."""
    stop = asyncio.Event()
    background = asyncio.create_task(busy_traffic(base, busy_rate, stop)) if busy_rate else None
    out: list[float] = []
    ws_url = base.replace("http://", "ws://") + f"/ws/ops?token={ADMIN_TOKEN}"
    async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client, \
            connect(ws_url, compression=None, max_size=2**26, ping_interval=None) as ws:
        snapshot = orjson.loads(await ws.recv())
        assert snapshot["type"] == "snapshot"
        for _ in range(calls):
            r = await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})
            await asyncio.sleep(gap_s + random.uniform(0, 0.5))   # calls fall at any phase of the throttle
            started = time.perf_counter()
            r = await client.post(f"/api/v1/centers/{C}/windows/w1/call-next")
            number = r.json()["ticket"]["number"]
            while True:
                msg = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                windows = ((msg.get("centers") or {}).get(C) or {}).get("window_list") or []
                if any(w["id"] == "w1" and w.get("current_number") == number for w in windows):
                    out.append(time.perf_counter() - started)
                    break
            tid = r.json()["ticket"]["id"]
            await client.post(f"/api/v1/tickets/{tid}/start")
            await client.post(f"/api/v1/tickets/{tid}/finish")
    stop.set()
    if background:
        print(f"  (background: {await background} tickets issued at other centers)")
    return out


def show(label: str, values: list[float]) -> None:
    ms = [v * 1000 for v in values]
    print(f"  {label:<44} n={len(ms):<4} p50 {percentile(ms, 50):6.0f} ms   p90 {percentile(ms, 90):6.0f} ms   "
          f"p99 {percentile(ms, 99):6.0f} ms   max {max(ms):6.0f} ms")


async def main(args: argparse.Namespace) -> None:
    month = date.fromisoformat(args.month + "-01")
    first = date(month.year, 1, 1) if args.days == 365 else month - timedelta(days=args.days // 2)
    with services() as (redis_url, dsn):
        async with fresh_database(dsn) as url:
            await load(url, first, args.days, args.per_day)
            with key_prefix(redis_url, "rm") as prefix, server(redis_url, url, prefix) as (base, _proc):
                await time_reports(base, month, args.repeat)
                async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
                    await client.post(f"/api/v1/centers/{C}/windows/w1/open", json={"staff_id": f"{C}-s01"})
                print("dashboard update latency (call-next sent -> /ws/ops update showing the number):")
                show("idle, calls 1.5-2 s apart", await update_latency(base, args.calls, 1.5, 0))
                show(f"busy, {args.busy_rate:g} tickets/s elsewhere",
                     await update_latency(base, args.calls, 1.5, args.busy_rate))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=100, help="tickets per center and day (about)")
    parser.add_argument("--month", default="2025-11", help="YYYY-MM, within the generated days")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--busy-rate", type=float, default=40.0)
    run(main(parser.parse_args()))
