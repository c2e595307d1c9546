"""A service point's screen in Chromium, with the remote clerk on the staff console of the window
assigned to the point: the point's number and the clerk on duty appear; another point's resident,
called meanwhile by another remote window, never does, nor is listed on this clerk's console."""
from __future__ import annotations

from typing import Any

from tests.displays.conftest import CENTER, Server
from tests.support import AUTH

CLERK = f"{CENTER}-s02"


async def _issue_at(server: Server, point: str) -> dict[str, Any]:
    r = await server.http.post(f"/api/v1/centers/{CENTER}/tickets", headers=AUTH,
                               json={"matter": "hrss-001", "channel": "service_point", "service_point": point})
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_point_screen_shows_its_call_and_its_clerk_and_never_another_points(server: Server, open_page: Any) -> None:
    r = await server.http.post("/api/v1/tokens", headers=AUTH, json={
        "role": "device", "center": CENTER, "device_kind": "screen", "point": "sp1", "label": "sp1 screen"})
    assert r.status_code == 201, r.text
    screen = await open_page("point", f"{server.url}/point/{CENTER}-sp1?token={r.json()['token']}")
    staff = await open_page("staff", f"{server.url}/staff/{CENTER}/r1?token={await server.token('staff', 'r1', CLERK)}",
                            size="network")
    await screen.page.locator("#serving.closed").wait_for()         # nobody on duty yet
    await staff.page.click("#win-open")
    await screen.page.locator("#win-state.open").wait_for()
    await server.act("POST", f"/api/v1/centers/{CENTER}/windows/r2/open", {"staff_id": f"{CENTER}-s03"})

    other = await _issue_at(server, "sp3")
    mine = await _issue_at(server, "sp1")
    await screen.page.locator("#waiting:has-text('本服务点等候 1 人')").wait_for()   # (no eval: the page's CSP forbids it)
    await staff.page.locator(f"#waiting tr[data-ticket='{mine['id']}']").wait_for()
    assert await staff.page.locator(f"#waiting tr[data-ticket='{other['id']}']").count() == 0   # r2's point, not r1's
    await server.act("POST", f"/api/v1/centers/{CENTER}/windows/r2/call-next")   # sp3's resident, at r2
    await staff.page.click("#call-next")
    await screen.page.locator(f"#number:text-is('{mine['number']}')").wait_for()
    text = await screen.page.locator("body").inner_text()
    assert "远程1号窗口" in text and other["number"] not in text
    name = await screen.page.locator("#staff-name").inner_text()
    assert name.strip() and "暂无" not in name
    await screen.shot("-called")
    screen.assert_clean()
    staff.assert_clean()
