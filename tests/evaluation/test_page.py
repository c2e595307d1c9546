"""The mobile web review page in Debian's Chromium against a real server process: a resident opens
the link from the SMS, picks a bad rating, is asked for a reason, submits, and cannot rate twice;
screenshots at phone, tablet and desktop sizes land in test-artifacts/screenshots."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from queue_server.config import Settings
from tests.browser import SHOTS
from queue_server.embedded import free_port
from tests.support import AUTH, server_process

C = "jingansi"



async def finished_ticket(http: httpx.AsyncClient, window: str = "w1") -> dict[str, Any]:
    staff = f"{C}-s0{window[1]}"
    assert (await http.post(f"/api/v1/centers/{C}/windows/{window}/open", json={"staff_id": staff})).status_code == 200
    t = (await http.post(f"/api/v1/centers/{C}/tickets", json={"matter": "mi-002", "phone": "13812345678"})).json()
    assert (await http.post(f"/api/v1/centers/{C}/windows/{window}/call-next")).status_code == 200
    assert (await http.post(f"/api/v1/tickets/{t['id']}/start")).status_code == 200
    assert (await http.post(f"/api/v1/tickets/{t['id']}/finish")).status_code == 200
    return t


async def test_a_resident_rates_on_the_phone(settings: Settings, browser: Any) -> None:
    port = free_port()
    with server_process(settings, port, extra_env={"QUEUE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}) as (url, _):
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as http:
            t = await finished_ticket(http)
            link = (await http.post("/api/v1/reviews/links", json={"ticket_id": t["id"]})).json()["url"]
            SHOTS.mkdir(parents=True, exist_ok=True)
            context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                                timezone_id="Asia/Shanghai", device_scale_factor=2, is_mobile=True,
                                                has_touch=True)
            page = await context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            await page.goto(link)
            await page.wait_for_selector("#form:not([hidden])")
            assert await page.text_content("#number") == t["number"]
            assert "1号窗口" in await page.text_content("#window")
            assert "13812345678" not in await page.content()
            await page.screenshot(path=str(SHOTS / "review-phone.png"), full_page=True)
            await page.click('.level[data-level="2"]')
            await page.wait_for_selector("#bad:not([hidden])")
            await page.click("#submit")
            await page.wait_for_selector("#error:not([hidden])")  # a bad rating needs a reason
            await page.click('[data-reason="attitude"]')
            await page.fill("#comment", "窗口人员不耐烦")
            await page.screenshot(path=str(SHOTS / "review-phone-bad.png"), full_page=True)
            async with page.expect_response("**/api/v1/reviews") as answer:
                await page.click("#submit")
            assert (await answer.value).status == 201
            await page.wait_for_selector("#thanks:not([hidden])")
            assert "1个工作日" in await page.text_content("#thanks")
            await page.screenshot(path=str(SHOTS / "review-phone-thanks.png"))

            await page.goto(link)  # the same link again: used
            await page.wait_for_selector("#problem:not([hidden])")
            assert "已使用" in await page.text_content("#problem-title")
            # the used link is no longer live: minting again makes another, and the ticket is already rated
            another = (await http.post("/api/v1/reviews/links", json={"ticket_id": t["id"]})).json()["url"]
            assert another != link
            await page.goto(another)
            await page.wait_for_selector("#form:not([hidden])")
            await page.click('.level[data-level="5"]')
            await page.click("#submit")
            await page.wait_for_selector("#problem:not([hidden])")
            await page.goto(url + "/review/" + "x" * 40)
            await page.wait_for_selector("#problem:not([hidden])")
            assert "无效" in await page.text_content("#problem-title")
            unexpected = [e for e in errors if "409" not in e and "404" not in e]
            assert not unexpected, errors

            review = (await http.get(f"/api/v1/rectifications?center={C}")).json()["cases"]
            assert len(review) == 1 and review[0]["ticket_id"] == t["id"]

            other = await finished_ticket(http, "w2")
            link = (await http.post("/api/v1/reviews/links", json={"ticket_id": other["id"]})).json()["url"]
            for name, size in (("tablet", {"width": 1280, "height": 800}), ("desktop", {"width": 1920, "height": 1080})):
                ctx = await browser.new_context(viewport=size, locale="zh-CN", timezone_id="Asia/Shanghai")
                p = await ctx.new_page()
                await p.goto(link)
                await p.wait_for_selector("#form:not([hidden])")
                await p.click('.level[data-level="4"]')
                await p.screenshot(path=str(SHOTS / f"review-{name}.png"))
                await ctx.close()
            await context.close()


async def test_review_page_writes_shanghai_time_in_any_timezone(settings: Settings, browser: Any) -> None:
    port = free_port()
    with server_process(settings, port, extra_env={"QUEUE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}) as (url, _):
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as http:
            t = await finished_ticket(http)
            made = (await http.post("/api/v1/reviews/links", json={"ticket_id": t["id"]})).json()
            info = (await http.get("/api/v1/reviews/links/" + made["url"].rsplit("/", 1)[1])).json()
            waiting = (await http.post(f"/api/v1/centers/{C}/tickets", json={"matter": "mi-002"})).json()
            early = (await http.post("/api/v1/reviews/links", json={"ticket_id": waiting["id"]})).json()["url"]
        shanghai = datetime.fromtimestamp(info["finished_at"] / 1000, ZoneInfo("Asia/Shanghai"))
        # A phone set to New York reads the center's time, written the Chinese way.
        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                            timezone_id="America/New_York", is_mobile=True, has_touch=True)
        page = await context.new_page()
        await page.goto(made["url"])
        await page.wait_for_selector("#form:not([hidden])")
        finished = " ".join((await page.text_content("#finished")).split())
        assert finished == (f"办结于 {shanghai.month}月{shanghai.day}日 {shanghai:%H:%M} "
                            f"Finished {shanghai:%b} {shanghai.day}, {shanghai:%H:%M}")
        await page.screenshot(path=str(SHOTS / "review-phone-new-york.png"))
        await page.goto(early)   # a link made before the service ended says so, not "already used"
        await page.wait_for_selector("#problem:not([hidden])")
        assert "尚未办结" in await page.text_content("#problem-title")
        await context.close()
