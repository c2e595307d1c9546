"""Pages show the center's wall clock (Asia/Shanghai) whatever timezone their device is set to:
the hall display's clock and the times of calls, the staff console's call time and the printed
ticket's issue time, each checked in a Chromium set to New York."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.displays.conftest import CENTER, SIZES, Server
from tests.displays.test_device_fit import STAFF
from tests.displays.test_pages import until

SHANGHAI = ZoneInfo("Asia/Shanghai")


def wall(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI)


async def new_york_page(browser: Any, size: str, url: str) -> Any:
    context = await browser.new_context(viewport=SIZES[size], locale="zh-CN", timezone_id="America/New_York")
    page = await context.new_page()
    await page.goto(url)
    return page


async def test_pages_read_shanghai_time_on_a_device_set_to_new_york(server: Server, browser: Any) -> None:
    kiosk = await new_york_page(browser, "kiosk", f"{server.url}/kiosk/{CENTER}?token={await server.token('kiosk')}")
    await kiosk.click('[data-matter="hrss-001"]')
    await kiosk.click("#issue")
    await kiosk.wait_for_selector("#view-ticket:not([hidden])")
    ticket_id = await kiosk.get_attribute("#ticket", "data-ticket")
    issued = wall((await server.http.get(f"/api/v1/tickets/{ticket_id}")).json()["issued_at"])
    assert await kiosk.text_content("#t-time") == f"{issued:%m-%d %H:%M}"

    display = await new_york_page(browser, "display", f"{server.url}/display/{CENTER}?token={await server.token('display')}")
    staff = await new_york_page(browser, "staff", f"{server.url}/staff/{CENTER}/w1?token={await server.token('staff', 'w1', STAFF)}")
    await staff.click("#win-open")
    await staff.wait_for_selector("#win-state.open")
    await staff.click("#call-next")
    await staff.wait_for_selector("#current [data-ticket]")
    called = wall((await server.http.get(f"/api/v1/tickets/{ticket_id}")).json()["called_at"])
    assert f"叫号 {called:%H:%M}" in await staff.text_content("#current .meta")

    await until(display, "/^\\d\\d:\\d\\d:\\d\\d$/.test(document.querySelector('#clock-time').textContent)")
    before = datetime.now(SHANGHAI) - timedelta(seconds=2)   # the clock ticks once a second
    shown = (await display.text_content("#clock-time"))[:5], await display.text_content("#clock-date .zh")
    after = datetime.now(SHANGHAI)
    assert shown in {(f"{t:%H:%M}", f"{t.year}年{t.month}月{t.day}日 星期{'一二三四五六日'[t.weekday()]}")
                     for t in (before, after)}
    for page in (kiosk, display, staff):
        await page.context.close()
