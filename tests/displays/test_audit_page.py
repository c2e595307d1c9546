"""The audit log page on an auditor's 1366×768 monitor, in headless Chromium against a real server:
the staff's actions appear in Shanghai time with their outcome, a filter narrows them, the CSV
downloads, and nothing spills off the screen sideways."""
from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from playwright.async_api import expect

from queue_server.record.people import create_token
from tests.displays.conftest import CENTER, Server

OPEN = "POST /api/v1/centers/{center}/windows/{window}/open"


async def test_the_audit_page_lists_filters_and_exports(server: Server, open_page: Any) -> None:
    clerk = await server.token("staff", "w1", f"{CENTER}-s01")
    headers = {"Authorization": f"Bearer {clerk}", "User-Agent": "clerk-console/1.0"}
    assert (await server.http.post(f"/api/v1/centers/{CENTER}/windows/w1/open", json={}, headers=headers)).status_code == 200
    assert (await server.http.post(f"/api/v1/centers/{CENTER}/windows/w2/pause", json={}, headers=headers)).status_code == 403
    pool = await asyncpg.create_pool(server.settings.database_url, min_size=1, max_size=1)
    try:
        auditor = await create_token(pool, "auditor", CENTER, label="center auditor")
        for _ in range(50):   # the server's writer flushes every 0.25 s
            if await pool.fetchval("SELECT count(*) FROM audit_log WHERE actor = $1", f"{CENTER}-s01") >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await pool.close()

    audit = await open_page("audit", f"{server.url}/audit?token={auditor}")
    page = audit.page
    await page.wait_for_selector('body[data-loaded="true"] #rows tr')
    text = await page.text_content("#rows")
    assert OPEN in text and f"{CENTER}-s01" in text and "clerk-console/1.0" in text
    assert "成功 Done 200" in text and "拒绝 Refused 403" in text
    when = await page.text_content("#rows tr:last-child td.when")
    assert when and when[:4].isdigit() and len(when) == len("2026-11-30 09:30:00")
    await audit.shot()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    await page.fill('input[name="action"]', "pause")
    await page.click('#filters button[type="submit"]')
    await expect(page.locator("#rows tr")).to_have_count(1)
    assert "pause" in await page.text_content("#rows") and OPEN not in await page.text_content("#rows")

    async with page.expect_download() as download:
        await page.click("#export")
    saved = await (await download.value).path()
    with open(saved, encoding="utf-8-sig") as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("time (Asia/Shanghai)") and len(lines) == 2 and "pause" in lines[1]
    audit.assert_clean(("403",))
