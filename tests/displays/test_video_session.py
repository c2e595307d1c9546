"""The video session in real Chromium: the staff console of a remote window and the screen of the
called ticket's service point set up a peer connection (fake camera and microphone) that reaches
`connected` with the other side's picture on both; finishing the ticket ends it on both; the screen
of another point opens no session at all. Without a camera the clerk is told so, still sees and
hears the resident, chats, and serves the ticket to the end."""
from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.browser import ARGS, chromium_or_skip
from tests.displays.conftest import CENTER, SIZES, Page, Server, new_page
from tests.displays.test_device_fit import box, inside, no_document_scroll
from tests.support import AUTH

CLERK = f"{CENTER}-s02"
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
async def media_browser() -> AsyncIterator[Any]:
    """Chromium with a fake camera and microphone it may use without asking."""
    from playwright.async_api import async_playwright

    executable = chromium_or_skip()
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=executable, args=ARGS + FAKE_MEDIA, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def open_in() -> AsyncIterator[Any]:
    """``open_page`` of tests/displays/conftest.py, in the browser the test names."""
    contexts: list[Any] = []

    async def opener(browser: Any, name: str, url: str, size: str) -> Page:
        return await new_page(browser, contexts, name, url, size)

    yield opener
    for c in contexts:
        await c.close()


async def _point_token(server: Server, point: str) -> str:
    r = await server.http.post("/api/v1/tokens", headers=AUTH, json={
        "role": "device", "center": CENTER, "device_kind": "screen", "point": point, "label": f"{point} screen"})
    assert r.status_code == 201, r.text
    return r.json()["token"]


async def _issue_at(server: Server, point: str, matter: str = "hrss-001") -> dict[str, Any]:
    r = await server.http.post(f"/api/v1/centers/{CENTER}/tickets", headers=AUTH,
                               json={"matter": matter, "channel": "service_point", "service_point": point})
    assert r.status_code == 201, r.text
    return r.json()


async def _call_until_connected(staff: Page, point: Page, ticket: dict[str, Any]) -> float:
    """Call the ticket from the console; seconds until both sides are connected with the other's picture."""
    await staff.page.locator(f"#waiting tr[data-ticket='{ticket['id']}']").wait_for()
    started = time.monotonic()
    await staff.page.click("#call-next")
    for side in (staff, point):
        await side.page.locator("#remote-session[data-state='connected'][data-remote-video='1']").wait_for(timeout=20_000)
    took = time.monotonic() - started
    for side in (staff, point):   # the picture is decoded, not only negotiated
        await side.page.locator("#remote-session[data-remote-frames]:not([data-remote-frames=''])").wait_for(timeout=10_000)
    return took


async def _finish(staff: Page) -> None:
    await staff.page.click("[data-action='start']:not([disabled])")
    await staff.page.click("[data-action='finish']:not([disabled])")


async def test_a_call_connects_the_console_and_the_point_and_the_finish_ends_it(server: Server, media_browser: Any, open_in: Any) -> None:
    staff = await open_in(media_browser, "video-staff",
                        f"{server.url}/staff/{CENTER}/r1?token={await server.token('staff', 'r1', CLERK)}", "staff")
    point = await open_in(media_browser, "video-point", f"{server.url}/point/{CENTER}-sp1?token={await _point_token(server, 'sp1')}",
                        "point")
    sockets: list[str] = []
    other = await open_in(media_browser, "video-other-point", "about:blank", "point")
    other.page.on("websocket", lambda ws: sockets.append(ws.url))
    await other.page.goto(f"{server.url}/point/{CENTER}-sp3?token={await _point_token(server, 'sp3')}")

    await staff.page.click("#win-open")
    await staff.page.locator("#win-state.open").wait_for()
    await server.act("POST", f"/api/v1/centers/{CENTER}/windows/r2/open", {"staff_id": f"{CENTER}-s03"})
    ticket = await _issue_at(server, "sp1")
    took = await _call_until_connected(staff, point, ticket)
    print(f"\ncall to connected (both sides, remote video on both): {took * 1000:.0f} ms")
    assert await point.page.locator("#rtc-media").is_hidden()      # both have a (fake) camera and microphone
    await staff.page.fill("#rtc-chat-input", "请把身份证放在摄像头前 Please show your ID card")
    await staff.page.click("#rtc-chat button")
    await point.page.locator("#rtc-chat-log li.theirs:has-text('请把身份证放在摄像头前')").wait_for()
    await staff.shot("-connected")
    await point.shot("-connected")
    for side, size, parts in ((staff, "staff", ("#rtc-remote", "#rtc-chat-input", "#rtc-hangup", "[data-action='finish']")),
                              (point, "point", ("#rtc-remote", "#rtc-chat-input", "#number", "#staff-name"))):
        assert await no_document_scroll(side.page), f"{side.name} scrolls: part of it is off-screen"
        for selector in parts:
            assert inside(await box(side.page, selector), SIZES[size]), (side.name, selector)

    await _finish(staff)
    for side in (staff, point):
        await side.page.locator("#remote-session[data-state='closed']").wait_for(state="attached")
    assert "已办结" in await point.page.locator("#rtc-status").inner_text()   # told by the server why
    await other.page.locator("#remote-session").wait_for(state="hidden")
    assert await other.page.locator("#remote-session").get_attribute("data-state") == "idle"
    assert sockets and not [u for u in sockets if "/ws/sessions/" in u]    # another point's screen: no signaling
    for p in (staff, point, other):
        p.assert_clean()


