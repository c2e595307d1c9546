"""The ops poller's reading of the devices' presence records, on real Redis: a record unchanged
since the last poll is kept as it was shaped (not parsed again), yet it still goes offline once it
has not been heard from for too long; a changed record is read anew, a malformed one skipped."""
from __future__ import annotations

import orjson
from redis.asyncio import Redis

from queue_server.config import Settings
from queue_server.engine.keys import Keys
from queue_server.ops.poll import DeviceReader

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
