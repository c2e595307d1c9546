"""The inspector's tablet page (1280×800) in Chromium against a real server: the due list, a device's
checklist answered item by item with one failure, submitted; the failure is recorded and the device
stays due until inspected again; a second inspector's stale submission is refused
in the server's words."""
from __future__ import annotations

from typing import Any

from tests.displays.conftest import CENTER, SIZES, Server

TABLET = SIZES["tablet"]
ADMIN = {"Authorization": "Bearer test-admin-token"}


async def test_an_inspector_walks_the_due_list_and_records_a_failure(server: Server, open_page: Any) -> None:
    r = await server.http.post("/api/v1/devices", json={"center": CENTER, "kind": "hall_display", "label": "大厅东屏"},
                               headers=ADMIN)
    device = r.json()["id"]
    r = await server.http.post("/api/v1/tokens", json={"role": "staff", "center": CENTER, "label": "巡检员"}, headers=ADMIN)
    token = r.json()["token"]
    opened = await open_page("inspections", f"{server.url}/inspections/{CENTER}?token={token}", size="tablet")
    stale = await open_page("inspections", f"{server.url}/inspections/{CENTER}?token={token}", size="tablet")
    page = opened.page
    row = page.locator(f"li[data-device='{device}'] button")
    await row.wait_for()
    assert "大厅叫号屏" in await row.inner_text() and "Due" in await row.inner_text()
    await row.click()
    items = page.locator("#items li")
    assert await items.count() == 3
    assert "语音清晰" in await items.nth(1).inner_text() and "audio audible" in await items.nth(1).inner_text()
    assert await page.locator("#submit").is_disabled()          # every item answered first
    await page.click("li[data-item='shows_calls'] .pass")
    await page.click("li[data-item='audio'] .fail")
    await page.click("li[data-item='network'] .pass")
    await page.fill("#note", "左侧喇叭无声")
    body = await page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert body[0] <= TABLET["width"] and body[1] <= TABLET["height"]
    b = await page.locator("#submit").bounding_box()
    assert b is not None and b["y"] + b["height"] <= TABLET["height"] and b["height"] >= 44
    font = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('#items li')).fontSize)")
    assert font >= 18
    await opened.shot("-checklist")
    await page.click("#submit")
    await page.locator("#recorded").wait_for()
    assert "故障" in await page.locator("#recorded").inner_text()
    await page.get_by_text("Last failed").wait_for()                # failed: still due, checked again once repaired
    history = (await server.http.get(f"/api/v1/devices/{device}/inspections", headers=ADMIN)).json()["inspections"]
    assert len(history) == 1 and not history[0]["passed"] and history[0]["note"] == "左侧喇叭无声"
    assert [i["item"] for i in history[0]["items"] if not i["passed"]] == ["audio"]

    await row.click()                                               # repaired: inspected again, all pass
    for item in ("shows_calls", "audio", "network"):
        await page.click(f"li[data-item='{item}'] .pass")
    await page.click("#submit")
    await page.locator(f"li[data-device='{device}']").wait_for(state="detached")
    assert "正常" in await page.locator("#recorded").inner_text()

    other = stale.page                                              # opened before the first submitted
    await other.click(f"li[data-device='{device}'] button")
    for item in ("shows_calls", "audio", "network"):
        await other.click(f"li[data-item='{item}'] .pass")
    await other.click("#submit")
    await other.locator("#error").wait_for()
    assert "Already recorded" in await other.locator("#error").inner_text()
    await opened.shot("-recorded")
    opened.assert_clean()
    stale.assert_clean(("409",))
