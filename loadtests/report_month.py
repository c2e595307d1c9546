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

``--compare`` instead measures what partitioning the record by month (migration 080) buys, on the same
data in the same run: it loads into a database migrated up to 071 (the record unpartitioned), times
the month's reports (the SQL the API runs, without HTTP), the dashboard's warm-up read of a center's
day and a ticket's look-up by id; then upgrades that database in place (migration 080, timed: what an
existing deployment's upgrade costs) and times the same again. ``--centers 287`` generates the whole
city: the 14 Jing'an centers and 273 more.
Uses REDIS_URL / DATABASE_URL when set, else embedded services."""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson
from websockets.asyncio.client import connect

from loadtests.harness import ADMIN_TOKEN, fresh_database, key_prefix, percentile, run, server, services
from loadtests.year_data import load_year
from queue_server.ops import reports
from queue_server.ops.warm import RECORDED_SINCE
from queue_server.record.demo_data import CENTERS
from queue_server.record.migrate import migrate

UNPARTITIONED = 71     # the last migration before the record was partitioned by month (080)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
C = "jingansi"


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def center_codes(n: int) -> list[str]:
    """The 14 Jing'an centers, then generated ones up to ``n`` (287: the whole city's)."""
    codes = [c["code"] for c in CENTERS]
    return codes[:n] + [f"city{i:03d}" for i in range(len(codes), n)]


async def load(url: str, first: date, days: int, per_day: int, centers: int = len(CENTERS)) -> None:
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        tickets, events = await load_year(conn, center_codes(centers), first, days, per_day)
        took = time.perf_counter() - started
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        t_size = await conn.fetchval("SELECT pg_total_relation_size('tickets')")
        e_size = await conn.fetchval("SELECT pg_total_relation_size('events')")
    finally:
        await conn.close()
    print(f"data: {days} days x {centers} centers: {tickets:,} tickets, {events:,} events, loaded in {took:.0f} s")
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


def month_cases(month: date) -> list[tuple[str, reports.ReportQuery]]:
    last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return [(label, reports.ReportQuery(month, last, by=by, period=period, center=center))
            for label, by, period, center in (
                ("by center and day", ("center",), "day", None), ("by center, month", ("center",), "month", None),
                ("district, month", (), "month", None), ("by staff, month", ("staff",), "month", None),
                ("by matter, month", ("matter",), "month", None), ("one center by window, month", ("window",), "month", C))]


async def time_sql(url: str, month: date, repeat: int) -> dict[str, float]:
    """Each month report (as the API runs it), the warm-up's read of a center's day and a look-up by
    id, ``repeat`` times; prints min/median/max and returns the medians (seconds)."""
    day = month + timedelta(days=14)
    since = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("Asia/Shanghai"))
    tid = f"{C}-{day:%Y%m%d}-A010"
    cases: list[tuple[str, Callable[[asyncpg.Connection], Awaitable[object]]]] = [
        (label, lambda conn, q=q: reports.report(conn, q)) for label, q in month_cases(month)]
    cases += [("warm-up: a center's day of events", lambda conn: conn.fetch(RECORDED_SINCE, C, since)),
              ("a ticket by id (and its day)", lambda conn: conn.fetchrow(
                  "SELECT data FROM tickets WHERE id = $1 AND day = $2", tid, day))]
    medians = {}
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) tickets, events")   # as autovacuum would leave freshly loaded rows
        print(f"  (VACUUM ANALYZE first: {time.perf_counter() - started:.0f} s)")
        for label, case in cases:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                await case(conn)
                times.append(time.perf_counter() - started)
            medians[label] = statistics.median(times)
            print(f"  {label:<36} min {min(times) * 1000:8.1f} ms   median {medians[label] * 1000:8.1f} ms"
                  f"   max {max(times) * 1000:8.1f} ms")
    finally:
        await conn.close()
    return medians


async def compare(dsn: str, month: date, first: date, args: argparse.Namespace) -> None:
    """The same data unpartitioned, then upgraded in place to the record by month."""
    async with fresh_database(dsn, until=UNPARTITIONED) as url:
        await load(url, first, args.days, args.per_day, args.centers)
        print(f"unpartitioned (schema up to {UNPARTITIONED}), month {month:%Y-%m}, {args.repeat} runs each:")
        before = await time_sql(url, month, args.repeat)
        conn = await asyncpg.connect(url)
        try:
            started = time.perf_counter()
            await migrate(conn)
            took = time.perf_counter() - started
            size = await conn.fetchval("SELECT pg_database_size(current_database())")
        finally:
            await conn.close()
        print(f"upgrade in place (migration 080: partition by month, copy every row): {took:.0f} s;"
              f" database now {mib(size)}")
        print(f"partitioned by month, the same, {args.repeat} runs each:")
        after = await time_sql(url, month, args.repeat)
        print("median unpartitioned / partitioned:")
        for label in before:
            print(f"  {label:<36} {before[label] / after[label]:6.2f}x")


def show(label: str, values: list[float]) -> None:
    ms = [v * 1000 for v in values]
    print(f"  {label:<44} n={len(ms):<4} p50 {percentile(ms, 50):6.0f} ms   p90 {percentile(ms, 90):6.0f} ms   "
          f"p99 {percentile(ms, 99):6.0f} ms   max {max(ms):6.0f} ms")


async def main(args: argparse.Namespace) -> None:
    month = date.fromisoformat(args.month + "-01")
    first = date(month.year, 1, 1) if args.days == 365 else month - timedelta(days=args.days // 2)
    with services() as (redis_url, dsn):
        if args.compare:
            await compare(dsn, month, first, args)
            return
        async with fresh_database(dsn) as url:
            await load(url, first, args.days, args.per_day, args.centers)
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
    parser.add_argument("--centers", type=int, default=len(CENTERS), help="centers generated (287: the whole city)")
    parser.add_argument("--compare", action="store_true", help="the same data unpartitioned, then partitioned by"
                                                               " month (upgraded in place): SQL timings and their ratio")
    run(main(parser.parse_args()))
