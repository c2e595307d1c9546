"""The check-in grace's watch: each tick reads only the centers whose turn came (at most half the
grace and at most 30 s after their last look, the first looks spread over that time) or whose
earliest grace end came — a tick with nobody due reads one center's set or none —, yet a ticket
lapses at the first tick after its grace ends."""
from __future__ import annotations

from redis.asyncio import Redis

from queue_server.clock import FixedClock
from queue_server.config import Settings
from residents.check_in import GraceWatch
from tests.evaluation.conftest import C, clock  # noqa: F401 (fixture)
from tests.support import engine_for

GRACE_S = 120   # each center looked at every 30 s at the latest (SWEEP_S, under half the grace)


async def reads(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_zrangebyscore", {}).get("calls", 0)) // 2   # two a center


async def test_a_tick_reads_only_the_centers_whose_turn_or_grace_came(settings: Settings,
                                                                       clock: FixedClock) -> None:  # noqa: F811
    async with engine_for(settings, clock) as engine:
        redis, centers = engine.redis, list(engine.catalog.centers)
        assert len(centers) >= 10
        watch = GraceWatch(engine, GRACE_S)
        await engine.set_window(C, "w1", "open", {"staff_id": f"{C}-s01"})
        tid = (await engine.issue(C, "hrss-001", "remote", phone="13812345678")).ticket["id"]
        await engine.call_next(C, "w1", tid, "test")
        await redis.zadd(engine.keys.check_in_due(C), {tid: clock.now_ms() + GRACE_S * 1000})   # as the notice consumer does

        async def tick() -> int:
            """Centers read by the tick a second later."""
            clock.advance(1)
            before = await reads(redis)
            await watch.lapse_due()
            return await reads(redis) - before

        most = -(-len(centers) // 30)                                # the turns of a second
        assert await tick() == len(centers)                         # the first look: every center
        spread = [await tick() for _ in range(30)]                   # the next ones: spread over 30 s
        assert sum(spread) == len(centers) and max(spread) <= most, spread
        later = [await tick() for _ in range(88)]                    # up to 119 s after the call
        assert max(later) <= most, later
        assert (await engine.ticket(tid)).ticket["status"] == "called"
        assert await tick() >= 1                                     # 120 s: its grace ended, its center read
        assert (await engine.ticket(tid)).ticket["status"] == "no_show"
        assert await redis.zcard(engine.keys.check_in_due(C)) == 0
