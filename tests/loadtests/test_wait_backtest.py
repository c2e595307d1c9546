"""The wait backtest: on generated days the live estimate beats the coarse formula (median and p90
absolute error); a day recorded in PostgreSQL replays into exactly the estimates the server gave; a
generated day served by the real engine and replayed from the record shows the same."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

from loadtests.wait_backtest import day_plan, drive_day, figures, generated_day, recorded_events, replay
from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.record.demo_data import MATTERS
from tests.support import engine_for

C = "jingansi"
MORNING = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai


def test_the_live_estimate_beats_the_coarse_formula_on_generated_days() -> None:
    typical = {m["code"]: m["typical_minutes"] * 60.0 for m in MATTERS}
    coarse, live = [], []
    for seed in range(1, 7):
        c, n = replay(generated_day(seed), typical).errors()
        coarse += c
        live += n
    coarse.sort(); live.sort()
    assert live[len(live) // 2] < coarse[len(coarse) // 2]
    assert live[int(len(live) * 0.9)] < coarse[int(len(coarse) * 0.9)]


async def test_a_recorded_day_replays(settings: Settings) -> None:
    clock = FixedClock(MORNING)
    async with engine_for(replace(settings, durability="record"), clock) as engine:
        await engine.set_window(C, "w1", "open", {"id": f"{C}-s01", "name": "王丽华", "no": "JA01001"})
        told = [await engine.issue(C, m, "kiosk") for m in ("hrss-001", "hrss-002", "hrss-001")]
        for _ in told:
            clock.advance(30)
            called = await engine.call_next(C, "w1")
            await engine.act(called["ticket"]["id"], "start", None)
            clock.advance(400)
            await engine.act(called["ticket"]["id"], "finish", None)
        events, typical = await recorded_events(settings.database_url, C, date(2026, 11, 30), date(2026, 12, 1))
    r = replay(events, typical)
    assert [r.told[p.ticket["id"]][1] for p in told] == [p.estimated_wait_s for p in told]
    assert [round(r.waits[p.ticket["id"]]) for p in told] == [30, 460, 890]
    assert figures(r)["tickets"] == 3


async def test_a_generated_day_served_by_the_engine_replays_from_the_record(settings: Settings) -> None:
    clock = FixedClock(datetime(2026, 11, 30, 0, 30, tzinfo=timezone.utc))    # 08:30 in Shanghai
    plan = day_plan(3)
    async with engine_for(replace(settings, durability="record"), clock) as engine:
        await drive_day(plan, engine, clock, C)
        events, typical = await recorded_events(settings.database_url, C, date(2026, 11, 30), date(2026, 12, 1))
    r = replay(events, typical)
    assert len(r.told) == len(plan.arrivals) == len(r.waits)          # every walk-in was issued and called
    coarse, live = (sorted(e) for e in r.errors())
    assert live[len(live) // 2] < coarse[len(coarse) // 2]
