"""What one read over every center's stream costs the reading process: the stream reader's XREAD (and
the consumer groups' XREADGROUP) names all 287 of the city's streams and their positions at each
read, ~36 reads a second in each sockets process and ~10 in each group. The read kept packed
(``StreamRead``, only the moved positions packed again) against the same command packed afresh by
the connection (hiredis) through redis-py's ``execute_command``, as the readers made it before:
this process's CPU per read, the read bringing ``--entries`` new entries each time (one stream
moved per entry) or nothing; ABBA, twice each way.

    python -m loadtests.stream_read [--reads 3000] [--streams 287] [--entries 0]"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

from loadtests.harness import key_prefix, run, services
from queue_server.engine.connection import redis_client
from queue_server.engine.streams import StreamRead

MODES = ("kept packed", "packed afresh")


async def measure(redis_url: str, prefix: str, reads: int, streams: int, entries: int) -> dict[str, dict[str, float]]:
    redis = redis_client(redis_url, blocking=True)
    names = [f"{prefix}:{{c{i:03d}}}:events" for i in range(streams)]
    index = {n.encode(): i for i, n in enumerate(names)}
    spent = dict.fromkeys(MODES, 0.0)
    brought = dict.fromkeys(MODES, 0)
    try:
        ids = [(await redis.xadd(n, {"data": "{}"})).decode() for n in names]
        for mode in MODES + MODES[::-1]:
            last = list(ids)
            read = StreamRead(("XREAD", "COUNT", 500), names, last)
            took = 0.0
            for r in range(reads):
                for k in range(entries):   # outside the timed read: what the generator adds is not the reader's
                    await redis.xadd(names[(r * entries + k) % streams], {"data": "{}"})
                started = time.process_time()
                if mode == "kept packed":
                    reply = await read(redis)
                else:
                    reply = await redis.execute_command("XREAD", "COUNT", 500, "STREAMS", *names, *last)
                for stream, got in reply or ():   # where each stream's next read starts, as the reader keeps it
                    i = index[stream]
                    last[i] = got[-1][0].decode()
                    if mode == "kept packed":
                        read.move(names[i], last[i])
                    brought[mode] += len(got)
                took += time.process_time() - started
            spent[mode] += took
            ids = [(await redis.xrevrange(n, count=1))[0][0].decode() for n in names]
    finally:
        await redis.delete(*names)
        await redis.aclose()
    out = {m: {"client_us": round(spent[m] / (2 * reads) * 1e6, 1), "entries_per_read": round(brought[m] / (2 * reads), 2)}
           for m in MODES}
    out["kept / afresh"] = {"client_us": round(out[MODES[0]]["client_us"] / out[MODES[1]]["client_us"], 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=3000, help="reads of each mode, twice")
    parser.add_argument("--streams", type=int, default=287, help="streams each read names (the city: 287 centers)")
    parser.add_argument("--entries", type=int, default=0, help="new entries each read brings")
    a = parser.parse_args()
    with services() as (redis_url, _), key_prefix(redis_url, "reads") as prefix:
        result: dict[str, dict[str, float]] = {}

        async def go() -> None:
            result.update(await measure(redis_url, prefix, a.reads, a.streams, a.entries))
        run(go())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
