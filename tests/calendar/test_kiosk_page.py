"""The kiosk page outside opening hours, in Chromium at the lobby kiosk's 1080×1920: an issue that
meets the closing answers with 暂停取号 and the next opening, and a page loaded while closed says so
at once. The server process runs on the system clock, so the test closes today in the calendar file."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from queue_server.record.calendar import store_calendar_file
from tests.displays.conftest import CENTER, Server
from tests.support import AUTH


async def test_the_kiosk_shows_closed_with_the_next_opening(server: Server, open_page: Any, tmp_path: Path) -> None:
    kiosk = await open_page("kiosk", f"{server.url}/kiosk/{CENTER}?token={await server.token('kiosk')}")
    await kiosk.page.wait_for_selector('[data-matter="hrss-001"]')    # open around the clock (the tests' template)
    assert await kiosk.page.locator("#view-closed").is_hidden()

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    path = tmp_path / "calendar.toml"
    path.write_text(f'[[closed]]\ncenter = "{CENTER}"\nfrom = "{today}"\nreason = "消防演练 Fire drill"\n', encoding="utf-8")
    conn = await asyncpg.connect(server.settings.database_url)
    try:
        await store_calendar_file(conn, path)
    finally:
        await conn.close()
    r = await server.http.put(f"/api/v1/centers/{CENTER}/hours", headers=AUTH,
                              json={"weekdays": ["08:30", "16:30"], "weekends_holidays": ["08:30", "11:30"]})
    assert r.status_code == 200 and not r.json()["open"], r.text
    zh, en = r.json()["next_opening"].split(" / ")

    await kiosk.page.click('[data-matter="hrss-001"]')               # the page still thinks it is open
    await kiosk.page.click("#issue")
    await kiosk.page.wait_for_selector("#view-closed:not([hidden])")
    assert await kiosk.page.locator("#view-choose").is_hidden() and await kiosk.page.locator("#confirm").is_hidden()
    assert await kiosk.page.text_content(".closed-title") == "暂停取号 Closed"
    assert await kiosk.page.text_content("#closed-when") == f"开放时间：{zh} Opens {en}"
    assert await kiosk.page.text_content("#closed-reason") == "消防演练 Fire drill"
    await kiosk.shot("-closed")
    kiosk.assert_clean(expected=("409",))

    reloaded = await open_page("kiosk", f"{server.url}/kiosk/{CENTER}?token={await server.token('kiosk')}")
    await reloaded.page.wait_for_selector("#view-closed:not([hidden])")
    assert await reloaded.page.text_content("#closed-when") == f"开放时间：{zh} Opens {en}"
    box = await reloaded.page.locator(".closed-card").bounding_box()
    assert box is not None and box["width"] <= 1080 and box["y"] + box["height"] <= 1920   # on the screen, whole
    reloaded.assert_clean()
