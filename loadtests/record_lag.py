"""What a read of the record's lag over every center costs (``record.persister.lag``): the ops poller
asks it for a district dashboard's centers every 5 s in each sockets process that holds one,
``/api/v1/ops/persister`` for every center, and each scrape of a process doing the record's work.
``--centers`` streams of ``--events`` entries each, the record's group and ``--groups`` others on
each (as the evaluation's and the other consumers' are), ``--pending`` entries read by the record's
group and not acknowledged; then ``--asks`` reads of every center's lag. Printed, and with ``--out``
written as JSON: per ask, the wall time, this process's CPU (the event loop's, in a server) and
Redis's own time (``INFO commandstats``), and Redis's time per call of the script — how long one call
keeps every other client of Redis waiting. Run it alone on its Redis.

    python -m loadtests.record_lag [--centers 287] [--asks 50] [--events 50] [--pending 40] [--groups 3]"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from loadtests.harness import command_stats, key_prefix, run, services
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from queue_server.record.persister import GROUP, ensure_groups, lag


async def measure(redis_url: str, prefix: str, centers: int, asks: int, events: int, pending: int,
                  groups: int) -> dict[str, Any]:
    redis = redis_client(redis_url)
    keys = Keys(prefix)
    codes = [f"c{i:03d}" for i in range(centers)]
    try:
        await ensure_groups(redis, keys, codes)
        async with redis.pipeline(transaction=False) as pipe:
            for c in codes:
                for n in range(events):
                    pipe.xadd(keys.events(c), {"type": "x", "data": "{}"})
                for g in range(groups):
                    pipe.xgroup_create(keys.events(c), f"other{g}", id="0")
            await pipe.execute()
        for c in codes:
            await redis.xreadgroup(GROUP, "p1", {keys.events(c): ">"}, count=pending)
        behind = await lag(redis, keys, codes)   # the script loaded
        calls, usec = await command_stats(redis, "evalsha")
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(asks):
            await lag(redis, keys, codes)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        calls_after, usec_after = await command_stats(redis, "evalsha")
    finally:
        await redis.delete(*(keys.events(c) for c in codes))
        await redis.aclose()
    calls = calls_after - calls
    return {"centers": centers, "asks": asks, "centers_told": len(behind),
            "wall_ms_per_ask": round(wall / asks * 1000, 2), "cpu_ms_per_ask": round(cpu / asks * 1000, 2),
            "redis_ms_per_ask": round((usec_after - usec) / asks / 1000, 2), "calls_per_ask": round(calls / asks, 1),
            "redis_us_per_call": round((usec_after - usec) / calls) if calls else None}


async def main(a: argparse.Namespace) -> None:
    with services() as (redis_url, _dsn), key_prefix(redis_url, "lag") as prefix:
        result = await measure(redis_url, prefix, a.centers, a.asks, a.events, a.pending, a.groups)
    print(json.dumps(result))
    if a.out is not None:
        a.out.write_text(json.dumps(result, indent=1))


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centers", type=int, default=287)
    parser.add_argument("--asks", type=int, default=50)
    parser.add_argument("--events", type=int, default=50, help="entries in each center's stream")
    parser.add_argument("--pending", type=int, default=40, help="of them read by the record's group, not acknowledged")
    parser.add_argument("--groups", type=int, default=3, help="other consumer groups on each stream")
    parser.add_argument("--out", type=Path)
    run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
