"""The pages in real headless Chromium against a real server process: kiosk → display, staff
console → display / window screen / tablet, a display that reconnects after missing calls, and the
resident's status page. Every page must load and run with no console error."""
from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis

from queue_server.engine.connection import redis_client
from queue_server.engine.keys import Keys
from tests.displays.conftest import CENTER, Server
from tests.support import AUTH

STAFF = f"{CENTER}-s01"


async def issue(server: Server, matter: str = "hrss-001") -> dict[str, Any]:
    r = await server.http.post(f"/api/v1/centers/{CENTER}/tickets", json={"matter": matter}, headers=AUTH)
    assert r.status_code == 201, r.text
    return r.json()


async def open_window(server: Server, window: str, staff: str) -> None:
    await server.act("POST", f"/api/v1/centers/{CENTER}/windows/{window}/open", {"staff_id": staff})


async def count_of(page: Any, queue: str) -> int:
    return int(await page.get_attribute(f'.queue-card[data-queue="{queue}"] .count', "data-count"))


async def announcements(page: Any) -> list[str]:
    return await page.evaluate("window.__announcements.slice()")


async def until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll a page expression from here: the pages' CSP forbids the eval that wait_for_function uses."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await page.evaluate(expression):
        assert loop.time() < deadline, f"timed out waiting for {expression}"
        await asyncio.sleep(0.05)


async def test_kiosk_ticket_appears_in_display_waiting_count(server: Server, open_page: Any) -> None:
    display = await open_page("display", f"{server.url}/display/{CENTER}?token={await server.token('display')}")
    await display.page.wait_for_selector('.queue-card[data-queue="comprehensive"] .count[data-count="0"]')

    kiosk = await open_page("kiosk", f"{server.url}/kiosk/{CENTER}?token={await server.token('kiosk')}")
    await kiosk.page.wait_for_selector('[data-matter="hrss-001"]')
    await kiosk.shot()
    await kiosk.page.fill("#search", "失业")
    assert await kiosk.page.locator('[data-matter="hrss-002"]').is_visible()
    assert await kiosk.page.locator('[data-matter="hrss-001"]').count() == 0
    await kiosk.page.fill("#search", "")
    await kiosk.page.click('[data-matter="hrss-001"]')
    await kiosk.page.click('[data-priority="priority"]')
    for digit in "1381234":
        await kiosk.page.click(f'#keypad [data-key="{digit}"]')
    await kiosk.page.click("#issue")
    await kiosk.page.wait_for_selector("#issue-error:not([hidden])")   # a 7-digit phone is refused here
    await kiosk.shot("-confirm")
    for digit in "5678":
        await kiosk.page.click(f'#keypad [data-key="{digit}"]')
    await kiosk.page.click("#issue")
    await kiosk.page.wait_for_selector("#view-ticket:not([hidden])")
    number = await kiosk.page.text_content("#t-number")
    ticket_id = await kiosk.page.get_attribute("#ticket", "data-ticket")
    assert number == "A001"
    qr_loaded = "document.querySelector('#t-qr').complete && document.querySelector('#t-qr').naturalWidth > 0"
    await until(kiosk.page, qr_loaded, 30)   # loads just after the ticket shows, again once its review link is made
    await kiosk.shot("-ticket")
    await kiosk.page.emulate_media(media="print")
    await kiosk.page.locator("#ticket").screenshot(path=str(kiosk_print_path()))

    await display.page.wait_for_selector('.queue-card[data-queue="comprehensive"] .count[data-count="1"]', timeout=15_000)
    await display.shot("-waiting")

    # The voice switch is remembered across a reload (a display restarts with the hall's choice).
    assert await display.page.get_attribute("#voice", "aria-pressed") == "true"
    await display.page.click("#voice")
    assert await display.page.get_attribute("#voice", "aria-pressed") == "false"
    await display.page.reload()
    await display.page.wait_for_selector('#voice[aria-pressed="false"]')
    await display.page.wait_for_selector('.queue-card[data-queue="comprehensive"] .count[data-count="1"]')

    stored = (await server.http.get(f"/api/v1/tickets/{ticket_id}")).json()
    assert stored["priority"] == "priority" and stored["channel"] == "kiosk"
    assert stored["phone_masked"] == "138****5678"

    await open_window(server, "r1", f"{CENTER}-s09")   # a point issues only while a remote window serving it is open
    point = await open_page("service_point", f"{server.url}/kiosk/{CENTER}?service_point=sp1&token={await server.token('kiosk')}")
    await point.page.wait_for_selector('[data-matter="hrss-001"]')
    await point.page.click('[data-matter="hrss-001"]')
    await point.page.click("#issue")
    await point.page.wait_for_selector("#view-ticket:not([hidden])")
    assert (await point.page.text_content("#t-number")).startswith("R")
    await point.shot()
    for p in (display, kiosk, point):
        p.assert_clean()


