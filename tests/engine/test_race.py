"""Many windows racing call-next: every ticket is called exactly once and numbers never repeat."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
import pytest

from queue_server.clock import ShiftedClock
from queue_server.config import Settings
from queue_server.domain.catalog import Window
from queue_server.record.catalog import load_catalog
from tests.support import engine_for, on_a_service_day

C = "jingansi"
WINDOWS = 50
TICKETS = 10_000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every process of these tests on one service day: a run across Shanghai midnight changes nothing."""
    return on_a_service_day(settings)


async def test_fifty_windows_race_over_ten_thousand_tickets(settings: Settings) -> None:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    catalog = await load_catalog(pool)
    await pool.close()
    hall = catalog.centers[C]
    windows = {f"x{i}": Window(f"x{i}", f"{i}号窗口", f"Window {i}", "onsite", ("comprehensive", "quick"))
               for i in range(1, WINDOWS + 1)}
    catalog.centers[C] = replace(hall, windows=windows)

    async with engine_for(settings, ShiftedClock(settings.clock_offset_ms), catalog) as engine:
        for w in windows:
            await engine.set_window(C, w, "open", {"id": f"{C}-s01", "name": "测试"})
        matters = ["hrss-001", "hrss-004", "mi-001"]
        priorities = ["normal", "normal", "priority"]
        numbers: list[str] = []
        for start in range(0, TICKETS, 500):
            batch = await asyncio.gather(*(
                engine.issue(C, matters[i % 3], "kiosk", priority=priorities[i % 3]) for i in range(start, start + 500)))
            numbers += [p.ticket["number"] for p in batch]
        assert len(set(numbers)) == TICKETS

        called: list[str] = []

        async def window_loop(w: str) -> None:
            while (c := await engine.call_next(C, w)) is not None:
                assert c["window"]["id"] == w
                called.append(c["ticket"]["id"])
                await engine.act(c["ticket"]["id"], "no-show", acting_window=w)

        await asyncio.gather(*(window_loop(w) for w in windows))
        assert len(called) == TICKETS
        assert len(set(called)) == TICKETS
        assert await engine.redis.scard(engine.keys.live(C)) == 0
        kinds: dict[str, int] = {}
        for _, f in await engine.redis.xrange(engine.keys.events(C)):
            kinds[f[b"type"].decode()] = kinds.get(f[b"type"].decode(), 0) + 1
        assert kinds["ticket.called"] == TICKETS and kinds["ticket.issued"] == TICKETS
