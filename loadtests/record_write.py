"""What recording a day's events costs PostgreSQL (``record.persister.record``, the persister's one
transaction per batch), with the schema as migrated and as it stood before migration 081 (a ticket's
row updated at every step of its visit, under an index on its status and in full pages, so no update
could be HOT). The same stream of events — tickets issued, called, started and finished, as a hall's
day interleaves them — goes batch by batch into the two databases in ABBA order, one connection
each; the backend's CPU per event (``/proc``: PostgreSQL on this machine, as the embedded one and the
CI's are), the wall time per event, and the share of the tickets' updates PostgreSQL made HOT.

    python -m loadtests.record_write [--tickets 6000] [--centers 20] [--batch 50]

Run it alone on the machine: the backends' CPU is their own, but the wall times move with whatever
else runs."""
from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from loadtests.harness import fresh_database, run, services
from queue_server.domain.numbering import service_day
from queue_server.record.personal import DEMO_KEY, PersonalData, parse_key
from queue_server.record.persister import Entry, record

BEFORE_081 = 80
WAYS = ("as migrated", "before 081")
PERSONAL = PersonalData(parse_key(DEMO_KEY))
STEPS = (("ticket.issued", "waiting"), ("ticket.called", "called"), ("ticket.started", "serving"),
         ("ticket.finished", "finished"))
TICK = os.sysconf("SC_CLK_TCK")


def day_of_events(tickets: int, centers: int, seed: int = 1) -> Iterator[Entry]:
    """A hall's day in stream order: a ticket issued every step, called some 300 steps later, started
    a few after, finished some 100 after that (so each step of a visit is a batch of its own, as at
    the persister's pace); a third leave a phone, a tenth are priority."""
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    day = service_day(now, "Asia/Shanghai")
    due: dict[int, list[tuple[int, int]]] = {}   # step -> (ticket, its next stage) due then
    views: dict[int, dict[str, Any]] = {}
    seq: dict[str, int] = {}
    step = 0
    while step < tickets or due:
        if step < tickets:
            due.setdefault(step, []).append((step, 0))
        for i, stage in due.pop(step, []):
            kind, status = STEPS[stage]
            at = now + step * 10
            center = f"c{i % centers:02d}"
            if stage == 0:
                views[i] = {"id": f"{center}-{day}-A{i:04d}", "center": center, "day": day, "number": f"A{i:04d}",
                            "queue": "A", "class": "p" if rng.random() < 0.1 else "n", "matter": "hrss-001",
                            "channel": "kiosk", "priority": "normal", "status": status, "issued_at": at,
                            "sort_at": at, "recalls": 0, "version": 1,
                            **({"phone": f"139{i:08d}"} if rng.random() < 0.33 else {})}
            t = views[i]
            t.update(status=status, version=stage + 1)
            if stage == 1:
                t.update(window=f"w{rng.randrange(12)}", called_at=at)
            elif stage == 2:
                t["started_at"] = at
            elif stage == 3:
                t.update(finished_at=at, ended_at=at)
            seq[center] = seq.get(center, 0) + 1
            data = {"at": at, "center": center, "ticket": dict(t)}
            yield center, f"{at}-{seq[center]}", {b"type": kind.encode(), b"data": orjson.dumps(data)}
            if stage < 3:
                later = (rng.randint(200, 400), rng.randint(2, 5), rng.randint(50, 150))[stage]
                due.setdefault(step + later, []).append((i, stage + 1))
        step += 1


def backend_cpu_s(pid: int) -> float | None:
    """The backend's user + system CPU seconds, or None where PostgreSQL is not on this machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


async def hot_share(pool: asyncpg.Pool) -> dict[str, int]:
    """The tickets' updates so far and how many were HOT, the backend's own counts flushed first."""
    await pool.execute("SELECT pg_stat_force_next_flush()")
    await pool.execute("SELECT 1")   # the flush asked for happens as a statement ends
    row = await pool.fetchrow("SELECT sum(n_tup_upd)::int AS upd, sum(n_tup_hot_upd)::int AS hot"
                              " FROM pg_stat_user_tables WHERE relname LIKE 'tickets%'")
    return {"updates": row["upd"] or 0, "hot": row["hot"] or 0}


async def measure(databases: dict[str, str], tickets: int, centers: int, batch: int) -> dict[str, Any]:
    pools = {way: await asyncpg.create_pool(url, min_size=1, max_size=1) for way, url in databases.items()}
    try:
        pids = {way: await pool.fetchval("SELECT pg_backend_pid()") for way, pool in pools.items()}
        spent = {way: {"cpu_s": 0.0, "wall_s": 0.0} for way in WAYS}
        events = list(day_of_events(tickets, centers))
        batches = [events[i:i + batch] for i in range(0, len(events), batch)]
        for n, entries in enumerate(batches):
            for way in (WAYS if n % 4 in (0, 3) else WAYS[::-1]):   # ABBA: a drift weighs on both alike
                cpu0, t0 = backend_cpu_s(pids[way]), time.perf_counter()
                await record(pools[way], entries, PERSONAL)
                wall, cpu1 = time.perf_counter() - t0, backend_cpu_s(pids[way])
                spent[way]["wall_s"] += wall
                if cpu0 is not None and cpu1 is not None:
                    spent[way]["cpu_s"] += cpu1 - cpu0
        out: dict[str, Any] = {"events": len(events), "batches": len(batches)}
        for way in WAYS:
            counted = await hot_share(pools[way])
            out[way] = {"backend_cpu_us_per_event": round(spent[way]["cpu_s"] / len(events) * 1e6, 1),
                        "wall_us_per_event": round(spent[way]["wall_s"] / len(events) * 1e6, 1),
                        "ticket_updates": counted["updates"],
                        "hot_pct": round(100 * counted["hot"] / max(1, counted["updates"]), 1),
                        "tickets": await pools[way].fetchval("SELECT count(*) FROM tickets"),
                        "events_recorded": await pools[way].fetchval("SELECT count(*) FROM events")}
        a, b = out[WAYS[0]], out[WAYS[1]]
        out["as migrated / before 081"] = {
            k: round(a[k] / b[k], 2) if b[k] else None for k in ("backend_cpu_us_per_event", "wall_us_per_event")}
        return out
    finally:
        for pool in pools.values():
            await pool.close()


async def main(tickets: int, centers: int, batch: int) -> None:
    with services() as (_, dsn):
        async with fresh_database(dsn) as now, fresh_database(dsn, until=BEFORE_081) as before:
            print(json.dumps(await measure({WAYS[0]: now, WAYS[1]: before}, tickets, centers, batch), indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=6000)
    parser.add_argument("--centers", type=int, default=20)
    parser.add_argument("--batch", type=int, default=50)
    a = parser.parse_args()
    run(main(a.tickets, a.centers, a.batch))
