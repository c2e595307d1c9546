"""The two halves of a service point's dual-screen all-in-one in Chromium, with the remote clerk on the
staff console: the assistant takes a ticket for a resident (the printable ticket with its QR shows),
the clerk calls it, the assistant's page shows it called at the clerk's window while the resident's
half shows the number, the assistant marks the resident present and the clerk's console shows 在场."""
from __future__ import annotations

from typing import Any

from tests.displays.conftest import CENTER, Server
from tests.support import AUTH

POINT = f"{CENTER}-sp1"    # demo: remote window r1 serves sp1 all day
CLERK = f"{CENTER}-s02"


async def _point_token(server: Server, **body: Any) -> str:
    r = await server.http.post("/api/v1/tokens", headers=AUTH, json={"center": CENTER, "point": "sp1", **body})
    assert r.status_code == 201, r.text
    return r.json()["token"]


async def test_the_assistant_takes_a_ticket_the_clerk_calls_it_and_sees_the_resident_present(
        server: Server, open_page: Any) -> None:
    staff = await open_page("staff", f"{server.url}/staff/{CENTER}/r1?token={await server.token('staff', 'r1', CLERK)}",
                            size="network")
    await staff.page.click("#win-open")
    await staff.page.locator("#win-state.open").wait_for()
    assistant = await open_page("assistant", f"{server.url}/assistant/{POINT}?token="
                                             f"{await _point_token(server, role='assistant', label='sp1 帮办员')}")
    resident = await open_page("point", f"{server.url}/point/{POINT}?token="
                                        f"{await _point_token(server, role='device', device_kind='screen')}")
    await assistant.page.locator(".clerk.open[data-window='r1']").wait_for()
    assert "远程1号窗口" in await assistant.page.locator("#clerks").inner_text()

    await assistant.page.click("[data-matter='hrss-001']")
    await assistant.page.click("#issue")
    await assistant.page.locator("#ticket-view").wait_for()
    ticket_id = await assistant.page.locator("#ticket").get_attribute("data-ticket")
    number = await assistant.page.locator("#t-number").inner_text()
    assert ticket_id and number
    await assistant.page.locator("#t-qr[src*='review=']").wait_for()    # the kiosk's printed QR, with its review link
    await assistant.shot("-ticket")
    await assistant.page.click("#ticket-done")
    row = assistant.page.locator(f"tr[data-ticket='{ticket_id}']")
    await row.locator("button.mark-present").wait_for()

    await staff.page.locator(f"#waiting tr[data-ticket='{ticket_id}']").wait_for()
    await staff.page.click("#call-next")
    await staff.page.locator(".current-body .number", has_text=number).wait_for()
    await assistant.page.locator(f"tr[data-ticket='{ticket_id}'][data-status='called']").wait_for()
    assert "远程1号窗口" in await row.inner_text()
    await resident.page.locator("#number", has_text=number).wait_for()
    assert await staff.page.locator(".presence").count() == 0

    await row.locator("button.mark-present").click()
    await row.locator(".tag.present").wait_for()
    await staff.page.locator(".presence .tag.present").wait_for()
    assert "在场" in await staff.page.locator(".current-body").inner_text()
    await assistant.shot("-present")
    await staff.shot("-present")
    for p in (assistant, staff, resident):
        p.assert_clean()


async def test_another_points_assistant_sees_nothing_of_this_point(server: Server, open_page: Any) -> None:
    r = await server.http.post("/api/v1/tokens", headers=AUTH,
                               json={"role": "assistant", "center": CENTER, "point": "sp2", "label": "sp2 帮办员"})
    page = await open_page("assistant", f"{server.url}/assistant/{POINT}?token={r.json()['token']}")
    await page.page.locator("#error").wait_for()
    await page.page.locator("#offline").wait_for()
    assert "sp2" in await page.page.locator("#error").inner_text()
    assert await page.page.locator("#queue tr[data-ticket]").count() == 0
    page.assert_clean(expected=("403",))
