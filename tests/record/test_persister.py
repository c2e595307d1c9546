"""The record: every event in PostgreSQL exactly once, also when a persister dies mid-batch."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from queue_server.clock import SystemClock
from queue_server.config import Settings
from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from queue_server.record.personal import DEMO_KEY, PersonalData, parse_key
from queue_server.record.persister import GROUP, Persister, ensure_groups, lag, prune_consumers, record
from tests.support import AUTH, engine_for, server_process, wait_recorded

C = "jingansi"
PERSONAL = PersonalData(parse_key(DEMO_KEY))
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
        await record(pool, [(C, sid.decode(), fields) for sid, fields in half[0][1]], PERSONAL)
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
        await record(pool, entries[-1:], PERSONAL)  # the call first
        await record(pool, entries, PERSONAL)       # then everything again, older events included
        row = await pool.fetchrow("SELECT status, version FROM tickets WHERE id = $1", t["id"])
        assert (row["status"], row["version"]) == ("called", 2)
        assert await pool.fetchval("SELECT count(*) FROM events") == len(entries)


async def test_batches_holding_the_same_tickets_in_opposite_orders_do_not_deadlock(settings: Settings) -> None:
    """Two instances' persisters read one center's stream in one group, so their batches can name the
    same tickets in opposite orders. Here another transaction holds the lower ticket's row while a
    batch names the higher one first, then asks for the higher one: had the batch locked the higher
    row first, each would wait for the other and PostgreSQL would fail one of them."""
    async with engine_for(settings, SystemClock()) as engine:
        keys, redis, pool = engine.keys, engine.redis, engine.pool
        for w in ("w1", "w2"):
            await engine.set_window(C, w, "open", {"id": f"{C}-s01", "name": "王丽华"})
        low, high = sorted([(await engine.issue(C, "hrss-001", "kiosk")).ticket["id"] for _ in range(2)])
        await record(pool, [(C, sid.decode(), f) for sid, f in await redis.xrange(keys.events(C))], PERSONAL)
        seen = await redis.xrange(keys.events(C))
        await engine.call_next(C, "w1")
        await engine.call_next(C, "w2")
        calls = [(C, sid.decode(), f) for sid, f in await redis.xrange(keys.events(C)) if (sid, f) not in seen]
        calls.sort(key=lambda e: json.loads(e[2][b"data"])["ticket"]["id"] != high)   # the higher ticket's call first

        other = await asyncpg.connect(settings.database_url)   # another instance's transaction
        async with other.transaction():
            await other.execute("UPDATE tickets SET version = version WHERE id = $1", low)
            batch = asyncio.create_task(record(pool, calls, PERSONAL))
            while not await other.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                           " AND wait_event_type = 'Lock'"):
                assert not batch.done(), "the batch went through a row another transaction holds"
                await asyncio.sleep(0.05)   # until the batch waits for the lower ticket's row
            await other.execute("UPDATE tickets SET version = version WHERE id = $1", high)
        await other.close()
        await batch
        rows = await pool.fetch("SELECT id, status FROM tickets WHERE id = ANY($1::text[]) ORDER BY id", [low, high])
        assert [(r["id"], r["status"]) for r in rows] == [(low, "called"), (high, "called")]


async def test_a_killed_server_process_loses_no_event(settings: Settings) -> None:
    """SIGKILL a server while a batch it read is certainly pending (its write waits on a lock this test
    holds on the events table); a second instance takes that batch over (XAUTOCLAIM) and records it."""
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    redis = redis_client(settings.redis_url)
    keys = Keys(settings.key_prefix)
    stream = keys.events(C)
    blocker = await asyncpg.connect(settings.database_url)
    try:
        with server_process(settings, extra_env={"QUEUE_PERSISTER_BATCH": "7"}) as (url, proc):
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
            async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=60) as client:   # a busy machine
                await asyncio.gather(*(client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})
                                       for _ in range(300)))
            held = await until(lambda: held_by_consumers(redis, stream), "the persister never read a batch")
            [(dead, count)] = held.items()
            held_ids = {sid for sid, _ in await pending_of(redis, stream, dead)}
            assert count == len(held_ids) > 0
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        # The dead process's write, still waiting on the lock, ends with it (PostgreSQL would notice the
        # closed socket only at its next read); then the lock goes and a second instance starts.
        await blocker.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE datname = current_database() AND wait_event_type = 'Lock'")
        await tx.rollback()
        assert await pool.fetchval("SELECT count(*) FROM events") == 0
        assert await held_by_consumers(redis, stream) == {dead: count}
        with server_process(settings) as (url, _):
            recorded = await wait_recorded(pool, settings.redis_url, settings, C, timeout=60)
            await until(lambda: nothing_pending(redis, stream), "the dead consumer's entries stayed pending")
        assert recorded == 300
        assert await pending_of(redis, stream, dead) == []
        rows = await pool.fetch("SELECT stream_id FROM events WHERE center = $1 AND stream_id = ANY($2::text[])",
                                C, sorted(held_ids))
        assert {r["stream_id"] for r in rows} == held_ids     # what it held was taken over and recorded
        await exactly_once(pool, redis, keys)
    finally:
        await blocker.close()
        await redis.aclose()
        await pool.close()


async def held_by_consumers(redis: Redis, stream: str) -> dict[str, int]:
    """The record group's consumers holding pending entries, and how many each."""
    summary = await redis.xpending(stream, GROUP)
    return {c["name"].decode(): int(c["pending"]) for c in summary["consumers"] or []}


