"""The service point admin page at a manager's desk (1366×768), in Chromium against a real server:
it lists the points, creates one (planned), changes a status with a reason, and shows a refusal in
the server's words."""
from __future__ import annotations

from typing import Any

from tests.displays.conftest import CENTER, SIZES, Server

DESK = SIZES["network"]


async def test_a_manager_creates_a_point_and_moves_it_through_its_statuses(server: Server, open_page: Any) -> None:
    r = await server.http.post("/api/v1/tokens", json={"role": "manager", "center": CENTER, "label": "站长"},
                               headers={"Authorization": "Bearer test-admin-token"})
    token = r.json()["token"]
    admin = await open_page("network", f"{server.url}/network/{CENTER}?token={token}")
    page = admin.page
    await page.wait_for_selector("tr[data-point='sp4']")
    assert await page.locator("tr[data-point]").count() == 4
    assert "r1 00:00–24:00" in await page.locator("tr[data-point='sp1'] td").nth(2).inner_text()

    await page.click("#new-point")
    await page.fill("input[name=code]", "xk_park")
    await page.select_option("#kind", "park")
    await page.fill("input[name=name_zh]", "新康公园")
    await page.fill("input[name=name_en]", "Xinkang Park")
    await page.fill("input[name=address]", "上海市静安区新康路1号")
    await page.fill("input[name=lat]", "31.2304")
    await page.fill("input[name=lng]", "121.4491")
    await page.click("#create-form button[type=submit]")
    row = page.locator("tr[data-point='xk_park']")
    await row.wait_for()
    assert "筹建中" in await row.inner_text() and "Planned" in await row.inner_text()

    await row.locator("select").select_option("active")
    await row.locator("input").fill("设备到位")
    await row.locator("button").click()
    await page.locator("tr[data-point='xk_park'] .status-pill.active").wait_for()
    assert "设备到位" in await page.locator("tr[data-point='xk_park']").inner_text()
    assert "manager:站长" in await page.locator("tr[data-point='xk_park']").inner_text()

    row = page.locator("tr[data-point='xk_park']")
    await row.locator("select").select_option("closed")
    await row.locator("button").click()                       # no reason: the page asks for one
    assert "原因" in await page.locator("#error").inner_text()
    await row.locator("input").fill("撤点")
    await row.locator("button").click()
    await page.locator("tr[data-point='xk_park'] .status-pill.closed").wait_for()
    body = await page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert body[0] <= DESK["width"] and body[1] <= DESK["height"]
    for sel in ["#new-point", "tr[data-point='sp1'] .change button", "tr[data-point='sp4'] .status-pill"]:
        b = await page.locator(sel).bounding_box()
        assert b is not None and b["x"] + b["width"] <= DESK["width"] and b["y"] + b["height"] <= DESK["height"], sel
    font = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('.points-table td')).fontSize)")
    assert font >= 18
    await admin.shot("-network-admin")
    admin.assert_clean(("400", "409", "422"))