async def test_a_point_that_joins_after_the_clerks_camera_was_found_missing_is_told(
        server: Server, browser: Any, media_browser: Any, open_in: Any) -> None:
    """The window says what it can send once its media opens, to whoever is in the session then; a
    point's page opened after that (a restarted all-in-one) is told when it joins."""
    staff = await open_in(browser, "video-staff-no-camera-first",
                        f"{server.url}/staff/{CENTER}/r1?token={await server.token('staff', 'r1', CLERK)}", "network")
    await staff.page.click("#win-open")
    await staff.page.locator("#win-state.open").wait_for()
    ticket = await _issue_at(server, "sp1")
    await staff.page.locator(f"#waiting tr[data-ticket='{ticket['id']}']").wait_for()
    await staff.page.click("#call-next")
    await staff.page.locator("#rtc-media:has-text('摄像头')").wait_for()
    point = await open_in(media_browser, "video-point-joins-late",
                        f"{server.url}/point/{CENTER}-sp1?token={await _point_token(server, 'sp1')}", "point")
    await point.page.locator("#rtc-peer-media:has-text('对方没有可用的')").wait_for(timeout=20_000)
    await point.page.locator("#remote-session[data-state='connected']").wait_for(timeout=20_000)
    await _finish(staff)
    staff.assert_clean()
    point.assert_clean()


async def test_without_a_camera_the_clerk_is_told_and_still_serves(server: Server, browser: Any, media_browser: Any,
                                                             open_in: Any) -> None:
    staff = await open_in(browser, "video-staff-no-camera",       # plain Chromium: no camera, no microphone
                        f"{server.url}/staff/{CENTER}/r1?token={await server.token('staff', 'r1', CLERK)}", "network")
    point = await open_in(media_browser, "video-point-to-no-camera",
                        f"{server.url}/point/{CENTER}-sp1?token={await _point_token(server, 'sp1')}", "point")
    await staff.page.click("#win-open")
    await staff.page.locator("#win-state.open").wait_for()
    ticket = await _issue_at(server, "sp1", "tu-001")    # a matter with a checklist: the materials panel shows too
    await staff.page.locator(f"#waiting tr[data-ticket='{ticket['id']}']").wait_for()
    await staff.page.click("#call-next")
    await staff.page.locator("#materials:not([hidden])").wait_for()
    await staff.page.locator("#rtc-media:has-text('摄像头')").wait_for()
    await point.page.locator("#rtc-peer-media:has-text('对方没有可用的')").wait_for()
    # receive-only: the clerk still sees the resident
    await staff.page.locator("#remote-session[data-state='connected'][data-remote-video='1']").wait_for(timeout=20_000)
    await point.page.locator("#remote-session[data-state='connected']").wait_for(timeout=20_000)
    await point.page.fill("#rtc-chat-input", "我听不到您 I cannot hear you")
    await point.page.click("#rtc-chat button")
    await staff.page.locator("#rtc-chat-log li.theirs:has-text('我听不到您')").wait_for()
    await staff.shot("-1366")
    assert await no_document_scroll(staff.page)
    for selector in ("#rtc-remote", "#rtc-media", "#rtc-chat-input", "#rtc-hangup", "#materials", "[data-action='start']",
                     "[data-action='finish']", "[data-action='pause']"):
        assert inside(await box(staff.page, selector), SIZES["network"]), selector
    await _finish(staff)
    await staff.page.locator("#current .none").wait_for()
    await point.page.locator("#remote-session[data-state='closed']").wait_for(state="attached")
    staff.assert_clean()
    point.assert_clean()
