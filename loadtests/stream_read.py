"""What one read over every center's stream costs the reading process: the stream reader's XREAD (and
the consumer groups' XREADGROUP) names all 287 of the city's streams and their positions at each
read, ~36 reads a second in each sockets process and ~10 in each group. The read kept packed
(``StreamRead``, only the moved positions packed again) against the same command packed afresh by
the connection (hiredis) through redis-py's ``execute_command``, as the readers made it before:
this process's CPU per read, the read bringing ``--entries`` new entries each time (one stream
moved per entry) or nothing; ABBA, twice each way. Beside it, ``redis_us``: Redis's own time per read
(``INFO commandstats``; the same command either way, so the same figure), which ``--entries`` at 0
and at a few dozen splits into a cost per stream named and one per entry brought — run it alone on
its Redis.

With ``--acknowledge``, what a consumer group's acknowledgement of a read costs instead: each batch
``--streams`` streams with ``--entries`` entries each (the record's and the groups' reads at the
city's pace: ~100 entries over ~80 centers' streams), read by the group, then acknowledged in one
write (``acknowledge``) or through redis-py's pipeline, as the consumers did before; only the
acknowledgement timed, ABBA.

    python -m loadtests.stream_read [--reads 3000] [--streams 287] [--entries 0]
    python -m loadtests.stream_read --acknowledge [--reads 3000] [--streams 80] [--entries 1]"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

from loadtests.harness import command_stats, key_prefix, run, services
from queue_server.engine.connection import redis_client
from queue_server.engine.streams import StreamRead, acknowledge

MODES = ("kept packed", "packed afresh")
ACKS = ("one write", "redis-py pipeline")


async def measure(redis_url: str, prefix: str, reads: int, streams: int, entries: int) -> dict[str, dict[str, float]]:
    redis = redis_client(redis_url, blocking=True)
    names = [f"{prefix}:{{c{i:03d}}}:events" for i in range(streams)]
    index = {n.encode(): i for i, n in enumerate(names)}
    spent = dict.fromkeys(MODES, 0.0)
    brought = dict.fromkeys(MODES, 0)
    redis_spent = dict.fromkeys(MODES, 0)
    try:
        ids = [(await redis.xadd(n, {"data": "{}"})).decode() for n in names]
        for mode in MODES + MODES[::-1]:
            _, redis_before = await command_stats(redis, "xread")
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
            redis_spent[mode] += (await command_stats(redis, "xread"))[1] - redis_before
            ids = [(await redis.xrevrange(n, count=1))[0][0].decode() for n in names]
    finally:
        await redis.delete(*names)
        await redis.aclose()
    out = {m: {"client_us": round(spent[m] / (2 * reads) * 1e6, 1), "entries_per_read": round(brought[m] / (2 * reads), 2),
               "redis_us": round(redis_spent[m] / (2 * reads), 1)} for m in MODES}
    out["kept / afresh"] = {"client_us": round(out[MODES[0]]["client_us"] / out[MODES[1]]["client_us"], 2)}
    return out


async def measure_acks(redis_url: str, prefix: str, batches: int, streams: int, entries: int) -> dict[str, dict[str, float]]:
    redis = redis_client(redis_url)
    names = [f"{prefix}:{{c{i:03d}}}:events" for i in range(streams)]
    spent = dict.fromkeys(ACKS, 0.0)
    acked = dict.fromkeys(ACKS, 0)
    try:
        for n in names:
            await redis.xgroup_create(n, "record", id="$", mkstream=True)
        for mode in ACKS + ACKS[::-1]:
            for _ in range(batches):
                async with redis.pipeline(transaction=False) as pipe:   # the events (not timed)
                    for n in names:
                        for _ in range(entries):
                            pipe.xadd(n, {"data": "{}"})
                    await pipe.execute()
                read = await redis.xreadgroup("record", "me", dict.fromkeys(names, ">"))
                acks = {k.decode(): [entry_id for entry_id, _ in got] for k, got in read}
                started = time.process_time()
                if mode == "one write":
                    await acknowledge(redis, "record", acks)
                else:
                    async with redis.pipeline(transaction=False) as pipe:
                        for stream, ids in acks.items():
                            pipe.xack(stream, "record", *ids)
                        await pipe.execute()
                spent[mode] += time.process_time() - started
            pending = [(await redis.xpending(n, "record"))["pending"] for n in names]
            acked[mode] += streams * entries * batches - sum(pending)
            for n in names:
                await redis.xtrim(n, maxlen=0)
    finally:
        await redis.delete(*names)
        await redis.aclose()
    out = {m: {"client_us": round(spent[m] / (2 * batches) * 1e6, 1), "acknowledged_per_batch": acked[m] / (2 * batches)}
           for m in ACKS}
    out["one write / pipeline"] = {"client_us": round(out[ACKS[0]]["client_us"] / out[ACKS[1]]["client_us"], 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=3000, help="reads (or acknowledged batches) of each mode, twice")
    parser.add_argument("--streams", type=int, help="streams each read names (the city: 287 centers; acknowledged: 80)")
    parser.add_argument("--entries", type=int, help="new entries each read brings (0; acknowledged: 1 a stream)")
    parser.add_argument("--acknowledge", action="store_true", help="time a group's acknowledgement of its reads instead")
    a = parser.parse_args()
    streams = a.streams or (80 if a.acknowledge else 287)
    entries = a.entries if a.entries is not None else int(a.acknowledge)
    with services() as (redis_url, _), key_prefix(redis_url, "reads") as prefix:
        result: dict[str, dict[str, float]] = {}

        async def go() -> None:
            how = measure_acks if a.acknowledge else measure
            result.update(await how(redis_url, prefix, a.reads, streams, entries))
        run(go())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
