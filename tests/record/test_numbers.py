"""A number is never handed out twice in a day at a center, whatever Redis loses: tickets the
persister had not recorded yet, the last increments an AOF lacked; and the queue keeps numbering
through a PostgreSQL outage for as long as the reserve lasts."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import asyncpg
import pytest

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.engine import queue_engine
from queue_server.record import numbers
from tests.support import AUTH, lose_redis_data, running_app, wait_recorded

C = "jingansi"
MORNING = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)


async def issue(client: Any, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        r = await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


def no_repeats(tickets: list[dict[str, Any]]) -> None:
    numbers = [t["number"] for t in tickets]
    assert len(set(numbers)) == len(numbers), sorted(numbers)


@contextlib.asynccontextmanager
async def locked(settings: Settings, table: str) -> AsyncIterator[None]:
    """A table nobody can read or write until the block ends: PostgreSQL away, for that table only."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with conn.transaction():
            await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await conn.close()


async def test_numbers_not_yet_recorded_are_not_handed_out_again_after_redis_loses_its_data(settings: Settings) -> None:
    clock = FixedClock(MORNING)
    async with running_app(settings, clock) as (app, client):
        recorded = await issue(client, 5)
        await wait_recorded(app.state.pool, settings.redis_url, settings, C)
    async with running_app(settings, clock, run_persister=False) as (app, client):   # the persister held
        unrecorded = await issue(client, 5)
        assert await app.state.pool.fetchval("SELECT count(*) FROM tickets WHERE center = $1", C) == 5

    lose_redis_data(settings)

    async with running_app(settings, clock) as (app, client):
        again = await issue(client, 10)
    no_repeats(recorded + unrecorded + again)


async def test_a_redis_rolled_back_to_older_data_does_not_hand_its_numbers_out_again(settings: Settings) -> None:
    """What a Redis restarted from an AOF that lacked its last second looks like: the sequence is back
    where it was, and the server has another run id than the one that resumed the day."""
    clock = FixedClock(MORNING)
    async with running_app(settings, clock) as (app, client):
        first = await issue(client, 6)
        day = first[0]["id"].split("-")[1]
        keys = app.state.keys
        await app.state.redis.hset(keys.sequence(C, day), "A", 2)
        await app.state.redis.hset(keys.number_reserve(C, day), "_run", "0" * 40)
        later = await issue(client, 6)
    no_repeats(first + later)


async def test_numbering_goes_on_through_a_postgresql_outage_while_the_reserve_lasts(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_engine, "RECORD_TIMEOUT_S", 0.5)
    settings = replace(settings, number_reserve_min=20)
    clock = FixedClock(MORNING)
    async with running_app(settings, clock) as (app, client):
        before = await issue(client, 1)
        during: list[dict[str, Any]] = []
        async with locked(settings, "number_reservations"):
            for _ in range(100):
                r = await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})
                if r.status_code != 201:
                    break
                during.append(r.json())
            # the reserve ran out: refused, not numbered beyond what PostgreSQL holds
            assert r.status_code == 503 and r.headers["retry-after"]
            assert r.headers["content-type"].startswith("application/problem+json")
        assert len(during) >= 9   # the reserve of 20 is topped up when half is used
        after = await issue(client, 3)
        reserved = await app.state.pool.fetchval(
            "SELECT reserved_to FROM number_reservations WHERE center = $1 AND prefix = 'A'", C)
    no_repeats(before + during + after)
    assert max(int(t["number"][1:]) for t in before + during) <= reserved


async def test_the_tick_tops_up_the_centers_that_numbered_tickets_without_waiting_for_the_sweep(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numbers, "TICK_S", 0.05)
    monkeypatch.setattr(numbers, "SWEEP_S", 3600.0)   # only the sweep at the start
    settings = replace(settings, number_reserve_min=20)
    async with running_app(settings, FixedClock(MORNING)) as (app, client):
        await issue(client, 12)   # more than half of the reserve of 20: topped up at the next tick
        reserved = 0
        for _ in range(100):
            reserved = await app.state.pool.fetchval(
                "SELECT reserved_to FROM number_reservations WHERE center = $1 AND prefix = 'A'", C)
            if reserved and reserved >= 12 + 20:
                break
            await asyncio.sleep(0.05)
        assert reserved >= 12 + 20


async def test_each_centers_reserve_is_looked_at_once_a_sweep_the_turns_spread(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first tick looks at every center; then each tick at the few whose turn came, every center once
    a sweep: never all at once again (the whole city's reserves at once held the loop every 30 s)."""
    monkeypatch.setattr(numbers, "TICK_S", 0.05)
    monkeypatch.setattr(numbers, "SWEEP_S", 1.0)
    looked: list[set[str]] = []
    top_up = numbers.NumberReserve.top_up

    async def watched(self: numbers.NumberReserve, only: Any = None, centers: set[str] | None = None) -> None:
        if only is None:
            looked.append(set(centers or ()))
        await top_up(self, only, centers)

    monkeypatch.setattr(numbers.NumberReserve, "top_up", watched)
    async with running_app(settings, FixedClock(MORNING)) as (app, _):
        everyone = set(app.state.engine.catalog.centers)
        for _ in range(200):   # two sweeps: about 2 s
            if len(looked) > 1 and sum(len(s) for s in looked[1:]) >= 2 * len(everyone):
                break
            await asyncio.sleep(0.05)
    assert looked[0] == everyone
    assert set().union(*looked[1:]) == everyone
    # 14 centers over 20 ticks a sweep: about one a tick, a late tick a few
    assert max(len(s) for s in looked[1:]) < len(everyone) // 2, [len(s) for s in looked]
