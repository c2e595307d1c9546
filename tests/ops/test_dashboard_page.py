"""The dashboard in real headless Chromium (Debian's) against a real server process: the district's
tiles and charts render, a center's drill-down shows a call made through the API (waited for with a
generous deadline: how fast is the benchmarks' business), and a manager's token opens its own center
only. Screenshots go to test-artifacts/screenshots/."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from queue_server.config import Settings
from tests.browser import SHOTS
from tests.support import ADMIN_TOKEN, AUTH, on_a_service_day, server_process

C = "jingansi"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every process of these tests on one service day: a run across Shanghai midnight changes nothing."""
    return on_a_service_day(settings)


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with server_process(settings) as (url, _proc):
        yield url



async def open_page(browser: Any, url: str, width: int, height: int) -> tuple[Any, list[str]]:
    context = await browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                        timezone_id="Asia/Shanghai")
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    await page.goto(url)
    return page, errors


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_dashboard_shows_a_call_and_draws_its_charts(server: str, browser: Any) -> None:
    async with httpx.AsyncClient(base_url=server, headers=AUTH, timeout=10) as api:
        for w, s in (("w1", "s01"), ("w2", "s02")):
            assert (await api.post(f"/api/v1/centers/{C}/windows/{w}/open", json={"staff_id": f"{C}-{s}"})).status_code == 200
        issued = [(await api.post(f"/api/v1/centers/{C}/tickets", json={"matter": m})).json()
                  for m in ("hrss-001", "hrss-002", "hrss-004", "ca-001")]
        await api.post("/api/v1/centers/caojiadu/tickets", json={"matter": "hrss-001"})
        first = (await api.post(f"/api/v1/centers/{C}/windows/w2/call-next")).json()["ticket"]
        await api.post(f"/api/v1/tickets/{first['id']}/start")
        await api.post(f"/api/v1/tickets/{first['id']}/finish")
        tablet_token = (await api.post("/api/v1/tokens", json={"role": "device", "center": C, "window": "w2",
                                                                "device_kind": "tablet"})).json()["token"]
        r = await api.post("/api/v1/reviews", json={"ticket_id": first["id"], "level": 5, "channel": "tablet"},
                           headers={"Authorization": f"Bearer {tablet_token}"})
        assert r.status_code == 201, r.text

        page, errors = await open_page(browser, f"{server}/dashboard?token={ADMIN_TOKEN}", 1920, 1080)
        await page.wait_for_selector(f'.tile[data-center="{C}"][data-waiting="3"]')
        assert await page.locator(".tile").count() == 14
        assert await page.get_attribute(".tile:first-child", "data-center") in (C, "caojiadu")   # sorted by longest wait
        assert await page.locator("#district-curve svg.chart-curve rect.bar").count() > 0
        assert await page.locator("#district-hist svg.chart-hist rect.bar").count() == 8
        await shot(page, "dashboard-district")

        await page.click(f'.tile[data-center="{C}"]')
        await page.wait_for_selector('body[data-view="center"] .window-card[data-window="w1"][data-state="open"]')
        assert await page.get_attribute('.queue[data-queue="comprehensive"] .count', "data-count") == "2"

        called = (await api.post(f"/api/v1/centers/{C}/windows/w1/call-next")).json()["ticket"]
        await page.wait_for_selector(f'.window-card[data-window="w1"] .current[data-number="{called["number"]}"]',
                                     timeout=15_000)
        await page.wait_for_selector('.queue[data-queue="comprehensive"] .count[data-count="1"]', timeout=15_000)
        assert await page.locator("#center-curve svg.chart-curve rect.bar").count() > 0
        assert await page.locator("#center-curve svg.chart-curve polyline.line-served").count() == 1
        hist = page.locator("#center-hist svg.chart-hist rect.bar")
        assert await hist.count() == 8
        assert sum([int(await hist.nth(i).get_attribute("data-count")) for i in range(8)]) == 2
        assert await page.locator("#center-ratings .rating-row .bar").count() == 5
        assert await page.get_attribute('#center-ratings .bar[data-level="5"]', "data-count") == "1"
        await shot(page, "dashboard-center")
        assert not errors, errors

        r = await api.post("/api/v1/tokens", json={"role": "manager", "center": "caojiadu", "label": "manager"})
        manager = r.json()["token"]
        tablet, errors = await open_page(browser, f"{server}/dashboard?token={manager}", 1280, 800)
        await tablet.wait_for_selector('body[data-view="center"] .window-card[data-window="w1"]')
        assert "曹家渡" in await tablet.text_content("#center-name")
        assert await tablet.locator(".tile").count() == 0 and await tablet.is_hidden("#back")
        assert await tablet.get_attribute('.queue[data-queue="comprehensive"] .count', "data-count") == "1"
        await shot(tablet, "dashboard-tablet-manager")
        assert not errors, errors
        phone, errors = await open_page(browser, f"{server}/dashboard?token={manager}", 390, 844)
        await phone.wait_for_selector('body[data-view="center"] .window-card[data-window="w1"]')
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
        await shot(phone, "dashboard-phone-manager")
        assert not errors, errors
        assert issued


