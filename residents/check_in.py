"""The check-in grace of remote tickets: a resident who took a ticket from home may still be on the
way when called. Called without having checked in (at the kiosk or with the clerk), the ticket lapses
to a no-show once the grace period (``QUEUE_REMOTE_CHECK_IN_GRACE_S``) is over — unless a check-in
came first: the no-show is refused by the same script that makes it (``unless_present``)."""
from __future__ import annotations

import asyncio

from queue_server.engine.queue_engine import EngineError, QueueEngine

BATCH = 100
SETTLED = ("illegal_transition", "present", "not_found")   # served, ended or checked in meanwhile: nothing to do


async def lapse_due(engine: QueueEngine) -> int:
    """No-show every called remote ticket whose grace is over and whose resident did not check in."""
    redis, keys, now = engine.redis, engine.keys, engine.clock.now_ms()
    centers = list(engine.catalog.centers)
    async with redis.pipeline(transaction=False) as pipe:   # every center's in one round trip: few are ever due
        for center in centers:
            pipe.zrangebyscore(keys.check_in_due(center), "-inf", now, start=0, num=BATCH)
        due = await pipe.execute()
    lapsed = 0
    for center, ids in zip(centers, due):
        due_key = keys.check_in_due(center)
        for raw in ids:
            tid = raw.decode() if isinstance(raw, bytes) else raw
            try:
                await engine.act(tid, "no-show", extra={"reason": "not checked in within the grace period"},
                                 unless_present=True)
                lapsed += 1
            except EngineError as exc:
                if exc.code not in SETTLED:
                    raise
            await redis.zrem(due_key, tid)
    return lapsed


async def run(engine: QueueEngine, every_s: float, stop: asyncio.Event) -> None:
    """``lapse_due`` once a period until ``stop``; a failure ends the run, for the supervisor to restart."""
    while not stop.is_set():
        await lapse_due(engine)
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except asyncio.TimeoutError:
            pass
