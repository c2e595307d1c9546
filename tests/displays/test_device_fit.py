"""The pages on their real devices, in headless Chromium against a real server process: what a
person must see is inside the screen (tablet 1280×800, clerk monitor 1366×768) and labels stay on
one line."""
from __future__ import annotations

import re
from typing import Any

from tests.displays.conftest import CENTER, SIZES, Server
from tests.displays.test_pages import issue, open_window
from tests.support import AUTH

STAFF = f"{CENTER}-s01"


async def finish(server: Server, ticket: dict[str, Any], window: str = "w1") -> None:
    """Call the ticket at ``window`` (the only one waiting there) and finish it."""
    called = await server.act("POST", f"/api/v1/centers/{CENTER}/windows/{window}/call-next")
    assert called.json()["ticket"]["id"] == ticket["id"]
    await server.act("POST", f"/api/v1/tickets/{ticket['id']}/start")
    await server.act("POST", f"/api/v1/tickets/{ticket['id']}/finish")


async def box(page: Any, selector: str) -> dict[str, float]:
    b = await page.locator(selector).bounding_box()
    assert b is not None, f"{selector} is not rendered"
    return b


def inside(b: dict[str, float], size: dict[str, int]) -> bool:
    return b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= size["width"] and b["y"] + b["height"] <= size["height"]


async def line_counts(page: Any, selector: str) -> list[int]:
    """How many lines each matching element's text takes (1 = it does not wrap)."""
    return await page.eval_on_selector_all(selector, """els => els.map(e => {
        const range = document.createRange(); range.selectNodeContents(e);
        const rects = [...range.getClientRects()].filter(r => r.width > 0).sort((a, b) => a.top - b.top);
        let lines = 0, bottom = -Infinity;
        for (const r of rects) {
          if (r.top >= bottom - 2) { lines += 1; bottom = r.bottom; } else bottom = Math.max(bottom, r.bottom);
        }
        return lines; })""")


async def no_document_scroll(page: Any) -> bool:
    return await page.evaluate("document.documentElement.scrollHeight <= window.innerHeight"
                               " && document.documentElement.scrollWidth <= window.innerWidth")


async def test_tablet_bad_rating_error_is_on_screen_and_levels_fit_one_line(server: Server, open_page: Any) -> None:
    await open_window(server, "w1", STAFF)
    ticket = await issue(server)
    tablet = await open_page("tablet", f"{server.url}/tablet/{CENTER}/w1?token={await server.token('tablet', 'w1')}")
    await tablet.page.wait_for_selector("#staff-no >> text=JA01001")
    await finish(server, ticket)
    await tablet.page.wait_for_selector("#view-rate:not([hidden])")
    assert await line_counts(tablet.page, ".level .zh") == [1] * 5   # 非常不满意 on one line
    await tablet.page.click('.level[data-level="1"]')
    await tablet.page.wait_for_selector("#bad:not([hidden])")
    await tablet.page.click("#bad-submit")
    await tablet.page.wait_for_selector("#rate-error:not([hidden])")
    await tablet.shot("-rate-error")
    error = await box(tablet.page, "#rate-error")
    assert inside(error, SIZES["tablet"]), f"the reason error is off-screen at {error}"
    assert "请至少选择一个原因" in await tablet.page.text_content("#rate-error")
    for selector in ("#bad-submit", "#bad-back", '[data-reason="other"]', "#comment"):
        assert inside(await box(tablet.page, selector), SIZES["tablet"]), selector
    assert await no_document_scroll(tablet.page)
    assert await line_counts(tablet.page, ".level .zh") == [1] * 5
    tablet.assert_clean()


async def staff_console_fits(server: Server, open_page: Any, size: dict[str, int], name: str) -> None:
    await issue(server, "hrss-004")
    for _ in range(11):
        await issue(server)
    staff = await open_page(name, f"{server.url}/staff/{CENTER}/w1?token={await server.token('staff', 'w1', STAFF)}",
                            size="staff")
    await staff.page.set_viewport_size(size)
    await staff.page.click("#win-open")
    await staff.page.wait_for_selector("#win-state.open")
    await staff.page.wait_for_selector("#waiting tr[data-ticket] >> nth=11")
    await staff.shot()
    assert await no_document_scroll(staff.page), "the console scrolls: part of it is off-screen"
    for selector in ("#call-next", ".topbar", "#win-close", '[data-action="pause"]'):
        assert inside(await box(staff.page, selector), size), selector
    waited = staff.page.locator("#waiting tr[data-ticket] td.waited")
    assert re.fullmatch(r"\d+ 分钟 \d+ min", (await waited.first.text_content()).strip())
    assert set(await line_counts(staff.page, "#waiting td.waited .zh")) == {1}
    assert set(await line_counts(staff.page, "#waiting td.waited")) == {1}
    await staff.page.click("#call-next")
    await staff.page.wait_for_selector("#current [data-ticket]")
    await staff.shot("-called")
    assert "null" not in await staff.page.inner_text("#current")   # no absent part written out as text
    assert await no_document_scroll(staff.page)
    assert inside(await box(staff.page, '[data-action="finish"]'), size)
    staff.assert_clean()


async def test_staff_console_fits_a_1366x768_clerk_monitor(server: Server, open_page: Any) -> None:
    await staff_console_fits(server, open_page, {"width": 1366, "height": 768}, "staff-1366")


async def test_staff_console_still_fits_1920x1080(server: Server, open_page: Any) -> None:
    await staff_console_fits(server, open_page, SIZES["staff"], "staff-1920")


async def test_the_assistant_page_fits_a_1366x768_all_in_one_with_a_long_queue(server: Server, open_page: Any) -> None:
    """Take ticket, the queue's head and the printed ticket's buttons stay on screen; the page never scrolls."""
    await server.act("POST", f"/api/v1/centers/{CENTER}/windows/r1/open", {"staff_id": STAFF})
    token = (await server.http.post("/api/v1/tokens", json={"role": "assistant", "center": CENTER, "point": "sp1"},
                                    headers=AUTH)).json()["token"]
    for _ in range(12):
        await server.act("POST", f"/api/v1/centers/{CENTER}/tickets",
                         {"matter": "hrss-001", "channel": "service_point", "service_point": "sp1"})
    size = SIZES["network"]
    page = await open_page("assistant", f"{server.url}/assistant/{CENTER}-sp1?token={token}", size="network")
    await page.page.locator("#queue tr[data-ticket] >> nth=11").wait_for()
    await page.page.click("[data-matter='hrss-001']")
    for selector in ("#issue", "#phone", ".queue h2", "#clerks"):
        assert inside(await box(page.page, selector), size), selector
    assert await no_document_scroll(page.page)
    await page.page.click("#issue")
    await page.page.locator("#ticket-view").wait_for()
    for selector in ("#t-number", "#t-qr", "#print", "#ticket-done"):
        assert inside(await box(page.page, selector), size), selector
    await page.shot("-1366")
    page.assert_clean()