def kiosk_print_path():  # type: ignore[no-untyped-def]
    from tests.displays.conftest import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / "kiosk-print.png"


async def test_staff_call_reaches_display_screen_and_tablet(server: Server, open_page: Any) -> None:
    first = await issue(server)
    await issue(server, "hrss-004")
    display = await open_page("display", f"{server.url}/display/{CENTER}?token={await server.token('display')}")
    screen = await open_page("screen", f"{server.url}/screen/{CENTER}/w1?token={await server.token('screen', 'w1')}")
    tablet = await open_page("tablet", f"{server.url}/tablet/{CENTER}/w1?token={await server.token('tablet', 'w1')}")
    staff = await open_page("staff", f"{server.url}/staff/{CENTER}/w1?token={await server.token('staff', 'w1', STAFF)}")
    await staff.page.wait_for_selector(f'#waiting tr[data-ticket="{first["id"]}"]')
    await screen.page.wait_for_selector("#serving.closed")
    await screen.shot("-closed")

    await staff.page.click("#win-open")
    await staff.page.wait_for_selector("#win-state.open")
    await tablet.page.wait_for_selector("#staff-no >> text=JA01001")
    await tablet.shot()
    await screen.page.wait_for_selector("#staff-name:not(:empty)")

    await staff.page.click("#call-next")
    await asyncio.gather(
        display.page.wait_for_selector('#now-number:text-is("A001")', timeout=15_000),
        screen.page.wait_for_selector('#number:text-is("A001")', timeout=15_000),
        tablet.page.wait_for_selector('#window-name:has-text("1号窗口")', timeout=15_000),
        staff.page.wait_for_selector('#current [data-ticket]', timeout=15_000),
    )
    assert await announcements(display.page) == ["请A零零一号到1号窗口办理"]
    await until(display.page, "window.__spoken.length === 1", 20)
    await display.shot()
    await screen.shot()

    await staff.page.click("#win-close")   # a ticket is at the window: the API's refusal is shown as it is
    await staff.page.wait_for_selector("#error:not([hidden])")
    assert "still has ticket" in await staff.page.text_content("#error")
    await staff.shot()

    await staff.page.click('[data-action="recall"]')
    await until(display.page, "window.__announcements.length === 2")
    assert (await announcements(display.page))[1] == "再次呼叫，请A零零一号到1号窗口办理"
    await staff.page.click('[data-action="start"]')
    await screen.page.wait_for_selector("#caption >> text=正在办理")
    await staff.page.click('[data-action="finish"]')

    await tablet.page.wait_for_selector("#view-rate:not([hidden])", timeout=15_000)
    assert "A001" in await tablet.page.text_content("#rate-for")
    await tablet.page.click('.level[data-level="2"]')
    await tablet.page.wait_for_selector("#bad:not([hidden])")
    await tablet.page.click("#bad-submit")
    await tablet.page.wait_for_selector("#rate-error:not([hidden])")   # a bad rating needs a reason
    await tablet.page.click('[data-reason="attitude"]')
    await tablet.page.fill("#comment", "等候时间较长")
    await tablet.shot("-rate")
    async with tablet.page.expect_response("**/api/v1/reviews") as answer:
        await tablet.page.click("#bad-submit")
    response = await answer.value
    sent = response.request.post_data_json
    assert sent == {"ticket_id": first["id"], "level": 2, "reasons": ["attitude"], "comment": "等候时间较长", "channel": "tablet"}
    assert response.request.headers["authorization"].startswith("Bearer qs_")
    assert response.status == 201, await response.text()
    await tablet.page.wait_for_selector("#view-thanks:not([hidden])")
    await tablet.shot("-thanks")
    await tablet.page.wait_for_selector("#view-staff:not([hidden])", timeout=10000)

    await screen.page.wait_for_selector("#serving.idle")
    await staff.page.wait_for_selector("#current .none")
    for p in (display, screen, tablet):
        p.assert_clean()
    staff.assert_clean(expected=("status of 409",))


