"""The live wait estimate on real Redis with an injected clock: finishes feed each queue's and
matter's recent handling times (at most SAMPLES_KEPT) and the summary of them a position read takes,
and a resident's estimate weighs the people ahead by their own matters, shared by the open windows,
with the priority calls the cycle interleaves."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.domain.wait import SAMPLES_KEPT, RecentHandling, handling_s
from tests.support import engine_for

C = "jingansi"
MORNING = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
SLOW, QUICK = "hrss-001", "hrss-002"                           # both in queue A of the demo center


@pytest.fixture
async def clocked(settings: Settings):
    clock = FixedClock(MORNING)
    async with engine_for(settings, clock) as e:
        yield e, clock


async def serve(engine, clock: FixedClock, matter: str, took_s: float) -> None:
    await engine.issue(C, matter, "kiosk")
    called = await engine.call_next(C, "w1")
    await engine.act(called["ticket"]["id"], "start", None)
    clock.advance(took_s)
    await engine.act(called["ticket"]["id"], "finish", None)


async def test_estimate_from_the_matters_ahead_and_their_recent_finishes(clocked) -> None:
    engine, clock = clocked
    assert engine.catalog.centers[C].queue_for(SLOW, "kiosk").code == engine.catalog.centers[C].queue_for(QUICK, "kiosk").code
    queue = engine.catalog.centers[C].queue_for(SLOW, "kiosk").code
    await engine.set_window(C, "w1", "open", {"id": f"{C}-s01", "name": "王丽华", "no": "JA01001"})
    for _ in range(SAMPLES_KEPT + 5):
        await serve(engine, clock, SLOW, 1500)
    for _ in range(6):
        await serve(engine, clock, QUICK, 90)
    slow_samples = await engine.redis.lrange(engine.keys.handling_samples(C, queue, SLOW), 0, -1)
    assert len(slow_samples) == SAMPLES_KEPT and {float(s) for s in slow_samples} == {1500.0}
    typical = engine.typical_s
    kept = await engine.redis.get(engine.keys.handling_summary(C, queue, SLOW))
    assert RecentHandling.parse(kept.decode()) == RecentHandling(SAMPLES_KEPT, 1500.0)
    h_slow = handling_s(RecentHandling(SAMPLES_KEPT, 1500.0), typical[SLOW])
    h_quick = handling_s(RecentHandling(6, 90.0), typical[QUICK])

    for matter in (SLOW, SLOW, QUICK):
        await engine.issue(C, matter, "kiosk")
    mine = await engine.issue(C, QUICK, "kiosk")
    assert mine.ahead == 3
    per_call = (2 * h_slow + h_quick) / 3
    assert mine.estimated_wait_s == round(3.5 * per_call / 1)
    assert (await engine.ticket(mine.ticket["id"])).estimated_wait_s == mine.estimated_wait_s

    await engine.set_window(C, "w2", "open", {"id": f"{C}-s02", "name": "李强", "no": "JA01002"})
    shared = await engine.ticket(mine.ticket["id"])
    assert shared.estimated_wait_s == round(3.5 * per_call / 2)      # w1 and w2 both serve the line


@pytest.mark.parametrize("took_s", [[612.4, 95.0, 1800.2, 300.1], [45.5, 45.6, 3000.0], [7.1] * 3 + [900.0] * 2])
async def test_the_kept_summary_is_the_domains_median_of_the_samples(clocked, took_s: list[float]) -> None:
    engine, clock = clocked
    queue = engine.catalog.centers[C].queue_for(QUICK, "kiosk").code
    await engine.set_window(C, "w1", "open", {"id": f"{C}-s01", "name": "王丽华", "no": "JA01001"})
    for took in took_s:
        await serve(engine, clock, QUICK, took)
    kept = await engine.redis.get(engine.keys.handling_summary(C, queue, QUICK))
    assert RecentHandling.parse(kept.decode()) == RecentHandling.of(took_s)


async def test_samples_kept_before_their_summary_still_count(clocked) -> None:
    """A Redis holding samples kept before their summaries were (a deployment onto a live day): the
    position read takes the median of the samples themselves."""
    engine, clock = clocked
    queue = engine.catalog.centers[C].queue_for(SLOW, "kiosk").code
    await engine.set_window(C, "w1", "open", {"id": f"{C}-s01", "name": "王丽华", "no": "JA01001"})
    for took in (1500, 1300, 1700, 1400):
        await serve(engine, clock, SLOW, took)
    await engine.issue(C, SLOW, "kiosk")
    mine = await engine.issue(C, QUICK, "kiosk")
    await engine.redis.delete(engine.keys.handling_summary(C, queue, SLOW))
    read = await engine.ticket(mine.ticket["id"])
    assert read.estimated_wait_s == mine.estimated_wait_s
    per_call = handling_s(RecentHandling(4, 1450.0), engine.typical_s[SLOW])
    assert read.estimated_wait_s == round(1.5 * per_call)
