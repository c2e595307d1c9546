"""The persister's lag from the group's own counters: exact however far behind the record is (the
old count read the backlog, up to 10,000 entries per center on every dashboard poll and scrape, and
stopped counting there). Run on the machine's Redis 7 and on the embedded 6.2 (REDIS_URL unset),
where the undelivered are counted up to UNDELIVERED_COUNT_MAX."""
from __future__ import annotations

from redis.asyncio import Redis

from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from queue_server.record.persister import GROUP, LAG_BATCH, UNDELIVERED_COUNT_MAX, ensure_groups, lag

BACKLOG = 12_000


async def redis_major(redis: Redis) -> int:
    return int((await redis.info("server"))["redis_version"].split(".")[0])


async def test_lag_is_exact_however_far_behind_the_record_is(settings: Settings) -> None:
    redis = redis_client(settings.redis_url)
    keys = Keys(settings.key_prefix)
    stream = keys.events("c1")
    try:
        await ensure_groups(redis, keys, ["c1"])
        async with redis.pipeline(transaction=False) as pipe:       # event n at ms 1000 + n
            for n in range(BACKLOG):
                pipe.xadd(stream, {"type": "x", "data": "{}"}, id=f"{1000 + n}-0")
            await pipe.execute()
        exact = await redis_major(redis) >= 7

        everywhere = await lag(redis, keys, ["c1", "c2"])                   # c2 has no stream: left out
        assert list(everywhere) == ["c1"]
        assert everywhere["c1"] == {"pending": 0, "undelivered": BACKLOG if exact else UNDELIVERED_COUNT_MAX,
                                    "lag_ms": BACKLOG - 1}

        await redis.xreadgroup(GROUP, "p", {stream: ">"}, count=30)           # 30 read, not yet recorded
        behind = (await lag(redis, keys, ["c1"]))["c1"]
        assert behind == {"pending": 30, "undelivered": BACKLOG - 30 if exact else UNDELIVERED_COUNT_MAX,
                          "lag_ms": BACKLOG - 1}
        await redis.xack(stream, GROUP, *[f"{1000 + n}-0" for n in range(10)])  # the oldest 10 recorded
        assert (await lag(redis, keys, ["c1"]))["c1"]["lag_ms"] == BACKLOG - 1 - 10

        await redis.xack(stream, GROUP, *[f"{1000 + n}-0" for n in range(30)])
        behind = (await lag(redis, keys, ["c1"]))["c1"]                        # from the first undelivered
        assert behind["pending"] == 0 and behind["lag_ms"] == BACKLOG - 1 - 30

        rest = await redis.xreadgroup(GROUP, "p", {stream: ">"}, count=BACKLOG)
        await redis.xack(stream, GROUP, *[sid for sid, _ in rest[0][1]])
        assert (await lag(redis, keys, ["c1"]))["c1"] == {"pending": 0, "undelivered": 0, "lag_ms": 0}
    finally:
        await redis.delete(stream)
        await redis.aclose()


async def test_each_center_gets_its_own_figures_across_the_calls(settings: Settings) -> None:
    """More centers than one call of the script takes: every center's figures are its own, in
    whichever call it fell, and the centers without a stream are left out wherever they are."""
    redis = redis_client(settings.redis_url)
    keys = Keys(settings.key_prefix)
    centers = [f"c{i:02d}" for i in range(2 * LAG_BATCH + 5)]
    kept = [c for i, c in enumerate(centers) if i % 3]          # every third center has no stream
    try:
        await ensure_groups(redis, keys, kept)
        async with redis.pipeline(transaction=False) as pipe:       # center i: i events, at ms 1000 + n
            for c in kept:
                for n in range(int(c[1:])):
                    pipe.xadd(keys.events(c), {"type": "x", "data": "{}"}, id=f"{1000 + n}-0")
            await pipe.execute()
        behind = await lag(redis, keys, centers)
        assert list(behind) == kept
        for c in kept:
            events = int(c[1:])
            assert behind[c] == {"pending": 0, "undelivered": events, "lag_ms": events - 1}, c
    finally:
        await redis.delete(*(keys.events(c) for c in kept))
        await redis.aclose()
