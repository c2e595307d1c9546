"""A ticket being served still occupies its window: the window screen and the staff console show
it, the next call waits, and the window cannot close under it."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from queue_server.clock import FixedClock
from queue_server.config import Settings
from queue_server.engine.queue_engine import EngineError
from tests.support import engine_for

C = "jingansi"


async def test_serving_ticket_keeps_its_window(settings: Settings) -> None:
    async with engine_for(settings, FixedClock(datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc))) as engine:
        await engine.set_window(C, "w1", "open", {"id": f"{C}-s01", "name": "王丽华", "no": "JA01001"})
        first = await engine.issue(C, "hrss-001", "kiosk")
        await engine.issue(C, "hrss-002", "kiosk")
        await engine.call_next(C, "w1")
        started = await engine.act(first.ticket["id"], "start", "w1")
        assert started["window"]["current"] == first.ticket["id"]
        with pytest.raises(EngineError) as busy:
            await engine.call_next(C, "w1")
        assert busy.value.code == "window_busy"
        with pytest.raises(EngineError):
            await engine.set_window(C, "w1", "closed")
        finished = await engine.act(first.ticket["id"], "finish", "w1")
        assert not finished["window"].get("current")
