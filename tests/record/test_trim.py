"""The streams are trimmed by what their readers still need: a stopped or slow record (or residents'
notices) never loses an event to the trim, and an event lost anyway — the cap forcing the oldest
out, or an entry found trimmed away while pending — is counted and logged, never acknowledged in
silence.
Run on the machine's Redis 7 and on the embedded 6.2 (REDIS_URL unset)."""
from __future__ import annotations

import logging

import asyncpg
import pytest
from redis.asyncio import Redis

from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from queue_server.record.persister import GROUP, Persister, ensure_groups
from queue_server.record.trim import Losses, Trimmer

C = "c1"


def sid(n: int) -> str:
    return f"{1000 + n}-0"


async def stream_of(redis: Redis, keys: Keys, n: int) -> str:
    """A stream with the record's and the residents' notices' groups and events 0..n-1 (ids ``sid``)."""
    stream = keys.events(C)
    await ensure_groups(redis, keys, [C])
    await redis.xgroup_create(stream, "residents", id="0")
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(n):
            pipe.xadd(stream, {"type": "x", "data": "{\"at\": 1}"}, id=sid(i))
        await pipe.execute()
    return stream


async def read(redis: Redis, stream: str, group: str, count: int, ack: bool) -> None:
    got = await redis.xreadgroup(group, "p", {stream: ">"}, count=count)
    if ack:
        await redis.xack(stream, group, *[s for s, _ in got[0][1]])


async def first_id(redis: Redis, stream: str) -> str:
    return (await redis.xrange(stream, count=1))[0][0].decode()


async def test_nothing_a_group_has_not_finished_with_is_trimmed(settings: Settings) -> None:
    redis = redis_client(settings.redis_url)
    keys = Keys(settings.key_prefix)
    try:
        stream = await stream_of(redis, keys, 300)
        await read(redis, stream, "residents", 300, ack=True)       # the notices are done with all
        await read(redis, stream, GROUP, 100, ack=False)             # the record read 100 and stopped
        losses = Losses()
        trimmer = Trimmer(redis, keys, [C], keep=10, cap=1_000, losses=losses)

        assert await trimmer.trim() == 0                 # far past the replay window of 10, and yet
        assert await redis.xlen(stream) == 300           # nothing the record has not written goes
        await redis.xack(stream, GROUP, *[sid(i) for i in range(50)])
        assert await trimmer.trim() == 50                # what it has written goes
        assert await first_id(redis, stream) == sid(50)

        await read(redis, stream, GROUP, 250, ack=True)  # the record catches up; now the notices lag
        await redis.xack(stream, GROUP, *[sid(i) for i in range(50, 100)])
        await redis.xgroup_setid(stream, "residents", sid(119))
        assert await trimmer.trim() == 70                # every group counts: down to the notices' next
        assert await first_id(redis, stream) == sid(120)
        await read(redis, stream, "residents", 300, ack=True)
        assert await trimmer.trim() == 170               # all read by all: down to the replay window
        assert await redis.xlen(stream) == 10 and losses.counts == {}
    finally:
        await redis.delete(keys.events(C))
        await redis.aclose()


async def test_the_cap_forces_the_oldest_out_and_counts_them(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    redis = redis_client(settings.redis_url)
    keys = Keys(settings.key_prefix)
    try:
        stream = await stream_of(redis, keys, 300)
        await read(redis, stream, "residents", 300, ack=True)
        await read(redis, stream, GROUP, 100, ack=False)             # 0..99 pending, 100..299 unread
        await redis.xack(stream, GROUP, *[sid(i) for i in range(50)])
        losses = Losses()
        with caplog.at_level(logging.ERROR, logger="queue_server.trim"):
            assert await Trimmer(redis, keys, [C], keep=10, cap=100, losses=losses).trim() == 200
        # 50..99 delivered and never acknowledged, 100..199 never delivered: 150 events the record lost
        assert losses.counts == {(C, GROUP): 150}
        assert any("150 events of c1 lost to the record group" in r.getMessage() for r in caplog.records)
        assert (await redis.xpending(stream, GROUP))["pending"] == 0   # acknowledged as lost, not left empty
        assert await first_id(redis, stream) == sid(200)
        got = await redis.xreadgroup(GROUP, "p", {stream: ">"}, count=1_000)
        assert [s.decode() for s, _ in got[0][1]] == [sid(i) for i in range(200, 300)]
    finally:
        await redis.delete(keys.events(C))
        await redis.aclose()


async def test_entries_found_trimmed_away_while_pending_are_counted(settings: Settings) -> None:
    """What XADD's last-resort cap (or anyone's XTRIM) takes from under a consumer: found empty by its
    own re-read (6.2 and 7) or named by XAUTOCLAIM (7), each counted, none acknowledged silently."""
    redis = redis_client(settings.redis_url)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    keys = Keys(settings.key_prefix)
    try:
        stream = await stream_of(redis, keys, 30)
        await redis.xreadgroup(GROUP, "dead", {stream: ">"}, count=10)        # 0..9 with a dead consumer
        await redis.xreadgroup(GROUP, "me", {stream: ">"}, count=10)          # 10..19 with this one
        await redis.xtrim(stream, minid=sid(20), approximate=False)                             # both taken from under them
        losses = Losses()
        me = Persister(redis, pool, keys, [C], name="me", claim_idle_ms=0, losses=losses)
        await me.drain_own_pending()
        assert losses.counts == {(C, GROUP): 10}
        await me.claim_abandoned()               # Redis 7 names the trimmed ones; 6.2 hands them over unnamed
        await Trimmer(redis, keys, [C], keep=5, cap=1_000, losses=losses).trim()   # which the trimmer settles
        assert losses.counts == {(C, GROUP): 20}
        assert (await redis.xpending(stream, GROUP))["pending"] == 0
        assert await me.step() == 10                                         # and on with the rest
    finally:
        await redis.delete(keys.events(C))
        await pool.close()
        await redis.aclose()
