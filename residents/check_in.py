"""The check-in grace of remote tickets: a resident who took a ticket from home may still be on the
way when called. Called without having checked in (at the kiosk or with the clerk), the ticket lapses
to a no-show once the grace period (``QUEUE_REMOTE_CHECK_IN_GRACE_S``) is over — unless a check-in
came first: the no-show is refused by the same script that makes it (``unless_present``)."""
from __future__ import annotations

import asyncio

from queue_server.engine.queue_engine import EngineError, QueueEngine

BATCH = 100
SETTLED = ("illegal_transition", "present", "not_found")   # served, ended or checked in meanwhile: nothing to do


SWEEP_S = 30.0   # at most this long between two looks at a center's due set


class GraceWatch:
    """When to look at each center's due set next: when its earliest grace ends, and at the latest
    ``SWEEP_S`` after the last look — at most half the grace, so a ticket called just after a look is
    known well before its grace ends. The first looks are spread over a sweep, so each tick reads the
    few centers whose turn or grace came. Reading all 287 centers' sets every second cost the http
    process 5 ms of the event loop each time at city size, for the few tickets ever due. A ticket
    whose ``ticket.called`` event reaches the notice consumer more than half the grace late (a
    backlog) lapses at its center's next look."""

    def __init__(self, engine: QueueEngine, grace_s: float) -> None:
        self.engine = engine
        self.sweep_ms = int(min(SWEEP_S, grace_s / 2) * 1000)
        self.look_at: dict[str, float] = {}   # center -> when to read its due set next (app clock, ms)

    async def lapse_due(self) -> int:
        """No-show every called remote ticket whose grace is over and whose resident did not check in,
        at the centers whose turn came; returns how many lapsed."""
        redis, keys, now = self.engine.redis, self.engine.keys, self.engine.clock.now_ms()
        centers = [c for c in self.engine.catalog.centers if self.look_at.get(c, now) <= now]
        if not centers:
            return 0
        async with redis.pipeline(transaction=False) as pipe:   # in one round trip: few are ever due
            for center in centers:
                pipe.zrangebyscore(keys.check_in_due(center), "-inf", now, start=0, num=BATCH)
                pipe.zrangebyscore(keys.check_in_due(center), f"({now}", "+inf", start=0, num=1, withscores=True)
            replies = await pipe.execute()
        first = [c for c in centers if c not in self.look_at]
        turn = {c: now + self.sweep_ms * (i + 1) // len(first) for i, c in enumerate(first)}   # spread over a sweep
        lapsed = 0
        for i, center in enumerate(centers):
            ids, later = replies[2 * i], replies[2 * i + 1]
            self.look_at[center] = now if len(ids) == BATCH else \
                min(turn.get(center, now + self.sweep_ms), later[0][1] if later else float("inf"))
            lapsed += await self._lapse(center, ids)
        return lapsed

    async def _lapse(self, center: str, ids: list[bytes | str]) -> int:
        lapsed = 0
        due_key = self.engine.keys.check_in_due(center)
        for raw in ids:
            tid = raw.decode() if isinstance(raw, bytes) else raw
            try:
                await self.engine.act(tid, "no-show", extra={"reason": "not checked in within the grace period"},
                                      unless_present=True)
                lapsed += 1
            except EngineError as exc:
                if exc.code not in SETTLED:
                    raise
            await self.engine.redis.zrem(due_key, tid)
        return lapsed


async def run(engine: QueueEngine, grace_s: float, every_s: float, stop: asyncio.Event) -> None:
    """``GraceWatch.lapse_due`` once a period until ``stop``; a failure ends the run, for the supervisor
    to restart (with a look at every center first)."""
    watch = GraceWatch(engine, grace_s)
    while not stop.is_set():
        await watch.lapse_due()
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except asyncio.TimeoutError:
            pass