class Link:
    """The display's socket, routed through the test: ``down()`` closes it and refuses new ones (and
    tells the browser it is offline), ``up()`` lets the page reconnect."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.offline = asyncio.Event()
        self.routed: list[Any] = []

    async def route(self, ws: Any) -> None:
        if self.offline.is_set():
            await ws.close(code=1001, reason="offline")
            return
        self.routed.append(ws)
        ws.connect_to_server()

    async def install(self) -> None:
        await self.page.page.route_web_socket("**/ws/**", self.route)
        await self.page.page.evaluate("window.__live.drop('test: route the socket')")
        await until(self.page.page, "window.__live.state === 'online'")

    async def down(self) -> None:
        self.offline.set()
        await self.page.context.set_offline(True)
        for ws in self.routed:
            await ws.close(code=1001, reason="offline")
        await self.page.page.wait_for_selector("#offline:not([hidden])")

    async def up(self) -> None:
        self.offline.clear()
        await self.page.context.set_offline(False)
        await self.page.page.wait_for_selector("#offline", state="hidden", timeout=15000)


async def three_calls_while_offline(server: Server, open_page: Any, lose_history: bool) -> tuple[Any, list[dict]]:
    for n, window in enumerate(("w1", "w2", "w3"), start=2):
        await open_window(server, window, f"{CENTER}-s0{n}")
    tickets = [await issue(server) for _ in range(3)]
    display = await open_page("display", f"{server.url}/display/{CENTER}?token={await server.token('display')}")
    await display.page.wait_for_selector('.queue-card[data-queue="comprehensive"] .count[data-count="3"]')
    link = Link(display)
    await link.install()
    await link.down()
    for window in ("w1", "w2", "w3"):
        r = await server.http.post(f"/api/v1/centers/{CENTER}/windows/{window}/call-next", json={}, headers=AUTH)
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.01)   # distinct call times: a reset snapshot orders calls by them
    assert await announcements(display.page) == []
    if lose_history:   # as after a Redis that lost its data: the cursor's epoch is gone
        redis = redis_client(server.settings.redis_url)
        await redis.delete(Keys(server.settings.key_prefix).epoch(CENTER))
        await redis.aclose()
    await link.up()
    await until(display.page, "window.__announcements.length >= 3")
    await asyncio.sleep(0.5)   # anything doubled would arrive now
    return display, tickets


async def assert_three_calls_once(display: Any, tickets: list[dict]) -> None:
    assert await announcements(display.page) == [
        "请A零零一号到1号窗口办理", "请A零零二号到2号窗口办理", "请A零零三号到3号窗口办理"]
    assert await display.page.text_content("#now-number") == "A003"
    recent = await display.page.eval_on_selector_all("#recent li[data-ticket]", "els => els.map(e => e.dataset.ticket)")
    assert recent == [tickets[1]["id"], tickets[0]["id"]]
    assert await count_of(display.page, "comprehensive") == 0


async def test_display_offline_then_back_shows_and_announces_missed_calls_once(server: Server, open_page: Any) -> None:
    display, tickets = await three_calls_while_offline(server, open_page, lose_history=False)
    await assert_three_calls_once(display, tickets)
    assert await display.page.evaluate("window.__snapshots.map(s => s.reset)") == [False]
    await until(display.page, "window.__spoken.length === 3", 30)
    await display.shot("-reconnected")
    display.assert_clean()


async def test_display_whose_history_was_lost_still_announces_missed_calls(server: Server, open_page: Any) -> None:
    display, tickets = await three_calls_while_offline(server, open_page, lose_history=True)
    await assert_three_calls_once(display, tickets)
    assert await display.page.evaluate("window.__snapshots.map(s => s.reset)") == [False, True]
    display.assert_clean()


async def test_status_page_follows_ticket_to_called(server: Server, open_page: Any) -> None:
    ahead = await issue(server)
    mine = await issue(server)
    status = await open_page("status", f"{server.url}/status/{mine['id']}")
    await status.page.wait_for_selector('#number:text-is("A002")')
    await status.page.wait_for_selector("#ahead >> text=1 人")
    await status.page.wait_for_selector("#live:not(.off)")
    await status.shot()

    await open_window(server, "w3", f"{CENTER}-s03")
    await server.act("POST", f"/api/v1/centers/{CENTER}/windows/w3/call-next")
    await status.page.wait_for_selector("#ahead >> text=0 人")
    await server.act("POST", f"/api/v1/tickets/{ahead['id']}/no-show")
    await server.act("POST", f"/api/v1/centers/{CENTER}/windows/w3/call-next")
    await status.page.wait_for_selector("#called:not([hidden])")
    assert "3号窗口" in await status.page.text_content("#called-window")
    assert await status.page.get_attribute("#badge", "data-status") == "called"
    await status.shot("-called")
    status.assert_clean()


async def test_staff_console_out_of_order_pause_resume_transfer_and_window_states(server: Server, open_page: Any) -> None:
    first = await issue(server)
    second = await issue(server)
    staff = await open_page("staff", f"{server.url}/staff/{CENTER}/w1?token={await server.token('staff', 'w1', STAFF)}")
    await staff.page.click("#win-open")
    await staff.page.wait_for_selector("#win-state.open")

    await staff.page.click(f'[data-call="{second["id"]}"]')   # out of order: a reason is asked for
    await staff.page.fill("#reason-input", "老人行动不便")
    await staff.shot("-reason")
    await staff.page.click('#reason-form button[type="submit"]')
    await staff.page.wait_for_selector(f'#current [data-ticket="{second["id"]}"]')
    called = (await server.http.get(f"/api/v1/tickets/{second['id']}")).json()
    assert called["status"] == "called" and called["called_out_of_order"] == "老人行动不便"

    await staff.page.click('[data-action="pause"]')   # the resident fetches a missing document
    await staff.page.wait_for_selector(f'#paused li[data-ticket="{second["id"]}"]')
    await staff.page.click(f'#paused li[data-ticket="{second["id"]}"] button')
    await staff.page.wait_for_selector(f'#waiting tr[data-ticket="{second["id"]}"] .tag.here')

    await staff.page.click("#call-next")   # back at this window's own line: called first
    await staff.page.wait_for_selector(f'#current [data-ticket="{second["id"]}"]')
    await staff.page.click('[data-action="transfer"]')
    await staff.page.select_option("#transfer-to", "window:w2")
    await staff.page.fill("#transfer-reason", "需要另一窗口办理")
    await staff.page.click('#transfer-form button[type="submit"]')
    await staff.page.wait_for_selector("#current .none")
    moved = (await server.http.get(f"/api/v1/tickets/{second['id']}")).json()
    assert moved["status"] == "waiting" and moved.get("window") is None
    assert await staff.page.locator(f'#waiting tr[data-ticket="{second["id"]}"]').count() == 0
    await staff.page.wait_for_selector(f'#waiting tr[data-ticket="{first["id"]}"]')

    await staff.page.click("#win-pause")
    await staff.page.fill("#reason-input", "系统维护")
    await staff.page.click('#reason-form button[type="submit"]')
    await staff.page.wait_for_selector("#win-state.paused")
    assert await staff.page.is_disabled("#call-next")
    await staff.page.click("#win-close")
    await staff.page.wait_for_selector("#win-state.closed")
    staff.assert_clean()
