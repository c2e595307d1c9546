"""What sending one turn's script calls together (``Scripts.call``) saves the server, by how many calls
a turn holds: ``k`` callers in one process each make script calls one after another, each call
either alone (``AsyncScript``, a round trip of its own: the baseline) or through ``Scripts.call``;
the process's CPU per call of each, interleaved twice, and their ratio. Redis's own time is not in it.

    python -m loadtests.script_turns [--calls 4000]"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

from loadtests.harness import key_prefix, run, services
from queue_server.engine.connection import redis_client
from queue_server.engine.scripts import Scripts

CALLERS = (1, 2, 4, 8, 32)


async def measure(redis_url: str, prefix: str, calls: int) -> dict[str, dict[str, float]]:
    redis = redis_client(redis_url)
    scripts = Scripts(redis)
    base = f"{prefix}:{{c}}:"
    keys, args = [f"{base}t:T1"], [base, 0]
    await redis.hset(keys[0], mapping={"id": "T1", "status": "serving", "queue": "q", "version": 1})
    out: dict[str, dict[str, float]] = {}
    try:
        await scripts.call("ticket_status", keys, args)   # loaded, a connection made
        for k in CALLERS:
            each = calls // k
            spent = {"alone": 0.0, "together": 0.0}
            for mode in ("alone", "together", "alone", "together"):
                async def caller() -> None:
                    for _ in range(each):
                        if mode == "alone":
                            await scripts["ticket_status"](keys=keys, args=args)
                        else:
                            await scripts.call("ticket_status", keys, args)
                started = time.process_time()
                await asyncio.gather(*(caller() for _ in range(k)))
                spent[mode] += time.process_time() - started
            alone, together = (spent[m] / (2 * each * k) * 1e6 for m in ("alone", "together"))
            out[str(k)] = {"alone_us": round(alone, 1), "together_us": round(together, 1),
                           "together_over_alone": round(together / alone, 2)}
            print(f"{k:>3} callers: alone {alone:6.1f} µs a call, together {together:6.1f} µs ({together / alone:.2f})",
                  flush=True)
    finally:
        await redis.delete(keys[0])
        await redis.aclose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=4000, help="calls of each mode at each number of callers")
    calls = parser.parse_args().calls
    with services() as (redis_url, _), key_prefix(redis_url, "turns") as prefix:
        result: dict[str, dict[str, float]] = {}

        async def go() -> None:
            result.update(await measure(redis_url, prefix, calls))
        run(go())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
