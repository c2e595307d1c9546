"""The ops poller's reading of the devices' presence records, on real Redis: a record unchanged
since the last poll is kept as it was shaped (not parsed again), yet it still goes offline once it
has not been heard from for too long; a changed record is read anew, a malformed one skipped. And
what it reads: only the centers someone watches; a reading Redis refused is tried again."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.embedded import free_port
from queue_server.engine.keys import Keys
from queue_server.ops.live import LiveFigures
from queue_server.ops.poll import DeviceReader, Poller
from tests.ops.test_live_rules import CENTER

C = "jingansi"
T0 = 1_764_640_000_000
ONLINE_S = 90


def record(kind: str, window: str | None, label: str, last_seen: int, online: bool = True) -> bytes:
    return orjson.dumps({"kind": kind, "window": window, "label": label, "last_seen": last_seen, "online": online})


async def test_unchanged_records_are_kept_and_still_go_offline(settings: Settings) -> None:
    keys, redis = Keys(settings.key_prefix), Redis.from_url(settings.redis_url)
    try:
        await redis.hset(keys.devices(C), mapping={
            "screen:w1:hall 1": record("screen", "w1", "hall 1", T0 - 1_000),
            "kiosk:-:door": record("kiosk", None, "door", T0 - 80_000),
            "tablet:w2:w2 tablet": record("tablet", "w2", "w2 tablet", T0 - 5_000, online=False),
            "screen:w9:broken": b"{not json",
        })
        reader = DeviceReader()
        first = (await reader.read(redis, keys, [C], T0, ONLINE_S))[C]
        assert [(d["id"], d["online"]) for d in first] == [
            ("kiosk:-:door", True), ("screen:w1:hall 1", True), ("tablet:w2:w2 tablet", False)]

        # 20 s later, nothing rewritten: the same entries, but the door kiosk is now past its 90 s
        later = (await reader.read(redis, keys, [C], T0 + 20_000, ONLINE_S))[C]
        assert [(d["id"], d["online"]) for d in later] == [
            ("screen:w1:hall 1", True), ("kiosk:-:door", False), ("tablet:w2:w2 tablet", False)]
        assert later[0] is first[1] and later[2] is first[2]

        # the kiosk is heard from again: its new record is read anew, online
        await redis.hset(keys.devices(C), "kiosk:-:door", record("kiosk", None, "door", T0 + 21_000))
        again = (await reader.read(redis, keys, [C], T0 + 22_000, ONLINE_S))[C]
        assert [(d["id"], d["online"], d["last_seen"]) for d in again][:2] == [
            ("kiosk:-:door", True, T0 + 21_000), ("screen:w1:hall 1", True, T0 - 1_000)]
        assert again[1] is later[0]
    finally:
        await redis.delete(keys.devices(C))
        await redis.aclose()


async def test_only_what_is_watched_is_read(settings: Settings) -> None:
    """Nobody watching, the poller reads nothing; a dashboard of one center has that center read every
    poll and no other; a read of the figures has what it covers read at once unless read within a poll
    period; and callers arriving together share one reading."""
    keys, redis = Keys(settings.key_prefix), Redis.from_url(settings.redis_url)
    other = "caojiadu"
    centers = {code: replace(CENTER, code=code) for code in (C, other)}
    figures = LiveFigures(centers, "Asia/Shanghai", 900, T0)
    watchers: list[str | None] = []
    changes: list[int] = []
    poller = Poller(figures, redis, keys, FixedClock(datetime.fromtimestamp(T0 / 1000, timezone.utc)), ONLINE_S, 0.05, lambda: centers, lambda: watchers,
                    lambda: changes.append(figures.version))
    stop = asyncio.Event()

    def listed(center: str) -> list[str]:
        return [d["id"] for d in figures.centers[center].devices]

    async def polled() -> None:   # a few polls of the running poller
        await asyncio.sleep(0.2)

    try:
        for c in (C, other):
            await redis.hset(keys.devices(c), "screen:w1:hall 1", record("screen", "w1", "hall 1", T0 - 1_000))
        running = asyncio.create_task(poller.run(stop))
        await polled()
        assert listed(C) == listed(other) == [] and changes == []

        watchers.append(C)
        await polled()
        assert listed(C) == ["screen:w1:hall 1"] and listed(other) == [] and changes

        stop.set()
        await running
        await poller.fresh(poller.scope([None]), within_s=60)   # the district: only the center not read yet
        assert listed(other) == ["screen:w1:hall 1"]
        await redis.hset(keys.devices(other), "kiosk:-:door", record("kiosk", None, "door", T0))
        await poller.fresh(poller.scope([other]), within_s=60)  # read just now: as it was
        assert listed(other) == ["screen:w1:hall 1"]

        calls = 0
        read = poller.reader.read

        async def counted(*args: Any) -> Any:
            nonlocal calls
            calls += 1
            return await read(*args)

        poller.reader.read = counted   # type: ignore[method-assign]
        await asyncio.sleep(0.1)       # past the 0.05 s asked for below
        await asyncio.gather(*(poller.fresh(poller.scope([other]), within_s=0.05) for _ in range(5)))
        assert calls == 1 and listed(other) == ["kiosk:-:door", "screen:w1:hall 1"]
    finally:
        stop.set()
        await redis.delete(keys.devices(C), keys.devices(other))
        await redis.aclose()


async def test_a_reading_redis_refused_is_tried_again(settings: Settings) -> None:
    """Redis away, a reading fails as a Redis error (the dashboard's socket and the figures' read
    then keep what was last read) and marks nothing read, so the next reading, Redis back, reads it."""
    keys, redis = Keys(settings.key_prefix), Redis.from_url(settings.redis_url)
    centers = {C: CENTER}
    figures = LiveFigures(centers, "Asia/Shanghai", 900, T0)
    away = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    poller = Poller(figures, away, keys, FixedClock(datetime.fromtimestamp(T0 / 1000, timezone.utc)), ONLINE_S, 60,
                    lambda: centers, lambda: [], lambda: None)
    try:
        await redis.hset(keys.devices(C), "screen:w1:hall 1", record("screen", "w1", "hall 1", T0 - 1_000))
        with pytest.raises(RedisError):
            await poller.fresh([C])
        assert figures.centers[C].devices == []
        poller.redis = redis
        await poller.fresh([C])
        assert [d["id"] for d in figures.centers[C].devices] == ["screen:w1:hall 1"]
    finally:
        await redis.delete(keys.devices(C))
        await redis.aclose()
        await away.aclose()