async def nothing_pending(redis: Redis, stream: str) -> bool:
    return (await redis.xpending(stream, GROUP))["pending"] == 0


async def pending_of(redis: Redis, stream: str, consumer: str) -> list[tuple[str, int]]:
    """The entries ``consumer`` holds: (id, times delivered)."""
    got = await redis.xpending_range(stream, GROUP, min="-", max="+", count=10_000, consumername=consumer)
    return [(e["message_id"].decode(), int(e["times_delivered"])) for e in got]


async def until(check: Callable[[], Awaitable[Any]], failure: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy, which is returned; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.05)
    return result


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


async def test_a_follower_takes_each_recorded_batch_before_it_is_acknowledged(settings: Settings) -> None:
    """What follows the record (the evaluation's served tickets) shares its read: a follower gets the
    batch once it is recorded, and a follower's failure leaves the batch pending — recorded again,
    harmlessly, and followed again — so nothing is acknowledged that a follower has not taken."""
    async with engine_for(settings, SystemClock()) as engine:
        keys, redis, pool = engine.keys, engine.redis, engine.pool
        await ensure_groups(redis, keys, [C])
        taken: list[list[str]] = []
        fails = [ConnectionResetError("PostgreSQL went away mid-batch")]   # the first call's

        async def follow(entries: list[tuple[str, str, dict[bytes, bytes]]]) -> None:
            assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = any($1)",
                                       [sid for _, sid, _ in entries]) == len(entries)   # recorded before
            if fails:
                raise fails.pop()
            taken.append([sid for _, sid, _ in entries])

        persister = Persister(redis, pool, keys, [C], name="p", block_ms=100, followers=[follow])
        for _ in range(5):
            await engine.issue(C, "hrss-001", "kiosk")
        try:
            await persister.step()
            raise AssertionError("the follower's failure did not end the step")
        except ConnectionResetError:
            pass
        assert taken == [] and (await lag(redis, keys, [C]))[C]["pending"] == 5   # not acknowledged
        await persister.drain_own_pending()     # as the supervisor's next run starts
        stream_ids = [sid.decode() for sid, _ in await redis.xrange(keys.events(C))]
        assert taken == [stream_ids]
        await engine.issue(C, "hrss-001", "kiosk")
        assert await persister.step() == 1
        assert taken[-1] == [(await redis.xrevrange(keys.events(C), count=1))[0][0].decode()]
        await exactly_once(pool, redis, keys)
        assert (await lag(redis, keys, [C]))[C] == {"pending": 0, "undelivered": 0, "lag_ms": 0}
