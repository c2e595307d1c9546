"""The dashboard's words at the sizes of the managers' screens (1920×1080 wall screen, 1366×768
laptop), in real Chromium against a real server process: no label wraps (a lone "open" on a line of
its own), every figure has one unit (``35 s``, not ``35 秒 s``), and the center view lists each
clerk's day (served, handling, idle, paused by reason) from the reports by staff; a ticket done at a
window leaves its card."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from queue_server.config import Settings
from tests.ops.test_dashboard_page import open_page, shot
from tests.support import ADMIN_TOKEN, AUTH, server_process, wait_recorded

C = "jingansi"
LABELS = (".kpi .label .zh, .kpi .label .en, .tile-stats dt .zh, .tile-stats dt .en, .tile-wait .label .zh,"
          " .tile-wait .label .en, .tile-name .zh, .staff-table th .zh, .staff-table th .en, .channel-name .zh,"
          " .channel-stat .label .zh, .channel-stat .label .en, .point-stat .label .zh, .point-stat .label .en,"
          " .point-windows > .label .zh")
# How many lines each label's text takes: one rectangle per line box of its text.
LINES = """(els) => els.filter((el) => el.offsetParent !== null).map((el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
  return [el.textContent, tops.size];
})"""
DOUBLED = re.compile(r"[\u4e00-\u9fff].*[A-Za-z]|[A-Za-z].*[\u4e00-\u9fff]")


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, Settings]]:
    with server_process(settings) as (url, _proc):
        yield url, settings


async def labels_on_one_line(page: Any, where: str) -> None:
    measured = await page.eval_on_selector_all(LABELS, LINES)
    assert measured, where
    wrapped = [text for text, lines in measured if lines != 1]
    assert not wrapped, f"{where}: labels on more than one line: {wrapped}"


async def one_unit_each(page: Any, where: str) -> None:
    units = await page.eval_on_selector_all(".value .unit", "(els) => els.map((el) => el.textContent)")
    doubled = [u for u in units if DOUBLED.search(u) or len(u.split()) > 1]
    assert not doubled, f"{where}: units given twice: {doubled}"
    values = await page.eval_on_selector_all(".value", "(els) => els.map((el) => el.textContent)")
    assert not [v for v in values if re.search(r"(秒|分钟|小时)\s*(s|min|h)\b", v)], values


@pytest.mark.parametrize("width, height", [(1920, 1080), (1366, 768)])
async def test_labels_fit_units_once_and_the_clerks_day(server: tuple[str, Settings], browser: Any,
                                                        width: int, height: int) -> None:
    url, settings = server
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as api:
        for w, s in (("w1", "s01"), ("w2", "s02")):
            assert (await api.post(f"/api/v1/centers/{C}/windows/{w}/open", json={"staff_id": f"{C}-{s}"})).status_code == 200
        for _ in range(3):
            await api.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"})
        t = (await api.post(f"/api/v1/centers/{C}/windows/w1/call-next")).json()["ticket"]
        await api.post(f"/api/v1/tickets/{t['id']}/start")
        await api.post(f"/api/v1/tickets/{t['id']}/finish")
        await api.post(f"/api/v1/centers/{C}/windows/w2/pause", json={"reason": "午休 lunch"})
        second = (await api.post(f"/api/v1/centers/{C}/windows/w1/call-next")).json()["ticket"]
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
        try:
            await wait_recorded(pool, settings.redis_url, settings, C)
        finally:
            await pool.close()

        page, errors = await open_page(browser, f"{url}/dashboard?token={ADMIN_TOKEN}", width, height)
        await page.wait_for_selector(f'.tile[data-center="{C}"][data-waiting="1"]')
        await page.wait_for_timeout(1100)      # the clock's tick has rewritten the growing waits once
        await labels_on_one_line(page, f"district {width}")
        cut = await page.eval_on_selector_all(".tile-stats dt", "(els) => els.filter((el) => el.scrollWidth > el.clientWidth)"
                                              ".map((el) => el.textContent)")
        assert not cut, f"district {width}: tile labels cut short: {cut}"
        await one_unit_each(page, f"district {width}")
        await shot(page, f"dashboard-wording-district-{width}")

        await page.click(f'.tile[data-center="{C}"]')
        await page.wait_for_selector(f'.staff-table tr[data-staff="{C}-s01"]', timeout=20_000)
        row = page.locator(f'.staff-table tr[data-staff="{C}-s01"]')
        assert await row.get_attribute("data-served") == "1"
        paused = page.locator(f'.staff-table tr[data-staff="{C}-s02"] .reasons')
        assert "午休 lunch" in await paused.text_content()
        await page.wait_for_timeout(1100)
        await labels_on_one_line(page, f"center {width}")
        await one_unit_each(page, f"center {width}")
        await shot(page, f"dashboard-wording-center-{width}")

        # the ticket at a window leaves its card once it is done (a no-show here)
        await page.wait_for_selector(f'.window-card[data-window="w1"] .current[data-number="{second["number"]}"]')
        await api.post(f"/api/v1/tickets/{second['id']}/no-show")
        await page.wait_for_selector('.window-card[data-window="w1"] .current[data-number=""]', timeout=15_000)
        assert not errors, errors
