"""Rebuilding the hot state from the record when Redis comes back empty: today's live tickets in
their lines and original order, the windows' states, and each center's daily sequences resumed
above every number that may have been handed out (record/numbers.py: the recorded reservation,
not the highest recorded ticket, which misses those the persister had not written yet)."""
from __future__ import annotations

import asyncio
import logging
from datetime import date

import asyncpg
import orjson
from redis.asyncio import Redis

from ..clock import Clock
from ..config import Settings
from ..domain.catalog import Catalog
from ..domain.numbering import service_day
from ..engine.keys import Keys
from .numbers import NumberReserve
from .personal import PersonalData

log = logging.getLogger("queue_server.rebuild")
TICKET_TTL_S = 2 * 86_400


async def rebuild_if_lost(redis: Redis, pool: asyncpg.Pool, keys: Keys, catalog: Catalog, clock: Clock,
                          personal: PersonalData | None = None) -> int | None:
    """Rebuild every center whose hot state Redis no longer holds; returns the number of tickets
    restored (None if nothing was needed). Several instances may notice together: one rebuilds
    under a lock while the others wait, and the scripts refuse to number tickets meanwhile. A live
    ticket gets its phone back (``personal`` opens it; default: the configured key) for its SMS."""
    personal = personal or PersonalData.from_settings(Settings.from_env())
    async def lost() -> list[str]:
        return [c for c in catalog.centers if not await redis.exists(keys.alive(c))]

    if not await lost():
        return None
    while not await redis.set(keys.rebuild_lock(), "1", nx=True, px=120_000):
        await asyncio.sleep(0.2)
        if not await lost():
            return None
    try:
        restored = 0
        numbers = NumberReserve(redis, pool, keys, catalog, clock)
        for code in await lost():
            day = service_day(clock.now_ms(), catalog.centers[code].timezone)
            restored += await _rebuild_center(redis, pool, keys, code, day, personal)
            await numbers.resume(code, day)
            await redis.set(keys.alive(code), "1")
        log.info("rebuilt the hot state from PostgreSQL: %d live tickets", restored)
        return restored
    finally:
        await redis.delete(keys.rebuild_lock())


async def _rebuild_center(redis: Redis, pool: asyncpg.Pool, keys: Keys, center: str, day: str,
                          personal: PersonalData) -> int:
    d = date(int(day[:4]), int(day[4:6]), int(day[6:]))
    async with pool.acquire() as conn:
        live = await conn.fetch(
            "SELECT data, phone_sealed FROM tickets WHERE center = $1 AND day = $2 AND status IN ('waiting','called','serving','paused')",
            center, d)
        windows = await conn.fetch("SELECT window_code, data FROM window_states WHERE center = $1", center)
    async with redis.pipeline(transaction=False) as pipe:
        for r in windows:
            w = orjson.loads(r["data"])
            fields = {k: str(v) for k, v in w.items() if k != "id" and v is not None}
            fields.setdefault("current", "")
            pipe.hset(keys.window(center, r["window_code"]), mapping=fields)
            if w.get("state") == "open":
                for q in str(w.get("queues", "")).split(","):
                    if q:
                        pipe.sadd(keys.open_windows(center, q), r["window_code"])
        for r in live:
            t = orjson.loads(r["data"])
            if r["phone_sealed"] is not None:
                t["phone"] = personal.open(r["phone_sealed"])
            key = keys.ticket(center, t["id"])
            pipe.hset(key, mapping={k: str(v) for k, v in t.items()})
            pipe.expire(key, TICKET_TTL_S)
            pipe.sadd(keys.live(center), t["id"])
            if t["status"] == "waiting":
                line = (keys.window_waiting(center, t["target_window"]) if t.get("target_window")
                        else keys.waiting(center, t.get("line") or t["queue"], t["class"]))
                pipe.zadd(line, {t["id"]: int(t["sort_at"])})
            elif t["status"] in ("called", "serving") and t.get("window"):
                pipe.hset(keys.window(center, t["window"]), "current", t["id"])
        await pipe.execute()
    return len(live)
