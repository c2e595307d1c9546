"""The record: every event in PostgreSQL exactly once, also when a persister dies mid-batch."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import asyncpg
import httpx
from redis.asyncio import Redis

from queue_server.clock import SystemClock
from queue_server.config import Settings
from queue_server.engine.keys import Keys
from queue_server.record.persister import GROUP, Persister, ensure_groups, lag, prune_consumers, record
from tests.support import AUTH, engine_for, server_process, wait_recorded

C = "jingansi"
IDLE_MS = 1000   # the pruning test's idle limit


async def exactly_once(pool: asyncpg.Pool, redis: Redis, keys: Keys) -> None:
    stream_ids = [sid.decode() for sid, _ in await redis.xrange(keys.events(C))]
    rows = await pool.fetch("SELECT stream_id FROM events WHERE center = $1 ORDER BY stream_ms, stream_seq", C)
    assert [r["stream_id"] for r in rows] == stream_ids


async def test_a_consumer_dead_mid_batch_is_taken_over(settings: Settings) -> None:
    async with engine_for(settings, SystemClock()) as engine:
        keys, redis, pool = engine.keys, engine.redis, engine.pool
        await ensure_groups(redis, keys, [C])
        for _ in range(120):
            await engine.issue(C, "hrss-001", "kiosk")
        # "dead" read 40 entries and crashed before writing; "half" read 40, wrote them, crashed before XACK
        await redis.xreadgroup(GROUP, "dead", {keys.events(C): ">"}, count=40)
        half = await redis.xreadgroup(GROUP, "half", {keys.events(C): ">"}, count=40)
        await record(pool, [(C, sid.decode(), fields) for sid, fields in half[0][1]])
        assert (await lag(redis, keys, [C]))[C]["pending"] == 80

        survivor = Persister(redis, pool, keys, [C], name="survivor", claim_idle_ms=50, block_ms=100)
        await asyncio.sleep(0.1)
        assert await survivor.claim_abandoned() == 80
        while await survivor.step():
            pass
        await exactly_once(pool, redis, keys)
        assert await pool.fetchval("SELECT count(*) FROM tickets WHERE center = $1", C) == 120
        assert (await lag(redis, keys, [C]))[C] == {"pending": 0, "undelivered": 0, "lag_ms": 0}


async def test_ended_consumers_are_forgotten_but_never_with_entries_pending(settings: Settings) -> None:
    """Every restart adds a consumer name (host-pid) to the group; the idle ones holding nothing go,
    a consumer with pending entries stays until someone has taken them over. The idle limit is a
    second: a live consumer is one call old when pruning runs, however busy the machine."""
    async with engine_for(settings, SystemClock()) as engine:
        keys, redis, pool = engine.keys, engine.redis, engine.pool
        stream = keys.events(C)
        await ensure_groups(redis, keys, [C])
        for _ in range(4):
            await engine.issue(C, "hrss-001", "kiosk")

        async def read(name: str, ack: bool = True) -> None:
            got = await redis.xreadgroup(GROUP, name, {stream: ">"}, count=1)
            if ack:
                await redis.xack(stream, GROUP, got[0][1][0][0])
        await read("crashed", ack=False)           # holds its entry
        await read("ended-1")
        await read("ended-2")
        await redis.xgroup_createconsumer(stream, GROUP, "me")
        await asyncio.sleep(IDLE_MS / 1000 + 0.05)  # the three above are now idle past the limit, surely
        await read("alive")                         # just read: idle far below the limit, even on a busy machine
        assert sorted(await prune_consumers(redis, [stream], GROUP, "me", idle_ms=IDLE_MS)) == ["ended-1", "ended-2"]
        left = {c["name"].decode(): c["pending"] for c in await redis.xinfo_consumers(stream, GROUP)}
        assert left == {"crashed": 1, "me": 0, "alive": 0}
        survivor = Persister(redis, pool, keys, [C], name="me", claim_idle_ms=50)
        assert await survivor.claim_abandoned() == 1
        await redis.xreadgroup(GROUP, "alive", {stream: ">"}, count=1)   # alive still reads (nothing new)
        assert await prune_consumers(redis, [stream], GROUP, "me", idle_ms=IDLE_MS) == ["crashed"]
        assert await prune_consumers(redis, [keys.events("caojiadu")], GROUP, "me") == []   # no group there yet


async def test_rows_only_move_forward_when_events_arrive_out_of_order(settings: Settings) -> None:
    async with engine_for(settings, SystemClock()) as engine:
        keys, redis, pool = engine.keys, engine.redis, engine.pool
        await engine.set_window(C, "w1", "open", {"id": f"{C}-s01", "name": "王丽华"})
        t = (await engine.issue(C, "hrss-001", "kiosk")).ticket
        await engine.call_next(C, "w1")
        entries = [(C, sid.decode(), f) for sid, f in await redis.xrange(keys.events(C))]
        await record(pool, entries[-1:])  # the call first
        await record(pool, entries)       # then everything again, older events included
        row = await pool.fetchrow("SELECT status, version FROM tickets WHERE id = $1", t["id"])
        assert (row["status"], row["version"]) == ("called", 2)
        assert await pool.fetchval("SELECT count(*) FROM events") == len(entries)


async def test_a_killed_server_process_loses_no_event(settings: Settings) -> None:
    """SIGKILL a server while it persists under load; a second instance reclaims what it held."""
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    redis = Redis.from_url(settings.redis_url)
    keys = Keys(settings.key_prefix)
    try:
        with server_process(settings, extra_env={"QUEUE_PERSISTER_BATCH": "7"}) as (url, proc):
            async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
                await asyncio.gather(*(client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})
                                       for _ in range(300)))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        with server_process(settings) as (url, _):
            recorded = await wait_recorded(pool, settings.redis_url, settings, C)
        assert recorded == 300
        await exactly_once(pool, redis, keys)
    finally:
        await redis.aclose()
        await pool.close()


async def test_lag_counts_from_the_oldest_unrecorded_event_not_a_quiet_streams_gap(settings: Settings) -> None:
    async with engine_for(settings, SystemClock()) as engine:
        keys, redis, pool = engine.keys, engine.redis, engine.pool
        await ensure_groups(redis, keys, [C])
        persister = Persister(redis, pool, keys, [C], name="p", block_ms=100)
        await engine.issue(C, "hrss-001", "kiosk")
        await persister.step()                       # recorded
        await asyncio.sleep(1.2)                     # a quiet center
        before = time.time()
        await engine.issue(C, "hrss-001", "kiosk")  # one new event, just now
        # Lag is at most the time since that event was added (however slow the machine), never the
        # quiet gap before it, which would add 1.2 s.
        behind = (await lag(redis, keys, [C]))[C]
        assert behind["undelivered"] == 1 and behind["lag_ms"] <= (time.time() - before) * 1000 + 2, behind
        await engine.issue(C, "hrss-001", "kiosk")
        behind = (await lag(redis, keys, [C]))[C]
        assert behind["undelivered"] == 2 and behind["lag_ms"] <= (time.time() - before) * 1000 + 2, behind
        await persister.step()
        assert (await lag(redis, keys, [C]))[C] == {"pending": 0, "undelivered": 0, "lag_ms": 0}
