"""Log-in, the accounts admin page and device enrollment in Chromium against a real server: a clerk
at a 1366×768 monitor logs in (after a wrong password, said in both languages) to their window's
console, opens the window and logs out, a manager on a 1280×800 tablet to the dashboard; the admin page revokes a token and makes an
enrollment code, which a tablet (1280×800) and a kiosk (1080×1920) type to get their pages."""
from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from tests.displays.conftest import CENTER, SIZES, Page, Server
from tests.support import AUTH

PASSWORD = "a long enough password"


async def account(server: Server, **body: Any) -> None:
    r = await server.http.post("/api/v1/users", json={"display_name": "王芳", "password": PASSWORD, **body}, headers=AUTH)
    assert r.status_code == 201, r.text


async def fits(page: Page, size: str) -> None:
    width, height = await page.page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert width <= SIZES[size]["width"] and height <= SIZES[size]["height"], (page.name, width, height)


async def log_in(opened: Page, username: str, password: str = PASSWORD) -> None:
    await opened.page.fill("#username", username)
    await opened.page.fill("#password", password)
    await opened.page.click("#sign-in")


async def test_a_clerk_logs_in_to_their_console_and_a_manager_to_the_dashboard(server: Server, open_page: Any) -> None:
    await account(server, username="wang.fang", role="clerk", center=CENTER, window="w2", staff_id=f"{CENTER}-s02")
    await account(server, username="boss", role="manager", center=CENTER)
    clerk = await open_page("login", f"{server.url}/login", "clerk monitor")
    await fits(clerk, "clerk monitor")
    font = await clerk.page.evaluate("parseFloat(getComputedStyle(document.querySelector('#username')).fontSize)")
    assert font >= 18
    await log_in(clerk, "wang.fang", "not the password")
    await clerk.page.wait_for_selector("#error:not([hidden])")
    said = await clerk.page.locator("#error").inner_text()
    assert "用户名或密码错误" in said and "Wrong username or password" in said
    await clerk.shot("-wrong-password")
    await log_in(clerk, "wang.fang")
    await clerk.page.wait_for_url(f"**/staff/{CENTER}/w2", timeout=15_000)   # the token taken out of the address
    await clerk.page.wait_for_selector("#win-open")
    assert "token=" not in clerk.page.url
    await clerk.page.wait_for_selector("#logout")
    await clerk.page.click("#win-open")
    await clerk.page.wait_for_selector("#win-state.open, .state-pill.open", timeout=15_000)
    await fits(clerk, "clerk monitor")
    await clerk.shot("-console")
    login = await clerk.page.evaluate(f"localStorage.getItem('qs.token:/staff/{CENTER}/w2')")
    await clerk.page.click("#logout")
    await clerk.page.wait_for_url("**/login", timeout=15_000)
    ended = await server.http.get("/api/v1/me", headers={"Authorization": f"Bearer {login}"})
    assert login and ended.status_code == 401
    clerk.assert_clean(("401",))

    manager = await open_page("login", f"{server.url}/login", "tablet")
    await fits(manager, "tablet")
    await manager.shot("-tablet")
    await log_in(manager, "boss")
    await manager.page.wait_for_url("**/dashboard*", timeout=15_000)
    await manager.page.wait_for_selector("#live[data-state='online']", timeout=20_000)
    manager.assert_clean()


async def test_the_admin_page_revokes_and_enrolls_and_devices_enroll_by_code(server: Server, open_page: Any) -> None:
    made = {}
    for kind, window in (("tablet", "w2"), ("kiosk", None)):
        r = await server.http.post("/api/v1/devices", json={"center": CENTER, "kind": kind, "window": window,
                                                            "label": f"{kind} to enroll"}, headers=AUTH)
        made[kind] = r.json()
    doomed = (await server.http.post("/api/v1/tokens", json={"role": "staff", "center": CENTER, "window": "w3",
                                                             "label": "lost laptop"}, headers=AUTH)).json()["token"]
    manager = (await server.http.post("/api/v1/tokens", json={"role": "manager", "center": CENTER, "label": "主任"},
                                      headers=AUTH)).json()["token"]
    admin = await open_page("admin", f"{server.url}/admin?token={manager}", "clerk monitor")
    page = admin.page
    await page.wait_for_selector("#tokens tr")
    row = page.locator("#tokens tr", has_text="lost laptop")
    await row.locator("button.revoke").click()
    await expect(page.locator("#tokens tr", has_text="lost laptop")).to_have_count(0)
    assert "已撤销" in await page.locator("#notice").inner_text()
    assert (await server.http.get("/api/v1/me", headers={"Authorization": f"Bearer {doomed}"})).status_code == 401
    codes = {}
    for kind in ("tablet", "kiosk"):
        before = await page.locator("#secret").inner_text()
        await page.locator("#tokens tr", has_text=f"{kind} to enroll").locator("button", has_text="注册码").click()
        await expect(page.locator("#secret")).to_have_text(re.compile(r"^\d{8}$"))
        await expect(page.locator("#secret")).not_to_have_text(before)
        codes[kind] = await page.locator("#secret").inner_text()
    year = int((await page.locator("#tokens tr", has_text="tablet to enroll").locator(".when").inner_text())[:4])
    assert year >= 2026   # a device token lives a year: its expiry shows the year, in Shanghai time
    await fits(admin, "clerk monitor")
    await admin.shot("-accounts")
    admin.assert_clean()

    for kind, size, lands in (("tablet", "tablet", f"**/tablet/{CENTER}/w2"), ("kiosk", "kiosk", f"**/kiosk/{CENTER}")):
        device = await open_page("enroll", f"{server.url}/enroll", size)
        await fits(device, size)
        await device.shot(f"-{size}")
        await device.page.fill("#code", codes[kind])
        await device.page.click("#enroll")
        await device.page.wait_for_url(lands, timeout=15_000)
        assert "token=" not in device.page.url
        device.assert_clean()
    old = {"Authorization": f"Bearer {made['tablet']['token']}"}
    assert (await server.http.get("/api/v1/me", headers=old)).status_code == 401   # enrolling ended the first token
