"""What reading a waiting ticket's position costs with a long line ahead (``ticket_status.lua``, the
same ``position`` an issue's script ends with): the line's detail takes each matter ahead's recent
handling as the one summary a finish keeps (``hm:``, "kept") or, where none is kept, from the
matter's 25 samples (``hs:``, "from samples": an LRANGE and a sort per matter, the samples' read
the scripts made at every position before the summaries). Redis's time per call (``INFO
commandstats``) and this process's CPU per read (the call and the estimate made of its answer), each
mode twice, interleaved; the estimate itself (``wait_s``) is the same either way.

    python -m loadtests.position_read [--reads 3000] [--ahead 30] [--matters 10]

Redis's figure counts every EVALSHA it ran meanwhile: run it alone on the machine."""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

from loadtests.harness import command_stats, key_prefix, run, services
from queue_server.domain.wait import SAMPLES_KEPT, RecentHandling
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from queue_server.engine.queue_engine import QueueEngine
from queue_server.engine.scripts import Scripts

C, QUEUE = "bench", "A"
MODES = ("kept", "from samples")


async def measure(redis_url: str, prefix: str, reads: int, ahead: int, matters: int) -> dict[str, dict[str, float]]:
    redis = redis_client(redis_url)
    scripts, keys = Scripts(redis), Keys(prefix)
    base = keys.center_base(C)
    rng = random.Random(1)
    names = [f"m{i:02d}" for i in range(matters)]
    line = f"{base}w:{QUEUE}:n"
    summaries = {}
    for m in names:
        samples = [round(rng.uniform(60, 1800), 1) for _ in range(SAMPLES_KEPT)]
        await redis.rpush(keys.handling_samples(C, QUEUE, m), *(f"{x:.1f}" for x in samples))
        recent = RecentHandling.of(samples)
        assert recent is not None
        summaries[keys.handling_summary(C, QUEUE, m)] = f"{recent.count} {recent.median_s!r}"
    for i in range(ahead + 1):
        tid = f"{C}-T{i:03d}"
        await redis.hset(f"{base}t:{tid}", mapping={"id": tid, "status": "waiting", "queue": QUEUE, "class": "n",
                                                     "matter": names[i % matters], "sort_at": i, "version": 1})
        await redis.zadd(line, {tid: i})
    args = [base, int(time.time() * 1000)]
    mine = [f"{base}t:{C}-T{ahead:03d}"]
    out: dict[str, dict[str, float]] = {m: {"redis_us": 0.0, "client_us": 0.0, "wait_s": 0} for m in MODES}
    try:
        for mode in MODES * 2:
            if mode == "kept":
                await redis.mset(summaries)
            else:
                await redis.delete(*summaries)
            calls0, usec0 = await command_stats(redis, "evalsha")
            started = time.process_time()
            for _ in range(reads):
                answer = json.loads(await scripts.call("ticket_status", mine, args))
                wait_s = QueueEngine.outlook(answer["line"], int(answer["open_windows"])).wait_s("PNN", {}, 600.0)
            spent = time.process_time() - started
            calls1, usec1 = await command_stats(redis, "evalsha")
            out[mode]["client_us"] += spent / reads * 1e6 / 2
            out[mode]["redis_us"] += (usec1 - usec0) / max(1, calls1 - calls0) / 2
            out[mode]["wait_s"] = wait_s
        for m in MODES:
            out[m] = {k: round(v, 1) for k, v in out[m].items()}
        out["kept / from samples"] = {k: round(out["kept"][k] / out["from samples"][k], 2)
                                      for k in ("redis_us", "client_us")}
    finally:
        await redis.delete(*summaries, *(keys.handling_samples(C, QUEUE, m) for m in names), line,
                           *(f"{base}t:{C}-T{i:03d}" for i in range(ahead + 1)))
        await redis.aclose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=3000, help="reads of each mode, twice")
    parser.add_argument("--ahead", type=int, default=30, help="people waiting ahead")
    parser.add_argument("--matters", type=int, default=10, help="matters among them")
    a = parser.parse_args()
    with services() as (redis_url, _), key_prefix(redis_url, "posread") as prefix:
        result: dict[str, dict[str, float]] = {}

        async def go() -> None:
            result.update(await measure(redis_url, prefix, a.reads, a.ahead, a.matters))
        run(go())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
