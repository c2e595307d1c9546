"""A check-in racing the end of the grace period: each remote ticket ends either checked in and still
called, or a no-show whose check-in was refused — never both, never neither."""
from __future__ import annotations

import asyncio

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.engine.queue_engine import EngineError
from tests.evaluation.conftest import C, clock  # noqa: F401 (fixture)
from tests.support import engine_for


async def test_check_in_and_lapse_race(settings: Settings, clock: FixedClock) -> None:  # noqa: F811
    async with engine_for(settings, clock) as engine:
        windows = [f"w{n}" for n in range(1, 7)]
        for n, w in enumerate(windows, 1):
            await engine.set_window(C, w, "open", {"staff_id": f"{C}-s{n:02d}"})
        outcomes = []
        for round_ in range(5):
            tickets = [(await engine.issue(C, "hrss-001", "remote", phone="13812345678")).ticket["id"] for _ in windows]
            for w, tid in zip(windows, tickets):
                await engine.call_next(C, w, tid, "test")

            async def check_in(tid: str) -> bool:
                try:
                    await engine.mark_present(tid, "", "device:kiosk")
                    return True
                except EngineError as exc:
                    assert exc.code == "illegal_transition", exc.code
                    return False

            async def lapse(tid: str) -> bool:
                try:
                    await engine.act(tid, "no-show", unless_present=True)
                    return True
                except EngineError as exc:
                    assert exc.code == "present", exc.code
                    return False

            for i, tid in enumerate(tickets):
                if (round_ + i) % 2:   # either may reach Redis first
                    present, lapsed = await asyncio.gather(check_in(tid), lapse(tid))
                else:
                    lapsed, present = await asyncio.gather(lapse(tid), check_in(tid))
                assert present != lapsed, tid
                t = (await engine.ticket(tid)).ticket
                assert t["status"] == ("no_show" if lapsed else "called")
                assert bool(t.get("present_at")) == present
                outcomes.append(present)
                if present:
                    await engine.act(tid, "no-show")    # free the window for the next round
        assert len(outcomes) == 30 and any(outcomes) and not all(outcomes)