async def test_center_view_shows_its_service_points_and_the_district_counts_remote_apart(server: str, browser: Any) -> None:
    """Tickets at two points of the center (the demo's r1 serves sp1 and sp2 all day, r2 sp3 and sp4)
    and one in the hall: the district view counts them apart, each point's card shows its tickets,
    its waiting residents and its remote window with whether it is open."""
    async with httpx.AsyncClient(base_url=server, headers=AUTH, timeout=10) as api:
        assert (await api.post(f"/api/v1/centers/{C}/windows/r1/open", json={"staff_id": f"{C}-s01"})).status_code == 200
        for p in ("sp1", "sp1", "sp3"):
            if p == "sp3":
                assert (await api.post(f"/api/v1/centers/{C}/windows/r2/open",
                                       json={"staff_id": f"{C}-s02"})).status_code == 200
            r = await api.post(f"/api/v1/centers/{C}/tickets",
                               json={"matter": "hrss-001", "channel": "service_point", "service_point": p})
            assert r.status_code == 201, r.text
        assert (await api.post(f"/api/v1/centers/{C}/windows/r2/close")).status_code == 200
        assert (await api.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})).status_code == 201

        page, errors = await open_page(browser, f"{server}/dashboard?token={ADMIN_TOKEN}", 1920, 1080)
        await page.wait_for_selector('#district-channels .channel[data-channel="remote"][data-issued="3"][data-waiting="3"]')
        await page.wait_for_selector('#district-channels .channel[data-channel="hall"][data-issued="1"][data-waiting="1"]')
        await page.wait_for_selector(f'.tile[data-center="{C}"] .remote[data-issued="3"][data-waiting="3"]')
        cut = await page.eval_on_selector_all(".tile-stats dt", "(els) => els.filter((el) => el.scrollWidth > el.clientWidth)"
                                              ".map((el) => el.textContent)")
        assert not cut, f"tile labels cut short: {cut}"
        await page.click(f'.tile[data-center="{C}"]')
        await page.wait_for_selector('body[data-view="center"] .point-card[data-point="sp1"][data-issued="2"][data-waiting="2"]')
        assert await page.locator(".point-card").count() == 4
        assert await page.is_visible('.point-card[data-point="sp1"]')
        assert await page.get_attribute('.point-card[data-point="sp1"] .point-window', "data-window") == "r1"
        assert await page.get_attribute('.point-card[data-point="sp1"] .point-window', "data-open") == "true"
        assert await page.get_attribute('.point-card[data-point="sp3"] .point-window', "data-open") == "false"
        assert await page.get_attribute('.point-card[data-point="sp3"]', "data-issued") == "1"
        assert "华山居民区" in await page.text_content('.point-card[data-point="sp1"] .point-head')
        assert await page.evaluate("document.documentElement.scrollWidth") <= 1920

        called = (await api.post(f"/api/v1/centers/{C}/windows/r1/call-next")).json()["ticket"]
        assert called["service_point"] == "sp1"
        await page.wait_for_selector('.point-card[data-point="sp1"][data-waiting="1"]', timeout=15_000)
        await page.wait_for_selector('#center-channels .channel[data-channel="remote"][data-waiting="2"]', timeout=15_000)
        await shot(page, "dashboard-center-points")
        assert not errors, errors
