"""Redis losing its data under a running app: the reader sees the center's epoch change, the ops
figures warm up again from the record (the stream is gone), and later events count on top."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from queue_server.clock import FixedClock
from queue_server.config import Settings
from tests.ops.day import START
from tests.support import AUTH, lose_redis_data, running_app, settled, wait_recorded

C = "jingansi"


async def figures(client: Any) -> dict[str, Any]:
    return (await client.get("/api/v1/ops/figures", headers=AUTH, params={"center": C})).json()["centers"][C]


async def test_figures_warm_up_again_when_redis_loses_its_data(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_WS_EPOCH_CHECK_S", "0.2")
    clock = FixedClock(START)
    async with running_app(settings, clock) as (app, client):
        await client.post(f"/api/v1/centers/{C}/windows/w1/open", headers=AUTH, json={"staff_id": f"{C}-s01"})
        for _ in range(3):
            await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})
            clock.advance(60)
        await client.post(f"/api/v1/centers/{C}/windows/w1/call-next", headers=AUTH)
        await settled(app, [C])
        await wait_recorded(app.state.pool, settings.redis_url, settings, C)
        before = await figures(client)
        assert (before["issued"], before["called"], before["waiting_total"]) == (3, 1, 2)

        epoch = app.state.realtime.reader.epochs[C]
        lose_redis_data(settings)
        deadline = time.monotonic() + 15
        while True:
            r = await client.post(f"/api/v1/centers/{C}/tickets", headers=AUTH, json={"matter": "hrss-001"})
            if r.status_code == 201:
                break
            assert r.status_code == 503 and time.monotonic() < deadline, r.text
            await asyncio.sleep(0.1)
        while app.state.ops.feed.epochs.get(C) == epoch or C in app.state.ops.feed.held:
            assert time.monotonic() < deadline, "the ops figures did not warm up again"
            await asyncio.sleep(0.05)
        await settled(app, [C])
        after = await figures(client)
        assert (after["issued"], after["called"], after["waiting_total"]) == (4, 1, 3)
        assert after["wait_avg_s"] == before["wait_avg_s"]
        grew = [a - b for a, b in zip(after["curve"]["issued"], before["curve"]["issued"])]
        assert sorted(set(grew)) == [0, 1] and sum(grew) == 1
