"""The figures' warm-up on a sockets process whose day is already in the record (generated tickets and
events, loadtests/year_data.py, as a process started in the afternoon finds them). What must hold: a
center's first dashboard waits for its own center only, warmed ahead of the rest, and sees all of its
day; the district's first dashboard is told how far the warm-up is, never backwards, until a
snapshot that counts every ticket of the day; the dashboard page shows that progress, at each size it
is used at, then the district."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from loadtests.year_data import load_year
from queue_server.config import Settings
from tests.browser import SHOTS
from tests.realtime.live import open_live, receive
from tests.support import ADMIN_TOKEN, on_a_service_day, running_app, server_process, service_day, tiers_front

PER_DAY = 2000        # tickets a center: enough day for the warm-up to take a moment
WARMING = {"QUEUE_TIER": "sockets", "QUEUE_OPS_WARMING_EVERY_S": "0.1"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return on_a_service_day(settings)


async def _a_day_recorded(settings: Settings) -> dict[str, int]:
    """Today's tickets of every center in the record; how many each center issued."""
    day = datetime.strptime(service_day(settings), "%Y%m%d").date()
    conn = await asyncpg.connect(settings.database_url)
    try:
        centers = [r["code"] for r in await conn.fetch("SELECT code FROM centers ORDER BY code")]
        await load_year(conn, centers, day, 1, PER_DAY)
        return dict(await conn.fetch("SELECT center, count(*) FROM tickets WHERE day = $1 GROUP BY center", day))
    finally:
        await conn.close()


async def test_a_centers_first_dashboard_waits_for_its_own_center_only(settings: Settings) -> None:
    issued = await _a_day_recorded(settings)
    async with running_app(replace(settings, tier="sockets")) as (app, _):
        ops = app.state.ops
        last = list(ops.figures.centers)[-1]     # the one that would have waited for every other
        await ops.keep(last)
        warm, of = ops.warming
        now = app.state.clock.now_ms()
        assert last in ops.feed.warmed and warm < of == len(issued)
        assert ops.figures.centers[last].current(now).issued == issued[last]
        await ops.keep()
        assert ops.warming == (of, of) and ops.kept
        for _ in range(3):   # later asks, kept: nothing queued for a warm-up
            await ops.keep(last)
        assert ops.feed.asked == []
        assert {c: live.current(now).issued for c, live in ops.figures.centers.items()} == issued


async def test_the_districts_first_dashboard_is_told_how_far_the_warm_up_is(settings: Settings) -> None:
    issued = await _a_day_recorded(settings)
    with server_process(settings, extra_env=WARMING) as (url, _):
        ws = await open_live(url, "/ws/ops")
        progress: list[tuple[int, int]] = []
        while (msg := await receive(ws, 60))["type"] == "warming":
            progress.append((msg["centers_warm"], msg["centers"]))
        assert msg["type"] == "snapshot"
        assert progress and {of for _, of in progress} == {len(issued)}
        assert [w for w, _ in progress] == sorted(w for w, _ in progress)
        assert msg["district"]["issued"] == sum(issued.values())
        await ws.close()


@pytest.mark.parametrize("width, height", [(1920, 1080), (1280, 800), (390, 844)])
async def test_the_dashboard_shows_the_warm_up_then_the_district(settings: Settings, browser: Any,
                                                                 width: int, height: int) -> None:
    issued = await _a_day_recorded(settings)
    with server_process(settings, extra_env={"QUEUE_TIER": "http"}) as (http, _), \
            server_process(settings, extra_env=WARMING) as (sockets, _):
        async with tiers_front(sockets, http) as front:
            context = await browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                                timezone_id="Asia/Shanghai")
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            try:
                await page.goto(f"{front}/dashboard?token={ADMIN_TOKEN}")
                await page.wait_for_selector("#warming:not([hidden])", timeout=30_000)
                text = await page.inner_text("#warming")
                assert "正在载入今日数据" in text and "Loading today's figures" in text
                assert await page.get_attribute("#live", "data-state") == "warming"
                box = await page.locator("#warming").bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
                SHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SHOTS / f"dashboard-warming-{width}x{height}.png"))
                await page.wait_for_selector("#district:not([hidden])", timeout=60_000)
                assert await page.is_hidden("#warming")
                assert await page.get_attribute("#live", "data-state") == "online"
                kpis = await page.inner_text("#district-kpis")
                assert f"{sum(issued.values())}" in kpis.replace(",", "")
                assert not errors, errors
            finally:
                await context.close()
